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
            assert {"user", "network", "private_root", "ipc", "cpu_seconds", "file_size"} <= set(sandbox["enforced"])
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


def test_collect_and_release_feedback_never_copy_through_a_link(course, tmp_path):
    """`nbgrader collect` as root turned links in the exchange into plain copies; with harden(c) it refuses
    them (and FIFOs, and another user's files), records why, and autograde flags the submission."""
    import os

    from corpus import SECRET, answered, dump

    secret = course / "secret.txt"
    secret.write_text(SECRET)
    exchange = tmp_path / "exchange"
    inbound = exchange / "course101" / "inbound" / f"ann+{ASSIGNMENT}+2026-03-02 10:00:00.000000 UTC"
    inbound.mkdir(parents=True)
    (inbound / f"{ASSIGNMENT}.ipynb").write_bytes(dump(answered(release(course))))
    (inbound / "timestamp.txt").write_text("2026-03-02 10:00:00.000000 UTC")
    (inbound / "submission_secret.txt").write_text("a-secret-nbgrader-submit-writes")  # as `nbgrader submit` does
    os.symlink(secret, inbound / "notes.txt")
    os.mkfifo(inbound / "pipe")
    (inbound / "theirs.txt").write_text(SECRET)
    os.chown(inbound / "theirs.txt", 61234, 61234)
    flags = ["--CourseDirectory.course_id=course101", f"--Exchange.root={exchange}"]
    collect = nbgrader(course, "collect", ASSIGNMENT, *flags, check=False)
    assert collect.returncode == 0, collect.stderr[-3000:]
    submitted = course / "_nbgrader" / "submitted" / "ann" / ASSIGNMENT
    assert (submitted / f"{ASSIGNMENT}.ipynb").is_file()
    for name in ("notes.txt", "pipe", "theirs.txt"):
        assert not os.path.lexists(submitted / name), f"{name} was collected"
    assert "Refused" in collect.stderr
    nbgrader(course, "autograde", ASSIGNMENT, check=False)
    rep = json.loads((course / "_nbgrader" / "reports" / "ann" / ASSIGNMENT / f"{ASSIGNMENT}.json").read_text())
    assert rep["status"] == "flagged" and rep["score"] == 6
    detail = " ".join(f["detail"] for f in rep["flags"])
    assert "notes.txt: a symbolic link" in detail and "FIFO" in detail and "owned by another user" in detail
    # release_feedback sends only regular HTML files: a link planted among the feedback stays home
    nbgrader(course, "generate_feedback", ASSIGNMENT, check=False)
    feedback = course / "_nbgrader" / "feedback" / "ann" / ASSIGNMENT
    assert (feedback / f"{ASSIGNMENT}.html").is_file()
    os.symlink(secret, feedback / "extra.html")
    released = nbgrader(course, "release_feedback", ASSIGNMENT, *flags, check=False)
    assert released.returncode == 0, released.stderr[-3000:]
    out = list((exchange / "course101" / "feedback").rglob("*.html"))
    assert out and all(SECRET not in p.read_text() for p in out)
    assert not any(p.is_symlink() for p in out)
