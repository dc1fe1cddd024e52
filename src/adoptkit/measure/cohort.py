"""Everything the adoption reports read, gathered once: roster, graded scores, usage, timings, reactions.

`load()` reads the real records (the gradebook, the gateway's usage log, the submissions folder, the kit's
own store); `adoptkit.measure.simulate.cohort()` returns the same shape for a seeded, clearly labelled
simulated cohort. Reports take a `Cohort` and never care which.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from ..settings import Settings, current
from . import assessment, reaction, sqlread, timing, usage

ROSTER_COLUMNS = ["learner", "name", "role", "team", "cohort"]


class CohortError(ValueError):
    """The records cannot make a cohort (empty, or a source is unreadable); the message says what to do."""


@dataclass
class Cohort:
    roster: pd.DataFrame  # learner, name, role, team, cohort (one row per learner)
    scores: pd.DataFrame  # learner, assignment, notebook, item, score, max_score, submitted, role, phase, competency
    usage: usage.UsageLog
    # The timed runs (timing.COLUMNS) and survey answers (reaction.COLUMNS): a frame, or a function that reads
    # them on first use (thousands of small files that the competency report, for one, never needs).
    _timings: pd.DataFrame | Callable[[], pd.DataFrame]
    _reactions: pd.DataFrame | Callable[[], pd.DataFrame]
    label: str  # where the records came from, shown on every report
    simulated: bool = False
    notes: list[str] = field(default_factory=list)  # what was missing or left out, shown on every report
    usage_missing: str | None = None  # why there is no usage log (None: it was read), so no one reads "inactive"

    @property
    def timings(self) -> pd.DataFrame:
        if callable(self._timings):
            self._timings = self._timings()
        return self._timings

    @timings.setter
    def timings(self, frame: pd.DataFrame) -> None:
        self._timings = frame

    @property
    def reactions(self) -> pd.DataFrame:
        if callable(self._reactions):
            self._reactions = self._reactions()
        return self._reactions

    @reactions.setter
    def reactions(self, frame: pd.DataFrame) -> None:
        self._reactions = frame

    @property
    def assessed(self) -> pd.DataFrame:
        """Assessment rows mapped to a competency."""
        s = self.scores
        return s[s["phase"].notna() & s["competency"].notna()]

    def require_learners(self) -> None:
        if self.roster.empty:
            raise CohortError(
                f"{self.label}: the cohort is empty (no learner in the roster or the gradebook), so there is "
                f"nothing to show yet. Add learners (adoptkit.measure.roster, or grade their submissions), or "
                f"try the command with --simulate where it offers it.")

    def require_assessments(self) -> None:
        self.require_learners()
        if self.assessed.empty:
            raise CohortError(
                f"{self.label}: no learner has a graded pre- or post-assessment yet, so there is nothing to "
                f"report. Grade submissions of the <role>-assessment-pre/post assignments first (nbgrader "
                f"autograde or the cohort runner), or try the report with --simulate.")


def gradebook_url(settings: Settings) -> str:
    if settings.measure.gradebook:
        return settings.measure.gradebook
    if env := os.environ.get("ADOPTKIT_GRADEBOOK_URL"):
        return env
    return f"sqlite:///{settings.path('_nbgrader/gradebook.db')}"


GATEWAY_DB_DEFAULT = "sqlite:///.cache/gateway.db"  # the gateway's own default (adoptkit.gateway.db_url)


def usage_source(settings: Settings) -> str:
    """Where the usage log is: `measure.usage_log`, else the gateway's database, resolved like the gateway does."""
    if settings.measure.usage_log:
        value = settings.measure.usage_log
    else:
        gateway = getattr(settings, "gateway", None)  # the gateway's section, where the kit has it
        value = getattr(gateway, "db_url", None) or GATEWAY_DB_DEFAULT
    if value.startswith("sqlite:///"):
        path = Path(value.removeprefix("sqlite:///"))
        return f"sqlite:///{path if path.is_absolute() else settings.path(path)}"
    return value if "://" in value else str(settings.path(value))


def read_roster(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise CohortError(f"roster {path} not found (adoptkit.measure.roster): fix the path or remove the key "
                          f"to take learners from the gradebook") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise CohortError(f"roster {path} is not a readable CSV: {err}") from None
    missing = [c for c in ("learner", "role", "team") if c not in df.columns]
    if missing:
        raise CohortError(f"roster {path} lacks the column(s) {missing}; it needs learner, role, team "
                          f"(and may have name, cohort); its columns are {list(df.columns)}")
    blank = df.index[df["learner"].str.strip() == ""].tolist()
    if blank:
        raise CohortError(f"roster {path}: data row(s) {[i + 1 for i in blank[:5]]} have no learner id")
    dupes = df.loc[df["learner"].duplicated(), "learner"].tolist()
    if dupes:
        raise CohortError(f"roster {path}: learner id(s) listed twice: {dupes[:5]}")
    df["name"] = df["name"] if "name" in df.columns else df["learner"]
    df["cohort"] = df["cohort"] if "cohort" in df.columns else ""
    return df[ROSTER_COLUMNS]


def derive_roster(scores: pd.DataFrame, students: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """Without a roster file: role from the assessments each learner took, cohort from the usage log."""
    taken = scores[scores["role"].notna()].sort_values("submitted")
    roles = taken.groupby("learner")["role"].first()
    cohorts = pd.Series(dtype=str)
    if not log.empty:  # each learner's most frequent cohort in the log (a tie: the first by name)
        counts = (log.groupby(["learner", "cohort"], observed=True).size().rename("n").reset_index()
                  .astype({"learner": str, "cohort": str}))
        top = counts.sort_values(["n", "cohort"], ascending=[False, True]).drop_duplicates("learner")
        cohorts = top.set_index("learner")["cohort"]
    learners = sorted(set(students["learner"]) | set(scores["learner"]))
    names = students.set_index("learner")["name"] if not students.empty else pd.Series(dtype=str)
    return pd.DataFrame({
        "learner": learners,
        "name": [names.get(x, x) for x in learners],
        "role": [roles.get(x, "") for x in learners],
        "team": "unassigned",
        "cohort": [cohorts.get(x, "") for x in learners],
    }, columns=ROSTER_COLUMNS).astype(str)  # text even when empty (an empty column would be typed as numbers)


def load(settings: Settings | None = None, *, usage_required: bool = False) -> Cohort:
    """The real records named in `adoptkit.measure`."""
    with sqlread.gc_paused():  # millions of new objects, none in a cycle: see sqlread.gc_paused
        return _load(settings or current(), usage_required)


def _load(s: Settings, usage_required: bool) -> Cohort:
    notes: list[str] = []
    url = gradebook_url(s)
    raw, students = assessment.gradebook_scores(url)
    scores, more = assessment.label(raw, assessment.competency_map(s.path("exercises")), s.competency.ids())
    notes += more
    log_path = usage_source(s)
    missing = None
    try:
        log = usage.read(log_path)
        notes += [f"usage log: {p}" for p in log.problems]
        notes += [f"usage log: no requests at all on weekdays {a} to {b} (missing data, not zero use?)"
                  for a, b in log.gaps]
    except usage.UsageLogMissing as err:  # no log yet: reports without usage say so; a broken log is an error
        if usage_required:
            raise
        log, missing = usage.UsageLog(usage.empty(), str(log_path)), str(err)
        notes.append(f"no usage data: {err}")
    if s.measure.roster:
        roster = read_roster(s.path(s.measure.roster))
        unknown = sorted(set(scores["learner"].unique()) - set(roster["learner"]))
        if unknown:  # never counted anywhere (levels, completers, points) without being on the roster
            notes.append(f"{len(unknown)} learner(s) in the gradebook are not in the roster {s.measure.roster} and "
                         f"are left out of every figure (e.g. {', '.join(unknown[:5])}): add them to the roster "
                         f"with their role and team")
            scores = scores[scores["learner"].isin(roster["learner"])]
    else:
        roster = derive_roster(scores, students, log.frame)
    submitted = s.path(s.measure.submitted)
    # The learner's job role from the roster; the assessment they took where the roster does not say.
    scores = scores.rename(columns={"role": "assessed_role"}).merge(roster[["learner", "role"]], on="learner",
                                                                      how="left")
    scores["role"] = scores["role"].replace("", pd.NA).fillna(scores.pop("assessed_role"))
    known = roster["learner"]

    def timings() -> pd.DataFrame:
        frame, more = timing.collect(submitted)
        notes.extend(more)  # the cohort's own list: reports print it after reading the timings
        return frame[frame["learner"].isin(known)]

    def reactions() -> pd.DataFrame:
        frame = reaction.collect(submitted)
        return frame[frame["learner"].isin(known)]

    return Cohort(roster, scores, log, timings, reactions, label=f"records: gradebook {assessment.shown_url(url)}, "
                  f"usage log {log_path}",
                  notes=notes, usage_missing=missing)
