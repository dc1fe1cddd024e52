"""Plain `nbgrader autograde` gets the hardening through the course config alone."""

from __future__ import annotations

import json
import sqlite3

import nbformat
import pytest
from corpus import CASES
from gradinglib import ASSIGNMENT, OTHER, kernel_processes, nbgrader, needs_root, release, submit

pytestmark = [pytest.mark.slow, needs_root]
PICK = ["correct", "huge-output", "exit-halfway", "deleted-test", "fork-storm", "invalid-json", "other-assignment"]


def test_nbgrader_autograde_is_hardened_by_the_config(course):
    ctx = {"other_release": nbformat.writes(release(course, OTHER)).encode(), "course": str(course)}
    cases = {c.name: c for c in CASES if c.name in PICK}
    for case in cases.values():
        submit(course, case.name, case.build(release(course), ctx))
    before = set(kernel_processes())
    proc = nbgrader(course, "autograde", ASSIGNMENT, check=False)
    # stock nbgrader ends non-zero when any learner failed, after grading all the others
    assert proc.returncode == 1, proc.stderr[-3000:]
    for name, case in cases.items():
        rep = json.loads((course / "_nbgrader" / "reports" / name / ASSIGNMENT / f"{ASSIGNMENT}.json").read_text())
        assert rep["status"] == case.status, (name, rep)
        if case.status != "failed":
            assert rep["score"] == case.score, (name, rep["cells"])
            sandbox = rep["sandbox"]
            assert sandbox["kernel_start"] == "launcher"
            assert {"user", "network", "hide_paths", "cpu_seconds", "file_size"} <= set(sandbox["enforced"])
            assert sandbox["not_enforced"] == {}
        else:
            assert case.reason in rep["reason"]
    graded = course / "_nbgrader" / "autograded" / "huge-output" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert graded.stat().st_size < 200_000
    assert "output cut here" in graded.read_text()
    assert not set(kernel_processes()) - before
    db = sqlite3.connect(course / "_nbgrader" / "gradebook.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    flagged = dict(db.execute("""SELECT s.student_id, n.flagged FROM submitted_notebook n
                                 JOIN submitted_assignment s ON n.assignment_id = s.id""").fetchall())
    assert flagged == {n: int(c.status != "graded") for n, c in cases.items()}
    # the rest of nbgrader carries on as graders know it
    feedback = nbgrader(course, "generate_feedback", ASSIGNMENT, check=False)
    html = course / "_nbgrader" / "feedback" / "deleted-test" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert html.exists(), feedback.stderr[-2000:]
    assert "Grading notes" in html.read_text()
