"""A seeded, simulated cohort with the same shape as real records (for demos, tests, the benchmark and the
book page before any real cohort exists). Every figure drawn from it is simulated and labelled so.

The numbers that shape it (role mix, abilities, gains, minutes per task) are made-up parameters of the
simulation, not findings; they are all here, in one place, so a reader can see them.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..settings import Settings, current
from .cohort import Cohort
from .usage import UsageLog

ROLE_MIX = {"marketing": 0.25, "sales": 0.30, "hr": 0.15, "engineering": 0.30}
TEAM_SIZE = 8
ITEM_DIFFICULTY = {"quiz": -1.0, "check1": -0.4, "check2": 0.3, "check3": 0.9}  # logit scale
ABILITY_BEFORE = (-0.6, 0.9)  # mean, sd of a learner's ability per competency before the course (logits)
GAIN = (1.3, 0.7)  # mean, sd of the change the course makes (logits)
TOOK_PRE, TOOK_POST = 0.97, 0.88  # shares of learners, and of pre-takers
MINUTES_WITHOUT_AI = {"marketing": 9, "sales": 8, "hr": 10, "engineering": 12}  # median per paired task
WITH_AI_FACTOR = (0.45, 0.3)  # median share of the time with AI, lognormal sd
TIMED_ROUNDS = 2  # the counterbalanced timed task: two pairs of runs per learner (timing.plan)
PRACTICE = 0.92  # each timed run takes this share of the one before (practice), whatever its mode
FEATURES = (["chat", "stream", "embeddings", "redact"], [0.6, 0.2, 0.12, 0.08])  # as the gateway logs them
STATUS = ([200, 429, 500], [0.97, 0.02, 0.01])
DROP_OFF = 0.3  # share of learners who stop using the sandbox during the period
RATINGS = {"relevant": [0.02, 0.05, 0.18, 0.45, 0.30],  # per survey item (reaction.ITEMS), 1..5
           "will_use": [0.03, 0.07, 0.25, 0.40, 0.25],
           "recommend": [0.05, 0.10, 0.30, 0.35, 0.20]}
FIRST = ["Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hugo", "Ines", "Jon", "Kai", "Lena", "Mo",
         "Nora", "Omar", "Pia", "Quinn", "Rosa", "Sam", "Tara"]
LAST = ["Adams", "Berg", "Costa", "Diaz", "Evans", "Fox", "Gill", "Hart", "Ito", "Jain", "Khan", "Lund",
        "Moss", "Nagy", "Okoro", "Park", "Quist", "Roy", "Shah", "Tan"]


def cohort(learners: int = 200, events: int = 50_000, seed: int = 7, weeks: int = 12,
           start: str = "2026-01-05", settings: Settings | None = None) -> Cohort:
    s = settings or current()
    rng = np.random.default_rng(seed)
    comps = s.competency.ids()
    n = learners
    ids = np.array([f"learner{i:05d}" for i in range(n)], dtype=object)
    roles = rng.choice(list(ROLE_MIX), size=n, p=list(ROLE_MIX.values()))
    team_no = pd.Series(range(n)).groupby(roles).cumcount().to_numpy() // TEAM_SIZE
    teams = np.char.add(np.char.add(roles.astype(str), "-team-"), (team_no + 1).astype(str))
    names = np.char.add(np.char.add(rng.choice(FIRST, n).astype(str), " "), rng.choice(LAST, n).astype(str))
    cohorts = np.char.add("cohort-", (np.arange(n) % max(1, n // 500) + 1).astype(str))
    roster = pd.DataFrame({"learner": ids, "name": names, "role": roles, "team": teams, "cohort": cohorts})

    # Assessments: 4 one-point items per competency and phase; P(correct) = sigmoid(ability - difficulty).
    took_pre = rng.random(n) < TOOK_PRE
    took_post = took_pre & (rng.random(n) < TOOK_POST)
    before = rng.normal(*ABILITY_BEFORE, size=(n, len(comps)))
    after = before + np.clip(rng.normal(*GAIN, size=(n, len(comps))), -0.3, None)
    t0 = pd.Timestamp(start, tz="UTC")
    frames = []
    for phase, ability, took, week in (("pre", before, took_pre, 0), ("post", after, took_post, weeks - 2)):
        who = np.flatnonzero(took)
        items = list(ITEM_DIFFICULTY)
        diff = np.array(list(ITEM_DIFFICULTY.values()))
        p = 1 / (1 + np.exp(-(ability[who][:, :, None] - diff[None, None, :])))  # learner x comp x item
        score = (rng.random(p.shape) < p).astype(float)
        k = len(comps) * len(items)
        when = t0 + pd.to_timedelta(week * 7 + rng.integers(0, 5, who.size), unit="D") + pd.to_timedelta(
            rng.integers(9 * 3600, 17 * 3600, who.size), unit="s")
        assignment = np.char.add(roles[who].astype(str), f"-assessment-{phase}")
        frames.append(pd.DataFrame({
            "learner": np.repeat(ids[who], k),
            "assignment": np.repeat(assignment, k),
            "notebook": np.repeat(assignment, k),
            "item": np.tile([f"{c}-{i}" for c in comps for i in items], who.size),
            "score": score.reshape(-1),
            "max_score": 1.0,
            "submitted": np.repeat(when.to_numpy(), k),
            "role": np.repeat(roles[who], k),
            "phase": phase,
            "competency": np.tile(np.repeat(comps, len(items)), who.size),
        }))
    scores = pd.concat(frames, ignore_index=True)
    scores["submitted"] = pd.to_datetime(scores["submitted"], utc=True)

    log = UsageLog(_usage(rng, ids, cohorts, took_post, events, weeks, t0), source=f"simulated (seed {seed})",
                   rows_read=events)
    timings = _timings(rng, ids, roles, took_post)
    responders = np.flatnonzero(took_post & (rng.random(n) < 0.85))
    from .reaction import ITEMS

    reactions = pd.DataFrame({
        "learner": np.repeat(ids[responders], len(ITEMS)),
        "assignment": np.repeat(np.char.add(roles[responders].astype(str), "-assessment-post"), len(ITEMS)),
        "item": np.tile(list(ITEMS), responders.size),
        "question": np.tile(list(ITEMS.values()), responders.size),
        "rating": np.stack([rng.choice(np.arange(1, 6), size=responders.size, p=RATINGS[k]) for k in ITEMS],
                           axis=1).reshape(-1),
    })
    label = f"SIMULATED cohort: {n:,} synthetic learners, {events:,} synthetic requests (seed {seed})"
    return Cohort(roster, scores, log, timings, reactions, label=label, simulated=True)


def _usage(rng, ids, cohorts, took_post, events: int, weeks: int, t0: pd.Timestamp) -> pd.DataFrame:
    n = ids.size
    activity = rng.lognormal(0, 1, n) * np.where(took_post, 1.0, 0.3) * (rng.random(n) > 0.03)
    if events == 0 or activity.sum() == 0:
        from .usage import empty

        return empty()
    who = rng.choice(n, size=events, p=activity / activity.sum())
    # Days: use ramps up over the programme; weekdays are five times as busy as weekends.
    days = np.arange(weeks * 7)
    weight = (0.3 + 0.7 * np.minimum(days / (weeks * 7 * 0.6), 1)) * np.where(days % 7 < 5, 5, 1)
    day = rng.choice(days, size=events, p=weight / weight.sum())
    # Some learners stop using it at some point: their requests squeeze into the days before they stop.
    stop = np.where(rng.random(n) < DROP_OFF, rng.integers(7, weeks * 7, n), weeks * 7)
    day = (day * stop[who] // (weeks * 7)).astype(int)
    seconds = day * 86400 + rng.integers(8 * 3600, 18 * 3600, events)
    order = np.argsort(seconds, kind="stable")  # a log is in time order
    seconds, who = seconds[order], who[order]
    feature_names, feature_p = FEATURES
    status_codes, status_p = STATUS
    return pd.DataFrame({
        "ts": t0 + pd.to_timedelta(seconds, unit="s"),
        "learner": pd.Categorical(ids[who]),
        "cohort": pd.Categorical(cohorts[who]),
        "tokens_in": rng.lognormal(5, 0.7, events).astype("int64"),
        "tokens_out": rng.lognormal(4.5, 0.8, events).astype("int64"),
        "status": rng.choice(status_codes, size=events, p=status_p).astype("int64"),
        "feature": pd.Categorical(rng.choice(feature_names, size=events, p=feature_p)),
    })


def _timings(rng, ids, roles, took_post) -> pd.DataFrame:
    """The counterbalanced timed task (timing.plan): ROUNDS pairs of runs per learner, with a practice effect."""
    from . import timing

    who = np.flatnonzero(took_post & (rng.random(ids.size) < 0.9))
    median = np.array([MINUTES_WITHOUT_AI[r] for r in roles[who]]) * 60
    base = rng.lognormal(np.log(median), 0.35)
    factor = np.clip(rng.lognormal(np.log(WITH_AI_FACTOR[0]), WITH_AI_FACTOR[1], who.size), 0.15, 1.3)
    rows = []
    for k, (i, learner) in enumerate(zip(who, ids[who])):
        order = timing.order_of(learner, "summary")
        for r in timing.plan(learner, "summary", TIMED_ROUNDS):
            seconds = base[k] * (factor[k] if r["mode"] == "with_ai" else 1.0) * PRACTICE ** (r["run"] - 1)
            seconds *= rng.lognormal(0, 0.1)  # run-to-run noise
            rows.append((learner, f"{roles[i]}-assessment-post", "summary", r["run"], r["mode"],
                         round(float(seconds), 1), f"pair{r['pair'] + 1}-{'ab'[r['side']]}", order))
    return pd.DataFrame(rows, columns=timing.COLUMNS)


# --- the same cohort as real records ----------------------------------------------------------------

def write_records(c: Cohort, root: str | Path, gradebook: str | None = None, usage_log: str | None = None) -> dict:
    """Write a simulated cohort as the records the kit reads, into an empty course folder `root`.

    nbgrader's gradebook (its own schema, so `nbgrader` and `Gradebook` read it), the source notebooks
    whose graded cells carry the competencies, the gateway's `usage` table (its own schema), the learners'
    timing and reaction-survey files in the submissions folder, and a roster. Returns the `adoptkit:`
    section (a `measure:` part) that points the kit at them. `gradebook` and `usage_log` (SQLAlchemy URLs,
    e.g. PostgreSQL) put those two elsewhere; by default they are SQLite files in the folder. For the
    benchmark and the tests that run the real readers at scale; the folder is a throwaway course, and what
    it holds is still simulated.
    """
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty: write_records writes a whole course folder")
    (root / "_nbgrader").mkdir(parents=True)
    gradebook = gradebook or f"sqlite:///{root / '_nbgrader' / 'gradebook.db'}"
    _write_sources(c.scores, root / "exercises")
    _write_gradebook(c, gradebook)
    usage_log = usage_log or f"sqlite:///{root / '.cache' / 'gateway.db'}"
    _write_usage(c.usage.frame, usage_log)
    _write_submission_files(c, root / "_nbgrader" / "submitted")
    c.roster.to_csv(root / "roster.csv", index=False)
    return {"measure": {"gradebook": gradebook, "usage_log": usage_log, "submitted": "_nbgrader/submitted",
                        "roster": "roster.csv", "records": "_nbgrader/adoptkit-records.db"}}


def _write_sources(scores: pd.DataFrame, folder: Path) -> None:
    """One source notebook per assignment: a graded cell per item, tagged with its competency."""
    import nbformat

    items = scores[["assignment", "item", "competency", "max_score"]].drop_duplicates(["assignment", "item"])
    for assignment, part in items.groupby("assignment"):
        nb = nbformat.v4.new_notebook()
        for item, competency, points in part[["item", "competency", "max_score"]].itertuples(index=False):
            cell = nbformat.v4.new_code_cell(f"# check {item}")
            cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": item,
                                         "points": float(points), "schema_version": 3}
            cell.metadata["adoptkit"] = {"competency": competency}
            nb.cells.append(cell)
        (folder / assignment).mkdir(parents=True)
        nbformat.write(nb, folder / assignment / f"{assignment}.ipynb")


def _write_gradebook(c: Cohort, url: str) -> None:
    """Rows in nbgrader's own tables, in bulk (its ORM would take minutes for ten thousand learners)."""
    import uuid

    import sqlalchemy as sa
    from nbgrader import api

    def insert(conn, table, rows: list[dict]) -> None:
        if rows:  # an empty list would insert one row of defaults
            conn.execute(table.insert(), rows)

    def uid(*parts) -> str:
        return uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))).hex

    engine = sa.create_engine(url)
    api.Base.metadata.create_all(engine)
    s = c.scores
    cells = s[["assignment", "notebook", "item", "max_score"]].drop_duplicates(["assignment", "notebook", "item"])
    subs = s.drop_duplicates(["learner", "assignment"])[["learner", "assignment", "submitted"]]
    first_last = c.roster["name"].str.split(" ", n=1, expand=True).reindex(columns=[0, 1])
    with engine.begin() as conn:
        insert(conn, api.Course.__table__, [{"id": "adoptkit"}])
        insert(conn, api.Assignment.__table__, [
            {"id": uid("a", a), "name": a, "course_id": "adoptkit"} for a in cells["assignment"].unique()])
        insert(conn, api.Notebook.__table__, [
            {"id": uid("n", a, n), "name": n, "assignment_id": uid("a", a)}
            for a, n in cells[["assignment", "notebook"]].drop_duplicates().itertuples(index=False)])
        insert(conn, api.BaseCell.__table__, [
            {"id": uid("c", a, n, i), "name": i, "notebook_id": uid("n", a, n), "type": "GradeCell"}
            for a, n, i, _ in cells.itertuples(index=False)])
        insert(conn, api.GradeCell.__table__, [
            {"id": uid("c", a, n, i), "max_score": float(m), "cell_type": "code"}
            for a, n, i, m in cells.itertuples(index=False)])
        insert(conn, api.Student.__table__, [
            {"id": learner, "first_name": first, "last_name": last}
            for learner, first, last in zip(c.roster["learner"], first_last[0], first_last[1])])
        insert(conn, api.SubmittedAssignment.__table__, [
            {"id": uid("s", learner, a), "assignment_id": uid("a", a), "student_id": learner,
             "timestamp": when.tz_convert("UTC").tz_localize(None).to_pydatetime()}
            for learner, a, when in subs.itertuples(index=False)])
        insert(conn, api.SubmittedNotebook.__table__, [
            {"id": uid("sn", learner, a, n), "assignment_id": uid("s", learner, a), "notebook_id": uid("n", a, n),
             "flagged": False}
            for learner, a, n in s[["learner", "assignment", "notebook"]].drop_duplicates().itertuples(index=False)])
        rows = s[["learner", "assignment", "notebook", "item", "score"]].itertuples(index=False)
        while batch := [{"id": uid("g", learner, a, n, i), "notebook_id": uid("sn", learner, a, n),
                         "cell_id": uid("c", a, n, i), "auto_score": float(score), "needs_manual_grade": False}
                        for learner, a, n, i, score in itertools.islice(rows, 50_000)]:
            insert(conn, api.Grade.__table__, batch)
        # nbgrader records the schema's migration head when it creates a gradebook; so does this one.
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES (:v)"), {"v": _alembic_head()})
    engine.dispose()


def _alembic_head() -> str:
    """The head of nbgrader's migrations, read from its own alembic scripts (what `alembic heads` prints)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader import api

    config = Config()
    config.set_main_option("script_location", str(Path(api.__file__).parent / "alembic"))
    return ScriptDirectory.from_config(config).get_current_head()


def _write_usage(frame: pd.DataFrame, url: str) -> None:
    """The gateway's `usage` table (adoptkit/gateway/db.py), as the gateway writes a row per request; the
    columns the kit does not read (latency, redactions) get plausible made-up values."""
    from ..gateway import db

    engine = db.connect(url)
    rng = np.random.default_rng(len(frame))
    feature = frame["feature"].astype(str)
    status = frame["status"].to_numpy()
    outcome = np.select([status == 429, status >= 500, status >= 400], ["rate_limited", "upstream_error", "error"],
                        "ok")
    redacted = rng.poisson(0.05, len(frame))
    rows = pd.DataFrame({
        "ts": frame["ts"].dt.tz_convert("UTC").dt.tz_localize(None),
        "learner": frame["learner"].astype(str), "cohort": frame["cohort"].astype(str), "key_id": "simulated",
        "endpoint": feature.where(feature != "stream", "chat"), "model": "course-default",
        "backend": "offline", "backend_model": "adoptkit-offline", "stream": feature == "stream",
        "prompt_tokens": frame["tokens_in"], "completion_tokens": frame["tokens_out"],
        "latency_ms": rng.lognormal(6, 0.5, len(frame)), "status": status, "outcome": outcome,
        "redactions": np.where(redacted > 0, [json.dumps({"EMAIL_ADDRESS": int(n)}) for n in redacted], "{}"),
        "flags": "[]", "error": None,
    })
    rows.to_sql("usage", engine, if_exists="append", index=False, chunksize=50_000)
    engine.dispose()


def _write_submission_files(c: Cohort, submitted: Path) -> None:
    """Timing files as TaskTimer writes them, reaction answers as the survey's Quiz writes them."""
    from ..widgets.quiz import ANSWER_DIR
    from . import reaction, timing

    for (learner, assignment, task), runs in c.timings.groupby(["learner", "assignment", "task"]):
        folder = submitted / learner / assignment / timing.FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        recorded = {str(r.run): {"mode": r.mode, "record": r.record, "started": "", "finished": "",
                                 "seconds": float(r.seconds)} for r in runs.itertuples(index=False)}
        design = {"learner": learner, "order": runs["order"].iloc[0], "rounds": len(runs) // 2}
        (folder / f"{task}.json").write_text(json.dumps({"task": task, "design": design, "runs": recorded}),
                                             encoding="utf-8")
    questions = [q for q, _ in reaction.QUESTIONS]
    for (learner, assignment), given in c.reactions.groupby(["learner", "assignment"]):
        ratings = given.set_index("question")["rating"]
        answers = [reaction.SCALE[int(ratings[q]) - 1] if q in ratings else None for q in questions]
        folder = submitted / learner / assignment / ANSWER_DIR
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{reaction.NAME}.json").write_text(json.dumps({"quiz": reaction.NAME, "answers": answers}),
                                                      encoding="utf-8")
