"""Synthetic resumes for the HR path, anchored in real O*NET occupations.

No open dataset of real resumes exists (a resume is personal data), so the course generates them:
deterministically from a seed, from the duty statements of real O*NET occupations, and labelled as
synthetic in the data (the `synthetic` column) and in the text (its first line). Names are invented
from syllables and marked "(fictional)"; e-mail addresses use the reserved `example.org` domain and
phone numbers the 555-01xx range set aside for fiction. Nothing here describes a real person.

What the generator builds in, on purpose, so the chapters have something to find:
- `qualified` (the ground truth a screen is measured against) depends only on which must-have duties
  a candidate has, never on `group` or `age_band`;
- evidence of a duty is written either in the duty's own words or, for the default occupations, in
  a paraphrase that shares few of them (keyword screens miss those);
- an absent duty is sometimes mentioned as something the candidate is "keen to learn" (keyword screens
  count those);
- career breaks are more common in group B and years of experience track age band. These are design
  choices that let a bias audit find proxies; they are not measurements of any real population.
"""

from __future__ import annotations

import random
import re
from typing import NamedTuple

import pandas as pd

SYNTHETIC_MARK = "SYNTHETIC RESUME"
# Software Developers, Registered Nurses, Payroll and Timekeeping Clerks, Computer User Support Specialists.
DEFAULT_CODES = ("15-1252.00", "29-1141.00", "43-3051.00", "15-1232.00")
GROUPS = ("A", "B")
AGE_BANDS = ("under 40", "40 and over")

# Scope notes in O*NET descriptions say who is in or out of the occupation; they are not duties.
_SCOPE = re.compile(r"^(Includes|Excludes)\b")
_SENTENCE = re.compile(r"(?<=\.)\s+(?=[A-Z])")


class Duty(NamedTuple):
    text: str  # the statement, as a sentence ("May" removed from optional duties)
    must_have: bool  # False for duties O*NET introduces with "May" (not every worker does them)


def duties(description: str) -> list[Duty]:
    """The duty statements of an O*NET description, each marked must-have or nice-to-have.

    Sentences are split at a full stop followed by a capital letter; scope notes ("Includes ...",
    "Excludes ...") are dropped; a sentence starting "May" is a nice-to-have, the others are must-haves.
    """
    out = []
    for sentence in _SENTENCE.split(description.strip()):
        sentence = sentence.strip()
        if not sentence or _SCOPE.match(sentence):
            continue
        if sentence.startswith("May "):
            rest = sentence[4:]
            out.append(Duty(rest[:1].upper() + rest[1:], False))
        else:
            out.append(Duty(sentence, True))
    return out


# Evidence that shares few words with the duty it shows (written for this kit; keyed by code and the
# duty's position in `duties(description)`). Other occupations get evidence in the duty's own words only.
PARAPHRASES: dict[tuple[str, int], str] = {
    ("15-1252.00", 0): "Built three internal web applications from the first sketch to release.",
    ("15-1252.00", 1): "Sat with the people who would use each tool to find out what they needed, then turned that into working code.",
    ("15-1252.00", 2): "Kept an ageing billing system running and added the features its users asked for.",
    ("15-1252.00", 3): "Worked alongside the electronics team so that the firmware and the desktop tools could talk to each other.",
    ("15-1252.00", 4): "Looked after the team's PostgreSQL tables and their backups.",
    ("29-1141.00", 0): "Checked each patient on admission, wrote the plan for their care and kept their charts up to date.",
    ("29-1141.00", 1): "Cared for people recovering from surgery on a busy ward.",
    ("29-1141.00", 2): "Taught patients how to look after their condition at home.",
    ("29-1141.00", 3): "Holds a current licence to practise as a nurse.",
    ("43-3051.00", 0): "Collected timesheets every fortnight and entered the hours for 300 staff.",
    ("43-3051.00", 1): "Worked out overtime and sales bonuses for each pay period.",
    ("43-3051.00", 2): "Calculated take-home pay after tax and pension contributions.",
    ("15-1232.00", 0): "Was the first person colleagues called when their laptops misbehaved.",
    ("15-1232.00", 1): "Fixed login, printer and e-mail faults by phone and at people's desks.",
    ("15-1232.00", 2): "Showed new starters how to set up their mail, printers and shared drives.",
}

_GIVEN = (["Zel", "Quo", "Vyr", "Ix", "Thal", "Orn", "Pryx", "Dax", "Fen", "Jov", "Kyl", "Lum", "Mirr", "Nev",
           "Pax", "Ryn", "Sol", "Tav", "Wyx", "Yzo"],
          ["vara", "rinth", "ekko", "anix", "obel", "ixa", "umba", "orrin", "athiel", "ozzy"])
_FAMILY = (["Quor", "Vex", "Blen", "Strov", "Imm", "Kelv", "Marr", "Pryd", "Tosk", "Yarr", "Zann", "Drel"],
           ["lish", "wickett", "androve", "ovy", "athorn", "enby", "ozzle", "umble", "arrowby", "ixley"])
_EDUCATION = ["Secondary school diploma", "Vocational certificate", "Associate degree", "Bachelor's degree",
              "Master's degree"]
_BREAK_REASONS = ["caring for a family member", "full-time study", "travel", "relocation with a partner"]
_OTHER = ["Volunteers at a community garden.", "Plays chess at a local club.", "Speaks two languages.",
          "Runs a neighbourhood book swap.", "Coaches a junior football team.", "Enjoys long-distance cycling."]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _evidence(duty: Duty) -> str:
    """A sentence in the duty's own words."""
    if duty.text.endswith(" required."):  # a requirement, not a task ("Licensing or registration required.")
        return f"{duty.text[: -len(' required.')]}: held and current."
    return f"In my current role I {_lower_first(duty.text)}"


def _near_miss(duty: Duty) -> str:
    """A sentence with the duty's words that is not evidence of it."""
    if duty.text.endswith(" required."):
        return f"{duty.text[: -len(' required.')]}: application in progress."
    return f"Keen to learn to {_lower_first(duty.text)}"


def _occupations(codes, onet: pd.DataFrame | None) -> list[tuple[str, str, list[Duty]]]:
    if onet is None:
        from .loaders import load

        onet = load("onet_occupations")
    need = ["O*NET-SOC Code", "Title", "Description"]
    if missing := [c for c in need if c not in onet.columns]:
        raise ValueError(f"the occupations table lacks the column(s) {missing}; pass "
                         f"adoptkit.data.load('onet_occupations') or a table with {need}")
    by_code = onet.set_index("O*NET-SOC Code")
    unknown = [c for c in codes if c not in by_code.index]
    if unknown:
        raise ValueError(f"O*NET-SOC code(s) {unknown} are not in the occupations table "
                         f"(codes look like '15-1252.00')")
    out = []
    for code in codes:
        ds = duties(str(by_code.loc[code, "Description"]))
        if not any(d.must_have for d in ds):
            raise ValueError(f"occupation {code} ({by_code.loc[code, 'Title']}) has no must-have duty to screen for")
        out.append((code, str(by_code.loc[code, "Title"]), ds))
    return out


def resumes(n: int = 200, seed: int = 0, codes=DEFAULT_CODES, onet: pd.DataFrame | None = None) -> pd.DataFrame:
    """`n` synthetic resumes for the O*NET occupations `codes`, the same for the same seed.

    Columns: resume_id, name, email, phone, occupation_code, occupation, years_experience,
    career_gap_years, education, group, age_band, duties_held (one 0/1 flag per duty, in the order of
    `duties()`), qualified (every must-have duty held: the ground truth), text, synthetic (always True).
    `onet` is the O*NET occupation table (default: `adoptkit.data.load("onet_occupations")`).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive whole number of resumes, got {n!r}")
    if isinstance(codes, str):
        codes = (codes,)
    occupations = _occupations(list(codes), onet)
    rng = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        code, title, ds = rng.choice(occupations)
        group = rng.choice(GROUPS)
        age_band = AGE_BANDS[rng.random() < 0.4]
        strong = rng.random() < 0.5  # a latent "well matched" candidate; never depends on group or age
        held = [rng.random() < ((0.92 if strong else 0.45) if d.must_have else (0.6 if strong else 0.3)) for d in ds]
        years = rng.randint(1, 14) if age_band == "under 40" else rng.randint(10, 30)
        gap = rng.randint(1, 3) if rng.random() < (0.45 if group == "B" else 0.12) else 0

        given = rng.choice(_GIVEN[0]) + rng.choice(_GIVEN[1])
        family = rng.choice(_FAMILY[0]) + rng.choice(_FAMILY[1])
        email = f"{given}.{family}@example.org".lower()
        phone = f"(202) 555-01{rng.randint(0, 99):02d}"

        lines = []
        for k, (duty, has) in enumerate(zip(ds, held)):
            if has:
                paraphrase = PARAPHRASES.get((code, k))
                lines.append(paraphrase if paraphrase and rng.random() < 0.4 else _evidence(duty))
            elif rng.random() < 0.25:
                lines.append(_near_miss(duty))
        rng.shuffle(lines)
        if gap:
            end = rng.randint(2016, 2024)
            lines.append(f"Career break {end - gap}-{end}: {rng.choice(_BREAK_REASONS)}.")
        education = rng.choice(_EDUCATION)
        text = "\n".join([
            f"{SYNTHETIC_MARK}: a fictional candidate generated by adoptkit (seed {seed}); not a real person.",
            f"{given} {family} (fictional)",
            f"{email} | {phone}",
            f"Applying for: {title} (O*NET-SOC {code}).",
            f"Experience: {years} years.",
            *lines,
            f"Education: {education}.",
            f"Other: {rng.choice(_OTHER)}",
        ])
        rows.append({
            "resume_id": f"R{i:04d}", "name": f"{given} {family}", "email": email, "phone": phone,
            "occupation_code": code, "occupation": title, "years_experience": years,
            "career_gap_years": gap, "education": education, "group": group, "age_band": age_band,
            "duties_held": "".join("1" if h else "0" for h in held),
            "qualified": all(h for d, h in zip(ds, held) if d.must_have),
            "text": text, "synthetic": True,
        })
    df = pd.DataFrame(rows)
    from .loaders import citation

    df.attrs["citation"] = (f"Data: SYNTHETIC resumes, {n} fictional candidates generated by "
                            f"adoptkit.data.synthetic.resumes(n={n}, seed={seed}); not real people. "
                            f"Their duties come from: {citation('onet_occupations').removeprefix('Data: ')}")
    return df
