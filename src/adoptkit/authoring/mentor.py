"""A mentor's view of their mentees (`adoptkit mentor view MENTOR`), read from the records that exist.

Who mentors whom is data: `adoptkit.engage.mentors` in _config.yml ({mentor id: [learner id, ...]}). A mentor
sees their own mentees and nobody else: an unknown mentor, or a learner not assigned to them, is an error.

Per mentee, from the kit's records and nothing else: the graded assignments (nbgrader's gradebook), competency
levels before and after (the pre- and post-assessments), the last request in the sandbox (the gateway's usage
log), the teach-back lesson and its reviews, the peer reviews they owe, review cards due (the kit's own
records) and badges issued. The suggested next step is the first of RULES whose condition holds: a stated
rule over those records, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd

from ..measure import assessment, competency, records
from ..measure.cohort import Cohort
from ..settings import USER_ID, Settings

PROFICIENT = 3  # the competency map's level 3: the level a mentor is recruited from (book/five-steps.md)

# The next-step rules, in the order they are tried (the first that holds is the suggestion). Each is
# (id, when it holds, what the mentor suggests); the book's mentor guide prints this list.
RULES = [
    ("no-records", "nothing in the records: no grade, no sandbox request, no lesson",
     "check they can sign in to the hub, then start the pre-assessment together"),
    ("pre-assessment", "no pre-assessment is graded", "take the pre-assessment (<role>-assessment-pre) to set a baseline"),
    ("reviews-owed", "they have peer reviews assigned and not scored",
     "finish the peer reviews they owe (adoptkit review score)"),
    ("back-to-the-sandbox", "no sandbox request for engage.nudge.inactive_days days (when there is a usage log)",
     "pick one real task from their week and try it in the sandbox together"),
    ("post-assessment", "no post-assessment is graded", "work through the path's chapters, then take the post-assessment"),
    ("practise", f"a competency is below level {PROFICIENT} after the course",
     "practise <competency>, their weakest (the first in the competency map on a tie): its chapter again, "
     "and its review cards"),
    ("teach-back", "no teach-back lesson is submitted", "write a teach-back lesson (<role>-teachback) on what they do best"),
    ("awaiting-reviews", "their lesson has fewer reviews than engage.review.min_reviews",
     "ask their reviewers to score the lesson"),
    ("cards-due", "review cards are due", "a short review session (the review deck notebook)"),
    ("on-track", "none of the above holds", "invite them to review a colleague's lesson, or to mentor the next cohort"),
]


class MentorError(ValueError):
    """Who asked for what cannot be shown; the message says why and what to do."""


def printable(text) -> str:
    """Text from a record or a command line with its control characters (terminal escapes) shown as '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


def where(label: str) -> str:
    """Where the records came from, with any password in a database URL hidden (a view is read by mentors)."""
    return assessment.shown_url(printable(label))


def shown(name: str) -> str:
    """A name typed on the command line, safe to print in a message (no control characters, bounded)."""
    text = printable(name)
    return repr(text[:60] + ("…" if len(text) > 60 else ""))


def mentees(s: Settings, mentor: str, learner: str | None = None) -> list[str]:
    """The learners `mentor` may see (only `learner`, if named); MentorError for anyone else."""
    if not re.fullmatch(USER_ID, mentor or ""):
        raise MentorError(f"{shown(mentor)} is not a mentor id: mentor ids are hub user names (letters, digits "
                          f"and . _ @ + -)")
    if mentor not in s.engage.mentors:
        raise MentorError(f"{shown(mentor)} is not a mentor in this course: the L&D lead lists mentors and their "
                          f"mentees under adoptkit.engage.mentors in _config.yml ({{mentor: [learner, ...]}})")
    mine = list(s.engage.mentors[mentor])
    if not mine:
        raise MentorError(f"{mentor} has no mentees yet: the L&D lead adds them under adoptkit.engage.mentors."
                          f"{mentor} in _config.yml")
    if learner is not None:
        if learner not in mine:
            raise MentorError(f"{shown(learner)} is not one of {mentor}'s mentees, so their records are not shown "
                              f"(ask the L&D lead to assign them in adoptkit.engage.mentors)")
        return [learner]
    return mine


@dataclass
class Mentee:
    learner: str
    name: str
    role: str
    team: str
    in_records: bool  # in the roster or the gradebook
    completed: pd.DataFrame  # assignment, points, max_points, submitted
    levels: pd.DataFrame  # competency -> pre, post
    last_active: pd.Timestamp | None  # last sandbox request (None: never, or no log)
    lesson: str  # "not submitted", "submitted", "graded"
    reviews_received: int
    review_share: float | None  # mean rubric share of the reviews received
    published: bool
    owes: list[str]  # authors whose lessons they are assigned to review and have not scored (see owed_text)
    cards_due: int | None  # None: no review cards in the course
    badges: list[str]
    next_rule: str = ""
    next_step: str = ""


@dataclass
class View:
    mentor: str
    label: str  # where the records came from
    simulated: bool
    now: datetime
    usage_missing: str | None
    mentees: list[Mentee]
    mentor_owes: list[str] = field(default_factory=list)  # mentees' lessons the mentor reviews and has not scored
    notes: list[str] = field(default_factory=list)


def _store(s: Settings) -> tuple[pd.DataFrame, pd.DataFrame, set[str], pd.DataFrame]:
    """Review assignments, scored (author, reviewer) pairs, published authors, badges, from the kit's records."""
    with records.connect(settings=s) as conn:
        assigned = pd.read_sql_query("SELECT author, reviewer FROM review_assignment", conn)
        scored = pd.read_sql_query("SELECT DISTINCT author, reviewer FROM review_score", conn)
        published = {a for (a,) in conn.execute("SELECT author FROM published")}
        badges = pd.read_sql_query("SELECT learner, badge FROM badge_issued ORDER BY issued_at", conn)
    return assigned, scored, published, badges


def _open_reviews(assigned: pd.DataFrame, scored: pd.DataFrame) -> pd.DataFrame:
    both = assigned.merge(scored, on=["author", "reviewer"], how="left", indicator=True)
    return both[both["_merge"] == "left_only"][["author", "reviewer"]]


def view(c: Cohort, s: Settings, mentor: str, learner: str | None = None, now: datetime | None = None) -> View:
    """The mentor's view of their mentees (or of one), from the cohort's records and the kit's own store."""
    from ..engage import cards, review

    who = mentees(s, mentor, learner)
    now = now or datetime.now(timezone.utc)
    roster = c.roster.set_index("learner")
    scores = c.scores[c.scores["learner"].isin(who)]
    lv = competency.levels(c.assessed[c.assessed["learner"].isin(who)], s.competency)
    log = c.usage.frame
    mine = log[log["learner"].astype(str).isin(who)] if len(log) else log
    last = mine.groupby(mine["learner"].astype(str), observed=True)["ts"].max() if len(mine) else pd.Series()
    assigned, scored, published, badges = _store(s)
    open_reviews = _open_reviews(assigned, scored)
    results = review.results(s)
    lessons = review.lessons(s)
    deck = cards.deck(settings=s)
    due = cards.due_counts(who, deck, now=now, settings=s) if deck else None
    badge_names = {b.id: b.name for b in s.engage.badges.awards}
    out = []
    for x in who:
        graded = scores[scores["learner"] == x]
        done = (graded.groupby("assignment").agg(points=("score", "sum"), max_points=("max_score", "sum"),
                                                 submitted=("submitted", "max"))
                .reset_index().sort_values("submitted"))
        mine_lv = lv[lv["learner"] == x].pivot_table(index="competency", columns="phase", values="level",
                                                    aggfunc="first").reindex(columns=["pre", "post"])
        mine_lv = mine_lv.reindex([k for k in s.competency.ids() if k in mine_lv.index])
        teachbacks = [a for a in done["assignment"] if review.is_teachback(a, s)]
        has_review = x in results.index
        row = roster.loc[x] if x in roster.index else None
        m = Mentee(
            learner=x, name=printable(row["name"]) if row is not None else x,
            role=printable(row["role"]) if row is not None else "",
            team=printable(row["team"]) if row is not None else "",
            in_records=row is not None or len(graded) > 0, completed=done, levels=mine_lv,
            last_active=last.get(x) if x in last.index else None,
            lesson="graded" if teachbacks else ("submitted" if x in lessons or has_review else "not submitted"),
            reviews_received=int(results.loc[x, "reviews"]) if has_review else 0,
            review_share=(float(results.loc[x, "share"]) if has_review and pd.notna(results.loc[x, "share"])
                          else None),
            published=x in published,
            owes=sorted(open_reviews.loc[open_reviews["reviewer"] == x, "author"]),
            cards_due=int(due.loc[x, "due"]) if due is not None else None,
            badges=[badge_names.get(b, b) for b in badges.loc[badges["learner"] == x, "badge"]])
        m.next_rule, m.next_step = next_step(m, s, now, c.usage_missing, s.engage.mentors[mentor])
        out.append(m)
    # The records' notes about the usage log (rows and dates, never a learner); the others can name learners
    # who are not theirs (the roster's does), so they are counted and left to the L&D lead's reports.
    notes = [n for n in c.notes if n.startswith(("usage log:", "no usage data:"))]
    if len(notes) < len(c.notes):
        notes.append(f"{len(c.notes) - len(notes)} more note(s) about the course's records are left out here, as "
                     f"they can name other learners: the L&D lead's reports (adoptkit report competency) show them")
    unknown = [m.learner for m in out if not m.in_records]
    if unknown:
        notes.append(f"not in the roster or the gradebook yet: {', '.join(unknown)} (a typo in "
                     f"adoptkit.engage.mentors, or they have not started)")
    owed = open_reviews[(open_reviews["reviewer"] == mentor) & open_reviews["author"].isin(who)]
    return View(mentor, c.label, c.simulated, now, c.usage_missing, out, sorted(owed["author"]), notes)


def owed_text(authors: list[str], mine: list[str]) -> str:
    """The lessons a mentee owes a review of, naming only the mentor's own mentees (others are counted)."""
    named = [a for a in authors if a in mine]
    others = len(authors) - len(named)
    parts = named + ([f"{others} colleague{'s' if others != 1 else ''} outside your mentees"] if others else [])
    return f"{len(authors)}: the lesson{'s' if len(authors) != 1 else ''} of {', '.join(parts)}"


def next_step(m: Mentee, s: Settings, now: datetime, usage_missing: str | None,
              mine: list[str] = ()) -> tuple[str, str]:
    """(rule id, suggestion): the first of RULES whose condition holds for this mentee's records."""
    text = dict((rule, what) for rule, _, what in RULES)
    role = m.role or "<their role>"
    phases = set(m.levels.columns[m.levels.notna().any()]) if len(m.levels) else set()
    inactive_days = s.engage.nudge.inactive_days
    if not m.in_records and m.last_active is None and m.lesson == "not submitted":
        return "no-records", text["no-records"].replace("<role>", role)
    if "pre" not in phases:
        return "pre-assessment", text["pre-assessment"].replace("<role>", role)
    if m.owes:
        return "reviews-owed", f"{text['reviews-owed']}: {owed_text(m.owes, mine)}"
    if not usage_missing and (m.last_active is None or m.last_active < pd.Timestamp(now) - pd.Timedelta(
            days=inactive_days)):
        since = "never used the sandbox" if m.last_active is None else f"no sandbox request since {m.last_active:%Y-%m-%d}"
        return "back-to-the-sandbox", f"{since}: {text['back-to-the-sandbox']}"
    if "post" not in phases:
        return "post-assessment", text["post-assessment"]
    post = m.levels["post"].dropna()
    if len(post) and post.min() < PROFICIENT:
        weakest = post.idxmin()
        name = next(c.name for c in s.competency.competencies if c.id == weakest)
        before = m.levels.loc[weakest, "pre"]
        was = f", {int(before)} before" if pd.notna(before) else ""
        return "practise", text["practise"].replace("<competency>", f"{name} (level {int(post.min())} after{was})")
    if m.lesson == "not submitted":
        return "teach-back", text["teach-back"].replace("<role>", role)
    if m.reviews_received < s.engage.review.min_reviews and not m.published:
        return "awaiting-reviews", (f"{text['awaiting-reviews']}: {m.reviews_received} of "
                                    f"{s.engage.review.min_reviews} reviews so far")
    if m.cards_due:
        return "cards-due", f"{text['cards-due']}: {m.cards_due} card(s) due"
    return "on-track", text["on-track"]


# --- showing it ----------------------------------------------------------------------------------------

def _levels_text(m: Mentee, s: Settings) -> str:
    if m.levels.empty:
        return "not assessed yet"

    def lvl(v) -> str:
        return "–" if pd.isna(v) else str(int(v))

    return "; ".join(f"{k} {lvl(r['pre'])} → {lvl(r['post'])}" for k, r in m.levels.iterrows())


def _facts(m: Mentee, v: View, s: Settings) -> list[tuple[str, str]]:
    done = ", ".join(f"{printable(a)} {p:g}/{mx:g}" for a, p, mx, _ in m.completed.itertuples(index=False)) or "nothing graded yet"
    if v.usage_missing:
        active = "unknown (no usage log)"
    elif m.last_active is None:
        active = "never"
    else:
        days = (pd.Timestamp(v.now) - m.last_active).days
        ago = "today" if days <= 0 else f"{days} day{'s' if days != 1 else ''} ago"
        active = f"{m.last_active:%Y-%m-%d} ({ago})"
    lesson = m.lesson
    if m.lesson != "not submitted":
        share = f", mean rubric score {m.review_share:.0%}" if m.review_share is not None else ""
        lesson += f"; {m.reviews_received} review(s) received{share}{'; published' if m.published else ''}"
    return [("completed", done),
            ("levels before → after", _levels_text(m, s)),
            ("last sandbox request", active),
            ("teach-back", lesson),
            ("reviews owed", owed_text(m.owes, s.engage.mentors[v.mentor]) if m.owes else "none"),
            ("review cards due", "no cards in this course" if m.cards_due is None else str(m.cards_due)),
            ("badges", ", ".join(m.badges) or "none yet"),
            ("next step", f"{m.next_step} [rule: {m.next_rule}]")]


def text(v: View, s: Settings) -> str:
    lines = []
    if v.simulated:
        lines.append(f"{where(v.label)}; no real learner is shown.")
    lines.append(f"Mentees of {v.mentor} on {v.now:%Y-%m-%d} ({len(v.mentees)}); {where(v.label)}")
    for m in v.mentees:
        head = m.name if m.name == m.learner else f"{m.name} ({m.learner})"
        lines.append(f"\n{head}" + (f", {m.role}" if m.role else "") + (f", team {m.team}" if m.team else ""))
        lines += [f"  {k:22} {val}" for k, val in _facts(m, v, s)]
    if v.mentor_owes:
        lines.append(f"\nYou owe a review of the lesson(s) of: {', '.join(v.mentor_owes)} (adoptkit review score)")
    lines += [f"note: {printable(n)}" for n in v.notes]
    return "\n".join(lines)


def page(v: View, s: Settings) -> str:
    from ..measure import html

    body = []
    for m in v.mentees:
        head = m.name if m.name == m.learner else f"{m.name} ({m.learner})"
        rows = "".join(f"<tr><th>{html.esc(k)}</th><td style='text-align:left'>{html.esc(val)}</td></tr>"
                       for k, val in _facts(m, v, s))
        body.append(f"<h2>{html.esc(head)}</h2><p class='sub'>{html.esc(m.role or 'role unknown')}"
                    f"{', team ' + html.esc(m.team) if m.team else ''}</p><table>{rows}</table>")
    if v.mentor_owes:
        body.append(f"<p>You owe a review of the lesson(s) of: {html.esc(', '.join(v.mentor_owes))}.</p>")
    rules = "".join(f"<li><b>{html.esc(r)}</b>: when {html.esc(w)}: {html.esc(t)}</li>" for r, w, t in RULES)
    body.append(f"<h2>How the next step is chosen</h2><p>The first rule that holds, in this order:</p><ol>{rules}</ol>")
    return html.page(f"Mentees of {v.mentor}", f"{v.now:%Y-%m-%d}; {where(v.label)}",
                     "".join(body) + html.notes([printable(n) for n in v.notes]), v.simulated)
