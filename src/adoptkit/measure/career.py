"""Career growth: each learner's verified levels and badges for an HR system, and a manager's view per team.

`export(...)` writes one CSV row per learner and record (schema: SCHEMA, documented on the book's adoption
report page). A level is "verified" because it comes from a graded assessment in nbgrader's gradebook, never
from a self-report; a badge row carries the id of its signed Open Badges credential.

`teams(...)` is what a manager sees: per team, aggregates only, and only for teams of at least
`adoptkit.measure.min_group_size` learners (default 5); a smaller team is listed with its size and no figure,
so nobody's level can be read off a team's average.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..settings import Settings, current
from . import competency, records
from .cohort import Cohort

# column -> what it holds (the HR system's import mapping is written against this list, in this order)
SCHEMA = {
    "learner_id": "the learner's id in the course (the hub and gradebook user name)",
    "name": "the learner's name, from the roster",
    "role": "role path (marketing, sales, hr, engineering, ...)",
    "team": "team, from the roster",
    "record_type": "competency_level or badge",
    "item_id": "competency id (competency_level) or badge id (badge)",
    "item_name": "the competency's or badge's name",
    "level": "0-4 for a competency_level (blank for a badge)",
    "level_name": "the level's name (unaware, aware, practising, proficient, expert)",
    "assessment": "pre or post: the graded assessment the level comes from (blank for a badge)",
    "achieved_on": "date (YYYY-MM-DD, UTC) the assessment was submitted or the badge issued",
    "evidence": "the graded assignment, or the badge's credential id (urn:uuid:...)",
}


def levels_table(cohort: Cohort, s: Settings) -> pd.DataFrame:
    """Each learner's latest verified level per competency: post if assessed after the course, else pre."""
    lv = competency.levels(cohort.assessed, s.competency)
    if lv.empty:
        return pd.DataFrame(columns=list(SCHEMA))
    when = (cohort.assessed.groupby(["learner", "phase"])
            .agg(submitted=("submitted", "max"), assignment=("assignment", "first")).reset_index())
    lv = lv.merge(when, on=["learner", "phase"], how="left")
    lv["rank"] = lv["phase"].map({"pre": 0, "post": 1})
    latest = lv.sort_values("rank").drop_duplicates(["learner", "competency"], keep="last")
    names = {c.id: c.name for c in s.competency.competencies}
    return pd.DataFrame({
        "learner_id": latest["learner"], "record_type": "competency_level", "item_id": latest["competency"],
        "item_name": latest["competency"].map(names), "level": latest["level"].astype(int),
        "level_name": latest["level"].map(lambda v: s.competency.levels[int(v)]), "assessment": latest["phase"],
        "achieved_on": pd.to_datetime(latest["submitted"], utc=True).dt.strftime("%Y-%m-%d"),
        "evidence": latest["assignment"] + " (graded)"})


def badges_table(s: Settings, db: str | Path | None = None) -> pd.DataFrame:
    with records.connect(db, s) as conn:
        issued = pd.read_sql_query("SELECT learner, badge, credential_id, issued_at FROM badge_issued", conn)
    names = {b.id: b.name for b in s.engage.badges.awards}
    return pd.DataFrame({
        "learner_id": issued["learner"], "record_type": "badge", "item_id": issued["badge"],
        "item_name": issued["badge"].map(lambda b: names.get(b, b)), "level": pd.NA, "level_name": "",
        "assessment": "", "achieved_on": pd.to_datetime(issued["issued_at"], utc=True).dt.strftime("%Y-%m-%d"),
        "evidence": issued["credential_id"]})


def export(cohort: Cohort, path: str | Path, settings: Settings | None = None,
           db: str | Path | None = None) -> pd.DataFrame:
    """Write the career records CSV (SCHEMA's columns, one row per learner and record); returns the rows."""
    s = settings or current()
    rows = pd.concat([levels_table(cohort, s), badges_table(s, db)], ignore_index=True)
    people = cohort.roster.set_index("learner")[["name", "role", "team"]]
    rows = rows[rows["learner_id"].isin(people.index)]  # only the roster's learners
    rows = rows.join(people, on="learner_id")
    rows = rows.sort_values(["learner_id", "record_type", "item_id"], kind="stable")[list(SCHEMA)]
    rows["level"] = rows["level"].astype("Int64")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(path, index=False)
    return rows


def teams(cohort: Cohort, settings: Settings | None = None, min_size: int | None = None,
          db: str | Path | None = None) -> pd.DataFrame:
    """Per team: members, and (only with min_size or more members assessed) learners assessed after the course, the mean level
    after per competency, the share at level 3 or above, and badges issued. Smaller teams: size only."""
    s = settings or current()
    n_min = min_size if min_size is not None else s.measure.min_group_size
    lv = competency.levels(cohort.assessed, s.competency)
    post = lv[lv["phase"] == "post"]
    members = cohort.roster.groupby("team")["learner"].nunique()
    issued = badges_table(s, db)
    team_of = cohort.roster.set_index("learner")["team"]
    rows = []
    for team, n in members.sort_index().items():
        row = {"team": team, "members": int(n)}
        mine = post[post["learner"].map(team_of) == team]
        if n < n_min or mine["learner"].nunique() < n_min:  # an average of fewer would point at people
            row["shown"] = f"no: fewer than {n_min} learners{' assessed' if n >= n_min else ''}"
        else:
            row["shown"] = "yes"
            row["assessed after"] = int(mine["learner"].nunique())
            for c in s.competency.competencies:
                levels = mine.loc[mine["competency"] == c.id, "level"]
                row[f"{c.name} (mean level)"] = round(float(levels.mean()), 2) if len(levels) else None
            per = mine.groupby("learner")["level"].min()
            row["share proficient in all assessed"] = round(float((per >= 3).mean()), 2) if len(per) else None
            row["badges issued"] = int(issued["learner_id"].map(team_of).eq(team).sum())
        rows.append(row)
    return pd.DataFrame(rows)
