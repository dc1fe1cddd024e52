"""The cohort runner behind `adoptkit grade ASSIGNMENT`: nbgrader's autograde, many learners at once.

It stays nbgrader: each learner is graded by nbgrader's own Autograde converter with the course's
config (so the gradebook, the feedback and the formgrader work as before). What it adds:

- long-lived worker processes (default one per core), forked after nbgrader is imported, so no
  learner pays nbgrader's start-up; each keeps a warm kernel factory and the next kernel started;
- gradebook writes serialised across workers (SQLite) or left to the server (PostgreSQL);
- resumable: a learner is done when every submitted notebook has a report whose sha256 matches the
  submission (and a graded notebook, unless it failed); reports are written last and atomically, so
  Ctrl-C or kill -9 loses nothing already graded and a rerun grades only what is left;
- `--scheduler tcp://...` sends the same per-learner task to a Dask cluster;
- then feedback for every learner, a grades CSV for an LMS or HRIS, and a per-question table.
"""

from __future__ import annotations

import atexit
import csv
import glob
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.util import Finalize
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde, GenerateFeedback, NbGraderException
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import Config, PyFileConfigLoader

from .config import Hardening
from .kernel import KernelPool, install_pool, reports_root
from .report import read_report, report_path, submission_sha256
from .tamper import gradebook_lock


class CourseError(Exception):
    """The course or assignment cannot be graded as asked; the message says what to do."""


def load_config(config_file: str) -> Config:
    path = Path(config_file).resolve()
    if not path.is_file():
        raise CourseError(f"no nbgrader config at {path}; pass --course-config autograders/nbgrader_config.py")
    config = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    from .pipeline import AUTOGRADE

    if list(config.get("Autograde", {}).get("autograde_preprocessors", [])) != AUTOGRADE:
        from . import harden

        harden(config)  # the runner always grades hardened; the config should say so too
    return config


@dataclass
class Outcome:
    student: str
    status: str  # graded, flagged or failed
    score: float = 0.0
    max_score: float = 0.0
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0


# ---------------------------------------------------------------- in a worker process

_STATE: dict = {}


def _share_engines() -> None:
    """One SQLAlchemy engine per gradebook URL in this process: nbgrader makes a new engine for every
    step, which re-compiles every query; sharing it keeps SQLAlchemy's statement cache warm. nbgrader also
    lists the database's tables and checks each one at every opening of the gradebook (eleven a learner);
    here that is done once per engine, the first time."""
    import sqlalchemy
    from nbgrader import api

    if getattr(api.create_engine, "_adoptkit_shared", False):
        return
    engines: dict = {}
    checked: set = set()
    metadata, real_inspect, real_create_all = api.Base.metadata, api.inspect, api.Base.metadata.create_all

    def create_engine(url, **kw):
        key = (str(url), tuple(sorted(kw.items())))
        if key not in engines:
            engines[key] = sqlalchemy.create_engine(url, **kw)
        return engines[key]

    class Checked:  # what Gradebook.__init__ asks of an engine whose tables are known to exist
        @staticmethod
        def get_table_names():
            return list(metadata.tables)

    def inspect(engine):
        return Checked if engine in checked else real_inspect(engine)

    def create_all(bind=None, **kw):
        if bind not in checked:
            real_create_all(bind=bind, **kw)
            checked.add(bind)

    create_engine._adoptkit_shared = True
    api.create_engine, api.inspect, metadata.create_all = create_engine, inspect, create_all


def _cache_metadata_schemas() -> None:
    """nbgrader checks each cell's metadata with `jsonschema.validate`, which re-checks the schema and
    builds a validator every call; in a worker, build one validator per schema and reuse it."""
    import json

    import jsonschema
    from nbgrader.nbgraderformat import common

    if getattr(common.jsonschema, "_adoptkit_cached", False):
        return
    validators: dict = {}

    class CachedJsonschema:
        _adoptkit_cached = True
        ValidationError = jsonschema.ValidationError

        @staticmethod
        def validate(instance, schema):
            key = json.dumps(schema, sort_keys=True)
            if key not in validators:
                cls = jsonschema.validators.validator_for(schema)
                cls.check_schema(schema)
                validators[key] = cls(schema)
            error = jsonschema.exceptions.best_match(validators[key].iter_errors(instance))
            if error is not None:
                raise error

    common.jsonschema = CachedJsonschema


def _worker(config_file: str) -> dict:
    if _STATE.get("config_file") != config_file:
        import warnings

        from sqlalchemy.exc import SAWarning

        # nbgrader 0.9.6 on SQLAlchemy 2.x warns this for every learner's first submission (stock
        # `nbgrader autograde` too); it is harmless and would scroll the progress bar away
        warnings.filterwarnings("ignore", message="Object of type .* not in session", category=SAWarning)
        config = load_config(config_file)
        _share_engines()
        _cache_metadata_schemas()
        pool = KernelPool(config)
        install_pool(pool)
        # multiprocessing workers leave through os._exit, which skips atexit; Finalize runs either way
        Finalize(pool, pool.close, exitpriority=10)
        atexit.register(pool.close)
        log = logging.getLogger("adoptkit.grading.worker")
        log.propagate = False
        log.setLevel(logging.WARNING)
        _STATE.update(config_file=config_file, config=config, pool=pool, log=log)
    return _STATE


def _init_process(config_file: str, runner_pid: int) -> None:
    import signal

    from .sandbox import die_with_parent

    die_with_parent(runner_pid)  # the runner killed (even -9) takes its workers, zygotes and kernels with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    _worker(config_file)["pool"].warm()


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record):
        msg = record.getMessage().strip()
        if msg.startswith("Traceback") or msg and not msg.startswith(("There was an error processing", "Please see")):  # the exception's own line says what went wrong
            self.messages.append(msg.splitlines()[-1])


class CohortAutograde(Autograde):
    """nbgrader's Autograde with its gradebook set-up held under the gradebook lock."""

    def init_assignment(self, assignment_id, student_id):
        with gradebook_lock(self.coursedir.db_url):
            super().init_assignment(assignment_id, student_id)


def grade_student(config_file: str, assignment: str, student: str) -> Outcome:
    """Autograde one learner's submission with nbgrader (the task a worker or Dask runs)."""
    state = _worker(config_file)
    start = time.perf_counter()
    cd = CourseDirectory(config=state["config"])
    cd.assignment_id, cd.student_id = assignment, student
    converter = CohortAutograde(coursedir=cd, config=state["config"], log=state["log"])
    converter.force = True
    errors = _Collect()
    state["log"].addHandler(errors)
    crashed = None
    try:
        converter.start()
    except NbGraderException:
        pass
    except Exception as err:  # noqa: BLE001 - one learner's problem never stops the cohort
        crashed = f"{type(err).__name__}: {err}"
    finally:
        state["log"].removeHandler(errors)
    outcome = outcome_from_reports(cd, Hardening(config=state["config"]), assignment, student)
    if crashed or (outcome.status == "failed" and not outcome.max_score and errors.messages
                   and all("not graded" in r for r in outcome.reasons)):
        outcome.status = "failed"
        outcome.reasons = [crashed or errors.messages[-1]]
    outcome.seconds = time.perf_counter() - start
    return outcome


def feedback_student(config_file: str, assignment: str, student: str) -> str | None:
    """nbgrader's generate_feedback for one learner; returns an error message or None."""
    state = _worker(config_file)
    cd = CourseDirectory(config=state["config"])
    cd.assignment_id, cd.student_id = assignment, student
    converter = GenerateFeedback(coursedir=cd, config=state["config"], log=state["log"])
    converter.force = True
    errors = _Collect()
    state["log"].addHandler(errors)
    try:
        converter.start()
        return None
    except Exception as err:  # noqa: BLE001
        return errors.messages[-1] if errors.messages else str(err)
    finally:
        state["log"].removeHandler(errors)


# ---------------------------------------------------------------- reading results


def notebooks_of(cd: CourseDirectory, assignment: str) -> list[str]:
    with Gradebook(cd.db_url, cd.course_id) as gb:
        try:
            return [nb.name for nb in gb.find_assignment(assignment).notebooks]
        except MissingEntry:
            raise CourseError(f"assignment {assignment!r} is not in the gradebook ({cd.db_url}); run "
                              f"`nbgrader generate_assignment {assignment}` with the course config first") from None


def submitted_notebooks(cd: CourseDirectory, assignment: str, student: str, notebooks: list[str]) -> list[str]:
    folder = Path(cd.format_path(cd.submitted_directory, student, assignment))
    return [nb for nb in notebooks if (folder / f"{nb}.ipynb").exists()]


def outcome_from_reports(cd, hardening, assignment: str, student: str, notebooks: list[str] | None = None) -> Outcome:
    notebooks = submitted_notebooks(cd, assignment, student, notebooks or notebooks_of(cd, assignment))
    out = Outcome(student, "graded")
    label = (lambda nb: f"{nb}: ") if len(notebooks) > 1 else (lambda nb: "")
    if not notebooks:
        return Outcome(student, "failed", reasons=["no notebook of this assignment was submitted (wrong file names?)"])
    for nb in notebooks:
        report = read_report(report_path(cd, hardening, student, assignment, nb))
        if report is None:
            out.status = "failed"
            out.reasons.append(f"{label(nb)}not graded (nbgrader stopped before the report; see its log)")
            continue
        out.score += report.get("score") or 0.0
        out.max_score += report.get("max_score") or 0.0
        if report["status"] == "failed":
            out.status = "failed"
            out.reasons.append(f"{label(nb)}{report['reason']}")
        elif report["status"] == "flagged":
            out.status = "flagged" if out.status == "graded" else out.status
            out.reasons += [f"{label(nb)}{f['detail']}" for f in report["flags"]]
    return out


def is_done(cd, hardening, assignment: str, student: str, notebooks: list[str]) -> bool:
    submitted = submitted_notebooks(cd, assignment, student, notebooks)
    if not submitted:
        return False
    graded_dir = Path(cd.format_path(cd.autograded_directory, student, assignment))
    for nb in submitted:
        report = read_report(report_path(cd, hardening, student, assignment, nb))
        if report is None or report.get("submission_sha256") != submission_sha256(cd, student, assignment, nb):
            return False
        if report["status"] != "failed" and not (graded_dir / f"{nb}.ipynb").exists():
            return False
    return True


def students_of(cd: CourseDirectory, assignment: str) -> list[str]:
    pattern = cd.format_path(cd.submitted_directory, "*", assignment)
    prefix, suffix = pattern.split("*", 1)
    excluded = set(filter(None, cd.student_id_exclude.split(",")))
    found = [p[len(prefix): len(p) - len(suffix)] for p in glob.glob(pattern) if os.path.isdir(p)]
    return sorted(s for s in found if s and os.sep not in s and s not in excluded)


# ---------------------------------------------------------------- the run


@dataclass
class CohortResult:
    assignment: str
    outcomes: list[Outcome]  # graded in this run
    skipped: list[str]
    seconds: float
    earlier: list[Outcome] = field(default_factory=list)  # the skipped learners, from their reports
    interrupted: bool = False
    feedback_errors: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def count(self, status: str, earlier: bool = False) -> int:
        return sum(o.status == status for o in (self.earlier if earlier else self.outcomes))

    @property
    def needs_attention(self) -> bool:
        """Anything a person must look at: a flagged or failed learner (from this run or an earlier one)."""
        return (self.interrupted or bool(self.feedback_errors)
                or any(o.status != "graded" for o in self.outcomes + self.earlier))


class RunLock:
    """One `adoptkit grade` per assignment and course at a time: an flock held for the run, with who holds
    it (pid, host, since when) written inside for the run that finds it taken. The OS drops it when the
    holder dies, so a killed run never leaves a stale lock."""

    def __init__(self, path: Path):
        self.path, self.fd = path, None

    def acquire(self) -> None:
        import fcntl
        import json
        import socket

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
            except ValueError:
                holder = {}
            os.close(fd)
            raise CourseError(
                f"another `adoptkit grade` is grading this assignment: pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}, since {holder.get('since', '?')} (lock {self.path}). Wait for it to "
                "finish (it grades everyone not yet graded), or stop it first; two runs would grade the same "
                "learners twice") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "since": time.strftime("%Y-%m-%d %H:%M:%S %z")}).encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None


class _LocalPool:
    def __init__(self, config_file: str, workers: int):
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"),
                                            initializer=_init_process, initargs=(config_file, os.getpid()))

    def submit(self, fn, *args):
        return self.executor.submit(fn, *args)

    def completed(self, futures):
        return as_completed(futures)

    def close(self, cancel: bool = False) -> None:
        self.executor.shutdown(wait=True, cancel_futures=cancel)


class _DaskPool:
    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise CourseError("--scheduler needs Dask: pip install 'adoptkit[cluster]'") from None
        self.client = Client(address, timeout="20s")

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def completed(self, futures):
        from distributed import as_completed as dask_completed

        return dask_completed(list(futures))

    def close(self, cancel: bool = False) -> None:
        self.client.close()


def run(assignment: str, config_file: str, *, workers: int | None = None, force: bool = False,
        scheduler: str | None = None, feedback: bool = True, progress=None) -> CohortResult:
    """Grade every learner's submission of `assignment` that is not graded yet (all, with force)."""
    config_file = str(Path(config_file).resolve())
    config = load_config(config_file)
    cd = CourseDirectory(config=config)
    hardening = Hardening(config=config)
    notebooks = notebooks_of(cd, assignment)
    students = students_of(cd, assignment)
    if not students:
        folder = cd.format_path(cd.submitted_directory, "<learner>", assignment)
        raise CourseError(
            f"no submissions of {assignment!r} to grade: nothing matches {folder}. Learners' notebooks get "
            f"there with `nbgrader collect {assignment}` (from the exchange, after learners submit in JupyterHub's "
            f"Assignments tab or with `nbgrader submit`), or by copying each learner's notebook to "
            f"{cd.format_path(cd.submitted_directory, '<learner>', assignment)}/<notebook>.ipynb")
    lock = RunLock(Path(reports_root(cd, hardening)) / f".{assignment}.grading.lock")
    lock.acquire()
    try:
        return _run(assignment, config_file, cd, hardening, notebooks, students, workers, force, scheduler,
                    feedback, progress)
    finally:
        lock.release()


def _run(assignment, config_file, cd, hardening, notebooks, students, workers, force, scheduler, feedback,
         progress) -> CohortResult:
    todo = [s for s in students if force or not is_done(cd, hardening, assignment, s, notebooks)]
    result = CohortResult(assignment, [], [s for s in students if s not in todo], 0.0)
    result.earlier = [outcome_from_reports(cd, hardening, assignment, s, notebooks) for s in result.skipped]
    started = time.perf_counter()
    if todo:
        pool = _DaskPool(scheduler) if scheduler else _LocalPool(config_file, workers or os.cpu_count() or 1)
        if progress:
            progress.start(len(todo), len(result.skipped))
        try:
            _grade_all(pool, config_file, assignment, todo, result, progress)
            if feedback:
                _feedback_all(pool, config_file, assignment, result, progress)
        except KeyboardInterrupt:  # learners in flight finish and keep their grades; a second Ctrl-C quits now
            result.interrupted = True
            pool.close(cancel=True)
        else:
            pool.close()
        finally:
            if progress:
                progress.stop()
    result.seconds = time.perf_counter() - started
    result.files = export(cd, hardening, assignment, students)
    return result


def _grade_all(pool, config_file, assignment, todo, result, progress) -> None:
    futures = {pool.submit(grade_student, config_file, assignment, s): s for s in todo}
    for fut in pool.completed(futures):
        try:
            outcome = fut.result()
        except Exception as err:  # noqa: BLE001 - a worker lost mid-learner
            outcome = Outcome(futures[fut], "failed", reasons=[f"worker failed: {err}"])
        result.outcomes.append(outcome)
        if progress:
            progress.advance(outcome)


def _feedback_all(pool, config_file, assignment, result, progress) -> None:
    graded = [o.student for o in result.outcomes if o.status != "failed"]
    if progress:
        progress.phase("feedback", len(graded))
    jobs = {pool.submit(feedback_student, config_file, assignment, s): s for s in graded}
    for fut in pool.completed(jobs):
        try:
            error = fut.result()
        except Exception as err:  # noqa: BLE001
            error = str(err)
        if error:
            result.feedback_errors[jobs[fut]] = error
        if progress:
            progress.advance(None)


# ---------------------------------------------------------------- exports


def export(cd: CourseDirectory, hardening: Hardening, assignment: str, students: list[str]) -> dict[str, str]:
    """Write the grades CSV and the per-question difficulty CSV; return their paths."""
    root = Path(reports_root(cd, hardening))
    root.mkdir(parents=True, exist_ok=True)
    grades, difficulty = root / f"{assignment}-grades.csv", root / f"{assignment}-difficulty.csv"
    write_csv(grades, grade_rows(cd, hardening, assignment))
    write_csv(difficulty, difficulty_rows(cd, hardening, assignment, students))
    return {"grades": str(grades), "difficulty": str(difficulty)}


def write_csv(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        if rows:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    os.replace(tmp, path)


def grade_rows(cd: CourseDirectory, hardening: Hardening, assignment: str) -> list[dict]:
    """One row per learner: identity columns an LMS/HRIS matches on, the score, and whether it is final."""
    rows = []
    with Gradebook(cd.db_url, cd.course_id) as gb:
        for sub in sorted(gb.find_assignment(assignment).submissions, key=lambda s: s.student.id):
            st = sub.student
            names = [nb.name for nb in sub.notebooks]
            submitted = submitted_notebooks(cd, assignment, st.id, names)
            statuses = []
            for name in submitted:  # a notebook not handed in is scored 0 by nbgrader and listed as missing
                rep = read_report(report_path(cd, hardening, st.id, assignment, name))
                statuses.append(rep["status"] if rep else "not graded")
            status = next((s for s in ("failed", "not graded", "flagged") if s in statuses), "graded")
            penalty = sum(nb.late_submission_penalty or 0 for nb in sub.notebooks)
            score = max(0.0, sub.score - penalty)
            rows.append({
                "student_id": st.id, "first_name": st.first_name or "", "last_name": st.last_name or "",
                "email": st.email or "", "lms_user_id": st.lms_user_id or "", "assignment": assignment,
                "score": round(score, 4), "max_score": sub.max_score,
                "percent": round(100 * score / sub.max_score, 2) if sub.max_score else "",
                "late_penalty": penalty, "needs_manual_grade": sub.needs_manual_grade,
                "flagged": any(nb.flagged for nb in sub.notebooks), "status": status,
                "missing_notebooks": ";".join(n for n in names if n not in submitted),
                "submitted_at": sub.timestamp.isoformat() if sub.timestamp else "",
            })
    return rows


def difficulty_rows(cd: CourseDirectory, hardening: Hardening, assignment: str, students: list[str]) -> list[dict]:
    """Per grade cell: how many learners, mean score, full marks, and the share failing hidden tests."""
    cells: dict[tuple[str, str], list[dict]] = {}
    notebooks = notebooks_of(cd, assignment)
    for student in students:
        for nb in notebooks:
            rep = read_report(report_path(cd, hardening, student, assignment, nb))
            for cell in (rep or {}).get("cells", []):
                cells.setdefault((nb, cell["grade_id"]), []).append(cell)
    rows = []
    for (nb, grade_id), results in cells.items():
        scored = [c for c in results if c["score"] is not None]
        points = results[0]["points"]
        mean = sum(c["score"] for c in scored) / len(scored) if scored else None
        rows.append({
            "notebook": nb, "grade_id": grade_id, "points": points, "learners": len(results),
            "mean_score": round(mean, 3) if mean is not None else "",
            "mean_percent": round(100 * mean / points, 1) if mean is not None and points else "",
            "full_marks_share": round(sum(c["score"] == points for c in scored) / len(results), 3),
            "hidden_tests": results[0]["hidden_tests"],
            "hidden_test_failure_share": (round(sum(c["failed_in_hidden"] for c in results) / len(results), 3)
                                          if results[0]["hidden_tests"] else ""),
        })
    return sorted(rows, key=lambda r: (r["mean_percent"] if r["mean_percent"] != "" else 101))

