"""The grader's report: one JSON file per learner and notebook, plus the formgrader flag.

`<reports>/<student>/<assignment>/<notebook>.json` says how the notebook was graded: status
(graded, flagged, failed), the reason when it failed, each grade cell's score and whether it failed
in its hidden tests, every flag and note, and what the sandbox enforced. The report is written
last and atomically, with the submission's sha256, so the cohort runner knows what is done.
Flagged and failed notebooks are also flagged in the gradebook (the formgrader shows it) and get
a note at the top of the graded notebook (the feedback shows it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import nbformat
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from .config import Hardening
from .kernel import reports_root
from .record import KEY, section
from .tamper import failing_line, gradebook_lock, hidden_lines


def coursedir_of(obj) -> CourseDirectory:
    """The converter's CourseDirectory, found up the traitlets parent chain (or built from config)."""
    p = obj
    while p is not None:
        if isinstance(getattr(p, "coursedir", None), CourseDirectory):
            return p.coursedir
        p = getattr(p, "parent", None)
    return CourseDirectory(config=obj.config)


def report_path(cd: CourseDirectory, hardening: Hardening, student: str, assignment: str, notebook: str) -> Path:
    return Path(reports_root(cd, hardening)) / student / assignment / f"{notebook}.json"


def submission_sha256(cd: CourseDirectory, student: str, assignment: str, notebook: str) -> str | None:
    path = Path(cd.format_path(cd.submitted_directory, student, assignment)) / f"{notebook}.ipynb"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def read_report(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def record_failure(obj, resources: dict, reason: str) -> None:
    """A notebook that cannot be graded: a failed report, 0 needing a manual grade, flagged."""
    info = resources.get("nbgrader", {})
    student, assignment, notebook = info.get("student"), info.get("assignment"), info.get("notebook")
    if not (student and assignment and notebook):
        return
    cd = coursedir_of(obj)
    with gradebook_lock(info["db_url"]), Gradebook(info["db_url"]) as gb:
        try:
            sub = gb.find_submission_notebook(notebook, assignment, student)
        except MissingEntry:
            sub = None
        if sub is not None:
            for grade in sub.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = True
            sub.flagged = True
            gb.db.commit()
    write_json(report_path(cd, Hardening(config=obj.config), student, assignment, notebook), {
        "student": student, "assignment": assignment, "notebook": notebook, "status": "failed",
        "reason": reason, "score": 0.0, "max_score": None, "cells": [], "flags": [], "notes": [],
        "submission_sha256": submission_sha256(cd, student, assignment, notebook), "graded_at": _now(),
    })


def _cell_results(nb) -> list[dict]:
    rows = []
    for cell in nb.cells:
        if not utils.is_grade(cell):
            continue
        score, points = utils.determine_grade(cell)
        hidden = hidden_lines(cell.source) if cell.cell_type == "code" else set()
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        line = failing_line(error) if error else None
        rows.append({
            "grade_id": cell.metadata.nbgrader["grade_id"], "points": points, "score": score,
            "hidden_tests": bool(hidden), "error": error.get("ename") if error else None,
            "failed_in_hidden": bool(hidden and line in hidden),
        })
    return rows


def _plain(text: str) -> str:
    """Learner-influenced text (file and cell names) shown as text, never as markup."""
    import html
    import re

    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", html.unescape(str(text))).replace("\n", " ")


def _note_cell(meta: dict):
    lines = ["**Grading notes** (added by the grader's tools; they explain the scores below)", ""]
    lines += [f"- **{f['kind'].replace('_', ' ')}**: {_plain(f['detail'])}" for f in meta["flags"]]
    lines += [f"- {_plain(n['detail'])}" for n in meta["notes"]]
    cell = nbformat.v4.new_markdown_cell("\n".join(lines))
    cell.pop("id", None)
    cell.metadata[KEY] = {"grading_notes": True}
    return cell


class WriteReport(NbGraderPreprocessor):
    """Last autograde step: the report, the gradebook flag, and the note at the top of the notebook."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        student, assignment, notebook = info["student"], info["assignment"], info["notebook"]
        meta = section(nb)
        cells = _cell_results(nb)
        flagged = bool(meta["flags"])
        with gradebook_lock(info["db_url"]), Gradebook(info["db_url"]) as gb:
            sub = gb.find_submission_notebook(notebook, assignment, student)
            sub.flagged = flagged
            gb.db.commit()
        nb.cells = [c for c in nb.cells if not c.metadata.get(KEY, {}).get("grading_notes")]
        if meta["flags"] or meta["notes"]:
            nb.cells.insert(0, _note_cell(meta))
        cd = coursedir_of(self)
        scored = [c["score"] for c in cells if c["score"] is not None]
        write_json(report_path(cd, Hardening(config=self.config), student, assignment, notebook), {
            "student": student, "assignment": assignment, "notebook": notebook,
            "status": "flagged" if flagged else "graded", "reason": None,
            "score": sum(scored), "max_score": sum(c["points"] for c in cells),
            "needs_manual_grade": any(c["score"] is None for c in cells),
            "cells": cells, "flags": meta["flags"], "notes": meta["notes"], "sandbox": meta.get("sandbox", {}),
            "submission_sha256": submission_sha256(cd, student, assignment, notebook), "graded_at": _now(),
        })
        return nb, resources
