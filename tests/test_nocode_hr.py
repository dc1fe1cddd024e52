"""The HR track without code: its content is true to the chapters' data, and it is graded by real nbgrader with
the course's hardened config.

A knowledgeable non-coder's answers (through the widgets' own API, as their clicks would be) get full marks on
`hr-nocode`; three plausible wrong answers lose exactly their parts (a screening prompt that asks for no quoted
evidence, flagging every sentence of the shortlist note, a candidate's name and email pasted into the prompt). On
the rebuilt HR assessments the same learner reaches level 3+ in every competency of the competency report, and two
guessers (always the first option shown, always the longest) stay at level 1 or below.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from nocode_harness import SECRETS, VAGUE, assert_levels, example, explanations, grade_cohort, lost, released_text, spec

from adoptkit.data import load, synthetic

NOCODE, PRE, POST = "hr-nocode", "hr-assessment-pre", "hr-assessment-post"
HR_CONTENT = (NOCODE, PRE, POST)
SUPPORT_CRITERION = ("Answer questions or resolve computer problems for clients in person, via telephone, or "
                     "electronically.")


def screening_prompt(vacancy: str, criterion: str, quote: str = " copied word for word,") -> str:
    return (f"You screen résumés for a {vacancy} vacancy against one must-have criterion: {criterion} Judge the "
            f"candidate only against the criterion, not on anything else in the résumé. Return only a JSON object "
            f"with the keys evidence and shown. evidence is the sentence of the résumé that shows the criterion,"
            f"{quote} or null if no sentence shows it. shown must be one of: yes, no, needs review. Use needs review "
            f"when you are not sure.")


def coding_prompt(titles: list[str]) -> str:
    return (f"You code job descriptions to standard occupations. Classify the job description into exactly one of these "
            f"occupation titles: {', '.join(titles)}. Answer with only the title, nothing else. If none fits or you "
            f"are not sure, answer needs review.")


# The prompt a knowledgeable learner writes for each prompt part: its `example` in the content file (the
# course-solutions check and the JupyterLab test submit the same text).
GOOD = {p["id"]: example(name, p["id"]) for name in HR_CONTENT for p in spec(name)["parts"] if p["kind"] == "prompt"}


def test_the_examples_are_the_prompts_this_test_builds():
    """The content files' examples say what the rubric asks (the wrong answers below differ from them in one way)."""
    assert GOOD["code-jobs"] == coding_prompt(spec(NOCODE)["parts"][0]["output"]["labels"])
    assert GOOD["pre-code"] == coding_prompt(spec(PRE)["parts"][0]["output"]["labels"])
    assert GOOD["screen-resumes"] == screening_prompt("Computer User Support Specialists", SUPPORT_CRITERION), \
        "the screening example should be the prompt the 'noquotes' learner writes, with the quote asked for"


# --- the content is true to the data it describes (fast) ---------------------------------------------------

def blinded_resumes() -> dict[str, str]:
    """The resume-screening chapter's résumés (seed 2024), blinded as the chapter blinds them: the name line
    removed and the contact line masked."""
    out = {}
    for row in synthetic.resumes(200, seed=2024).itertuples():
        lines = [line for line in row.text.splitlines() if "(fictional)" not in line]
        out[row.resume_id] = "\n".join("[e-mail] | [phone]" if row.email in line else line for line in lines)
    return out


def _prompt_records(name):
    for p in spec(name)["parts"]:
        if p["kind"] == "prompt" and "records" in p["sample"]:
            yield from p["sample"]["records"]


def _evidence_resume(part) -> tuple[str, str]:
    """(candidate id, résumé text) of a check part whose evidence quotes a synthetic résumé."""
    text = part["evidence"]["text"]
    m = re.search(r"candidate (R\d{4}), blinded\):\n", text)
    assert m, f"{part['id']}: the evidence should say which synthetic candidate it shows"
    return m.group(1), text[m.end():].strip()


def _resume_checks(name):
    return [p for p in spec(name)["parts"] if p["kind"] == "check" and "candidate R" in p["evidence"].get("text", "")]


@pytest.mark.parametrize("name", HR_CONTENT)
def test_every_resume_is_the_chapters_synthetic_resume_blinded(name):
    resumes = blinded_resumes()
    shown = [(r["id"], r["text"]) for r in _prompt_records(name)] + [_evidence_resume(p) for p in _resume_checks(name)]
    assert shown, f"{name} shows no résumé"
    for rid, text in shown:
        assert text == resumes[rid], f"{name}: résumé {rid} is not the generator's (seed 2024), blinded"
        assert text.startswith(synthetic.SYNTHETIC_MARK) and "@" not in text, f"{name}: {rid} must say it is synthetic"


@pytest.mark.parametrize("name", HR_CONTENT)
def test_expected_screening_answers_are_the_generators_ground_truth(name):
    table = synthetic.resumes(200, seed=2024).set_index("resume_id")
    onet = load("onet_occupations").set_index("O*NET-SOC Code")
    for p in spec(name)["parts"]:
        if p["kind"] != "prompt" or "records" not in p["sample"]:
            continue
        criterion = " ".join(re.search(r'\*\*"(.+?)"\*\*', p["brief"], re.S).group(1).split())
        for r in p["sample"]["records"]:
            code = table.loc[r["id"], "occupation_code"]
            duties = [d.text for d in synthetic.duties(onet.loc[code, "Description"])]
            assert criterion in duties, f"{name}: the criterion is not a duty of O*NET {code}"
            held = table.loc[r["id"], "duties_held"][duties.index(criterion)] == "1"
            assert r["expected"] == {"shown": "yes" if held else "no"}, f"{name}: {r['id']} expected answer is wrong"


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}


@pytest.mark.parametrize("name", HR_CONTENT)
def test_a_shortlist_notes_sound_sentences_are_in_the_resume_and_its_planted_faults_are_not(name):
    for part in _resume_checks(name):
        _, resume = _evidence_resume(part)
        evidence = part["evidence"]["text"]
        for s in part["sentences"]:
            quotes = re.findall(r"'([^']{20,})'", s["text"])
            if not s.get("fault"):
                assert _numbers(s["text"]) <= _numbers(evidence), f"{part['id']} {s['id']}: a figure is not in the record"
                assert all(q in resume for q in quotes), f"{part['id']} {s['id']}: a quote is not word for word"
            elif s["fault"] == "number differs from the record":
                assert not _numbers(s["text"]) <= _numbers(evidence), f"{part['id']} {s['id']}: the planted number is right"
            elif s["fault"] == "personal data that should not be there":
                assert re.search(r"@example\.org|\(202\) 555-01\d\d", s["text"]), \
                    f"{part['id']} {s['id']}: planted personal data must be fictional (example.org, 555-01xx)"


def _whole_years(start: date, end: date) -> int:
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


RULES = {  # part id: (parse a row, the rule's answer, the assistant's formula's answer)
    "pre-formula": (
        lambda t: [date(int(y), MONTHS.index(m) + 1, int(d))
                   for d, m, y in re.findall(r"(\d+) (\w+) (\d{4})", t)],
        lambda a: _whole_years(*a), lambda a: a[1].year - a[0].year),
    "post-formula": (
        lambda t: [float(x) for x in re.findall(r"(\d+(?:\.\d+)?) hours at (\d+\.\d+)", t)[0]],
        lambda a: a[1] * min(a[0], 40) + 1.5 * a[1] * max(a[0] - 40, 0),
        lambda a: a[0] * a[1] * 1.5 if a[0] > 40 else a[0] * a[1]),
}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def _shown_result(text: str) -> float:
    return float(re.search(r": (?:pay )?([\d,]+(?:\.\d+)?)(?: years?)?$", text).group(1).replace(",", ""))


@pytest.mark.parametrize("name", (PRE, POST))
def test_a_formulas_results_are_the_formulas_and_the_faulty_ones_break_the_rule(name):
    part = next(p for p in spec(name)["parts"] if p["id"] in RULES)
    parse, rule, formula = RULES[part["id"]]
    for s in part["sentences"]:
        args = parse(s["text"])
        assert _shown_result(s["text"]) == pytest.approx(formula(args)), f"{s['id']}: not what the formula gives"
        wrong = rule(args) != pytest.approx(formula(args))
        assert wrong == bool(s.get("fault")), f"{s['id']}: {'breaks' if wrong else 'follows'} the rule"


def test_the_facts_the_decisions_state_are_computed_from_the_chapters_data():
    applicants = synthetic.resumes(1000, seed=2024)  # the bias-audit chapter's applicants
    no_break = applicants["qualified"] & (applicants["career_gap_years"] == 0)
    rates = no_break.groupby(applicants["group"]).mean()
    assert rates["B"] / rates.max() < 0.8, "the career-break rule takes group B below four-fifths (item career-break-rule)"
    item = next(it for p in spec(NOCODE)["parts"] if p["kind"] == "decide" for it in p["items"] if it["id"] == "four-fifths")
    right = next(o["text"] for o in item["options"] if o["id"] == item["answer"])
    assert f"{(30 / 80) / (50 / 100):.2f}" in right, "the four-fifths item's answer should state the computed ratio"


# --- graded by real nbgrader (slow) --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    pasted = GOOD["screen-resumes"] + (" Example: Nevrinth Prydwickett (nevrinth.prydwickett@example.org) wrote 'In my "
                                       "current role I answer questions or resolve computer problems' -> shown: yes.")
    plan = {
        NOCODE: {"expert": {},
                 "noquotes": {"prompts": {"screen-resumes": [VAGUE, screening_prompt(
                     "Computer User Support Specialists", SUPPORT_CRITERION, quote="")]}},
                 "flagall": {"flags": "all"},
                 "pasted": {"prompts": {"screen-resumes": [VAGUE, pasted]}}},
        PRE: {"expert": {}, "first": {"prompts": {"pre-code": [VAGUE]}, "flags": "all", "choose": "first"},
              "longest": {"prompts": {"pre-code": [VAGUE]}, "flags": "half", "choose": "longest"}},
        POST: {"expert": {}, "first": {"prompts": {"post-screen": [VAGUE]}, "flags": "all", "choose": "first"},
               "longest": {"prompts": {"post-screen": [VAGUE]}, "flags": "half", "choose": "longest"}},
    }
    return grade_cohort(tmp_path_factory.mktemp("hr-nocode-course"), "hr-[an]*", plan)


@pytest.mark.slow
def test_release_has_no_key_and_the_learner_copy_of_the_tasks(graded):
    for name in HR_CONTENT:
        folder = graded.course / "_nbgrader" / "release" / name
        text = released_text(graded.course, name)
        for secret in (*SECRETS, "fault:"):
            assert secret not in text, f"the learner's copy of {name} gives away the key ({secret!r})"
        shown = [why for why in explanations(name) if why in text]
        assert not shown, f"the released {name} gives away explanations of its answers: {shown[:3]}"
        assert not (folder / "quiz-answers").exists(), f"{name}: a released answers folder would be every learner's"


@pytest.mark.slow
def test_a_no_code_learner_gets_full_marks_and_wrong_answers_lose_their_parts(graded):
    assert graded.auto.returncode == 0, f"nbgrader could not grade the submissions: {graded.auto.stderr[-3000:]}"
    s = graded.scores[NOCODE]
    full = s["expert"]
    assert full.code_score == full.max_code_score == 25 and not full.needs_manual_grade, \
        f"a learner who did every part right, without code, should get 25 of 25: {full.auto}"
    assert lost(s, "noquotes") == {"screen-resumes-quote": 0}, \
        "a screening prompt that does not ask for the evidence word for word should lose that point, and only it"
    assert lost(s, "flagall") == {f"check-shortlist-{k}": 0 for k in ("facts", "source", "bias", "privacy")}, \
        "flagging every sentence of the note should earn nothing for the note, and cost nothing elsewhere"
    assert lost(s, "pasted") == {"screen-resumes-privacy": 0}, \
        "pasting a candidate's name and email into the prompt should lose the privacy point, and only it"


@pytest.mark.slow
def test_feedback_explains_in_the_learners_words(graded):
    from nbgrader_harness import nbgrader

    proc = nbgrader(graded.course, "generate_feedback", NOCODE)
    assert proc.returncode == 0, f"nbgrader could not write the feedback: {proc.stderr[-3000:]}"
    feedback = graded.course / "_nbgrader" / "feedback"
    flagall = (feedback / "flagall" / NOCODE / f"{NOCODE}.html").read_text()
    assert "flagging sentences that are sound costs as much as finding faults earns" in flagall, \
        "the feedback should tell a learner who flagged everything why it earned nothing"
    assert "precision 50%" in flagall, "5 planted faults among 10 flags is a precision of 50%"
    noquotes = (feedback / "noquotes" / NOCODE / f"{NOCODE}.html").read_text()
    assert "Ask for the evidence copied word for word" in noquotes and "experience the model invents" in noquotes, \
        "the feedback should say what the prompt lacked and what goes wrong without it"


@pytest.mark.slow
def test_competency_levels_knowledgeable_non_coder_and_guessers(graded):
    for name in (PRE, POST):
        expert = graded.scores[name]["expert"]
        assert expert.code_score == expert.max_code_score == 24, f"{name}: the knowledgeable learner's {expert.auto}"
    assert_levels(graded.course)
