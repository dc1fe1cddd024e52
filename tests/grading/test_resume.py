"""Ctrl-C and kill -9 in the middle of a cohort lose no grade, and a rerun grades only what is left."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from corpus import CASES
from gradinglib import ASSIGNMENT, kernel_processes, needs_root, processes_matching, release, submit

pytestmark = [pytest.mark.slow, needs_root]
STUDENTS = [f"learner-{i:02d}" for i in range(12)]


def done(course) -> dict[str, float]:
    """Learners fully graded (report and graded notebook), with their report's mtime."""
    out = {}
    for s in STUDENTS:
        rep = course / "_nbgrader" / "reports" / s / ASSIGNMENT / f"{ASSIGNMENT}.json"
        graded = course / "_nbgrader" / "autograded" / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        if rep.exists() and graded.exists():
            out[s] = rep.stat().st_mtime_ns
    return out


def start(course, log):
    cmd = [sys.executable, "-m", "adoptkit.cli", "grade", ASSIGNMENT, "-j", "2", "--no-feedback",
           "--course-config", str(course / "nbgrader_config.py")]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def wait_for(predicate, timeout=180):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


def test_interrupt_and_kill_then_resume(course, tmp_path):
    correct, wrong = (next(c for c in CASES if c.name == n) for n in ("correct", "wrong"))
    for i, s in enumerate(STUDENTS):
        submit(course, s, (wrong if i % 3 == 0 else correct).build(release(course), {}))
    before = set(kernel_processes())

    with open(tmp_path / "run1.log", "w") as log:  # Ctrl-C
        proc = start(course, log)
        wait_for(lambda: len(done(course)) >= 2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130
    assert "interrupted" in (tmp_path / "run1.log").read_text()
    after_interrupt = done(course)
    assert 2 <= len(after_interrupt) < len(STUDENTS), (tmp_path / "run1.log").read_text()[-3000:]

    with open(tmp_path / "run2.log", "w") as log:  # kill -9
        proc = start(course, log)
        wait_for(lambda: len(done(course)) >= len(after_interrupt) + 2)
        proc.kill()
        proc.wait(timeout=30)
    wait_for(lambda: not (set(kernel_processes()) - before) and not processes_matching(str(course)), 30)
    after_kill = done(course)
    log2 = (tmp_path / "run2.log").read_text()[-3000:]
    assert all(after_kill[s] == t for s, t in after_interrupt.items()), f"the second run regraded learners:\n{log2}"
    assert len(after_kill) < len(STUDENTS), f"the kill came too late to test anything:\n{log2}"

    third = subprocess.run([sys.executable, "-m", "adoptkit.cli", "grade", ASSIGNMENT, "-j", "2", "--no-feedback",
                            "--course-config", str(course / "nbgrader_config.py")],
                           capture_output=True, text=True, timeout=600, check=False)
    assert third.returncode == 0, third.stderr[-3000:]
    assert f"{len(after_kill)} learner(s) already graded and unchanged: skipped" in third.stderr, third.stderr[-3000:]
    final = done(course)
    assert set(final) == set(STUDENTS)
    assert all(final[s] == t for s, t in after_kill.items()), f"the rerun regraded learners:\n{third.stderr[-3000:]}"
    db = sqlite3.connect(course / "_nbgrader" / "gradebook.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for i, s in enumerate(STUDENTS):
        rep = json.loads((course / "_nbgrader" / "reports" / s / ASSIGNMENT / f"{ASSIGNMENT}.json").read_text())
        expected = 2 if i % 3 == 0 else 6
        total = db.execute("""SELECT SUM(g.auto_score) FROM grade g JOIN submitted_notebook n ON g.notebook_id = n.id
                              JOIN submitted_assignment a ON n.assignment_id = a.id WHERE a.student_id = ?""",
                           (s,)).fetchone()[0]
        assert rep["score"] == total == expected, s
    # --force regrades everyone
    forced = subprocess.run([sys.executable, "-m", "adoptkit.cli", "grade", ASSIGNMENT, "--force", "--no-feedback",
                             "--course-config", str(course / "nbgrader_config.py")],
                            capture_output=True, text=True, timeout=600, check=False)
    assert forced.returncode == 0 and "skipped" not in forced.stderr, forced.stderr[-3000:]
    assert all(t != final[s] for s, t in done(course).items())
