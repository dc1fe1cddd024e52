"""`adoptkit grade` refuses what it cannot do well: no submissions, or a second run on the same assignment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
from corpus import answered, dump
from gradinglib import ASSIGNMENT, release, submit, venv_env

from adoptkit.grading.runner import RunLock


def grade(course: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "adoptkit.cli", "grade", ASSIGNMENT, "-j", "1", "--no-feedback",
                           "--course-config", str(course / "nbgrader_config.py")],
                          capture_output=True, text=True, timeout=600, env=venv_env())


def test_no_submissions_says_where_they_go_and_exits_non_zero(course):
    proc = grade(course)
    assert proc.returncode == 2, proc.stderr[-2000:]
    text = " ".join(proc.stderr.split())  # rich wraps long lines
    assert "no submissions of 'fixture-hw'" in text
    assert str(course / "_nbgrader" / "submitted") in text.replace(" ", "") or "submitted/<learner>/fixture-hw" in text
    assert "nbgrader collect fixture-hw" in text
    assert "0 learner(s) graded" not in text


def test_a_second_run_is_refused_and_names_the_first(course):
    submit(course, "ann", dump(answered(release(course))))
    lock = RunLock(course / "_nbgrader" / "reports" / f".{ASSIGNMENT}.grading.lock")
    lock.acquire()  # this test process plays the first run
    try:
        proc = grade(course)
    finally:
        lock.release()
    assert proc.returncode == 2, proc.stderr[-2000:]
    text = " ".join(proc.stderr.split())
    assert "another `adoptkit grade` is grading this assignment" in text
    assert f"pid {os.getpid()}" in text and socket.gethostname() in text and "since" in text
    assert not (course / "_nbgrader" / "autograded" / "ann").exists(), "the refused run graded anyway"
    again = grade(course)  # the lock is free again: this run grades
    assert again.returncode == 0, again.stderr[-3000:]
    assert nbformat.read(course / "_nbgrader" / "autograded" / "ann" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                         as_version=4)
