"""The hostile and broken corpus through `adoptkit grade`: every case gets its score or its flag."""

from __future__ import annotations

import csv
import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from corpus import CASES
from gradinglib import ASSIGNMENT, OTHER, kernel_processes, make_course, needs_root, release, submit

pytestmark = [pytest.mark.slow, needs_root]


class Listener:
    """A TCP server on 127.0.0.1 that counts the connections it gets (the notebook must get none)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port, self.connections, self._stop = self.sock.getsockname()[1], 0, False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self._stop = True
        self.thread.join()
        self.sock.close()


def outputs_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        parts.append(cell.source if cell.cell_type == "markdown" else "")
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") + out.get("evalue", "") + json.dumps(out.get("data", {})))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def graded(course_template, tmp_path_factory):
    """Submit every case, grade the cohort once with two workers, and hand back what is needed to check."""
    course = make_course(course_template, tmp_path_factory.mktemp("corpus") / "course")
    listener = Listener()
    gradebook = course / "_nbgrader" / "gradebook.db"
    ctx = {"port": listener.port, "course": str(course), "gradebook": str(gradebook),
           "other_release": nbformat.writes(release(course, OTHER)).encode()}
    rel = release(course)
    for case in CASES:
        submit(course, case.name, case.build(rel, ctx))
    before = set(kernel_processes())
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "adoptkit.cli", "grade", ASSIGNMENT, "-j", "2",
                           "--course-config", str(course / "nbgrader_config.py")],
                          capture_output=True, text=True, timeout=900, check=False)
    elapsed = time.perf_counter() - start
    listener.close()
    yield {"course": course, "proc": proc, "listener": listener, "before": before, "elapsed": elapsed}


def report(course: Path, student: str) -> dict:
    return json.loads((course / "_nbgrader" / "reports" / student / ASSIGNMENT / f"{ASSIGNMENT}.json").read_text())


def test_every_case_gets_its_outcome(graded):
    course, proc = graded["course"], graded["proc"]
    print(proc.stderr[-6000:])
    print(f"corpus of {len(CASES)} graded in {graded['elapsed']:.1f} s")
    assert proc.returncode == 1, "flagged and failed notebooks need the grader's attention: exit 1"
    assert "needs the grader's attention" in proc.stderr
    problems = []
    for case in CASES:
        rep = report(course, case.name)
        status, score, expected_score = rep["status"], rep["score"], case.score
        texts = " ".join([rep.get("reason") or ""] + [f["detail"] for f in rep["flags"]])
        kinds = {f["kind"] for f in rep["flags"]}
        if case.name == "memory-grab" and "memory" not in rep.get("sandbox", {}).get("cgroup_limits", ["memory"]):
            # no memory cgroup on this host: RLIMIT_AS makes the grab a MemoryError instead of a kill
            status, expected_score, kinds, texts = "flagged", 6, {"kernel_died"}, "out of memory"
        if status != case.status:
            problems.append(f"{case.name}: status {status}, expected {case.status} ({texts})")
        if case.status != "failed" and score != expected_score:
            problems.append(f"{case.name}: score {score}, expected {expected_score} ({rep['cells']})")
        if not set(case.flags) <= kinds:
            problems.append(f"{case.name}: flags {sorted(kinds)}, expected {case.flags}")
        if case.reason and case.reason not in texts:
            problems.append(f"{case.name}: {case.reason!r} not in {texts!r}")
        if not set(case.notes) <= {n["kind"] for n in rep["notes"]}:
            problems.append(f"{case.name}: notes {rep['notes']}, expected {case.notes}")
        hidden = sorted(c["grade_id"] for c in rep["cells"] if c["failed_in_hidden"])
        if case.hidden_failures and hidden != sorted(case.hidden_failures):
            problems.append(f"{case.name}: hidden-test failures {hidden}, expected {case.hidden_failures}")
        if case.status == "graded" and kinds:
            problems.append(f"{case.name}: unexpected flags {rep['flags']}")
        graded_nb = course / "_nbgrader" / "autograded" / case.name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        if case.status != "failed":
            text = outputs_text(graded_nb)
            problems += [f"{case.name}: output lacks {s!r}" for s in case.outputs_contain if s not in text]
            problems += [f"{case.name}: output has {s!r}" for s in case.outputs_lack if s in text]
        elif graded_nb.exists():
            problems.append(f"{case.name}: a failed submission left a graded notebook")
    assert not problems, "\n".join(problems)


def test_gradebook_is_consistent_and_agrees_with_the_reports(graded):
    course = graded["course"]
    db = sqlite3.connect(course / "_nbgrader" / "gradebook.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = db.execute("""
        SELECT s.student_id, SUM(g.auto_score), MAX(n.flagged), MAX(g.needs_manual_grade)
        FROM grade g JOIN submitted_notebook n ON g.notebook_id = n.id
        JOIN submitted_assignment s ON n.assignment_id = s.id GROUP BY s.student_id""").fetchall()
    by_student = {r[0]: r[1:] for r in rows}
    assert set(by_student) == {c.name for c in CASES}
    assert db.execute("SELECT COUNT(*) FROM grade WHERE manual_score IS NOT NULL").fetchone()[0] == 0
    for case in CASES:
        auto, flagged, manual = by_student[case.name]
        assert auto == report(course, case.name)["score"], case.name
        assert bool(flagged) == (case.status != "graded"), case.name
        assert bool(manual) == (case.status == "failed"), case.name
    # the two correct learners, graded among all the hostile ones, keep full marks
    assert by_student["correct"][0] == by_student["correct-too"][0] == 6


def test_nothing_escapes_or_outlives_grading(graded):
    assert graded["listener"].connections == 0, "a kernel reached the host's 127.0.0.1"
    deadline = time.time() + 10
    while set(kernel_processes()) - graded["before"] and time.time() < deadline:
        time.sleep(0.2)
    assert not set(kernel_processes()) - graded["before"], "kernel processes (a fork storm?) outlived grading"
    huge = graded["course"] / "_nbgrader" / "autograded" / "huge-output" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert huge.stat().st_size < 200_000
    feedback = graded["course"] / "_nbgrader" / "feedback" / "huge-output" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert feedback.exists() and feedback.stat().st_size < 2_000_000


def test_feedback_csv_and_question_table(graded):
    course = graded["course"]
    for case in CASES:
        html = course / "_nbgrader" / "feedback" / case.name / ASSIGNMENT / f"{ASSIGNMENT}.html"
        assert html.exists() == (case.status != "failed"), case.name
    flagged = (course / "_nbgrader" / "feedback" / "deleted-test" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "Grading notes" in flagged and "test_mean" in flagged
    with open(course / "_nbgrader" / "reports" / f"{ASSIGNMENT}-grades.csv") as f:
        grades = {r["student_id"]: r for r in csv.DictReader(f)}
    assert set(grades) == {c.name for c in CASES}
    assert grades["correct"]["percent"] == "100.0" and grades["correct"]["status"] == "graded"
    assert grades["empty-file"]["status"] == "failed" and grades["empty-file"]["needs_manual_grade"] == "True"
    with open(course / "_nbgrader" / "reports" / f"{ASSIGNMENT}-difficulty.csv") as f:
        questions = {r["grade_id"]: r for r in csv.DictReader(f)}
    assert set(questions) == {"test_add", "test_mean", "test_shout"}
    graded_cases = [c for c in CASES if c.status != "failed"]
    assert int(questions["test_mean"]["learners"]) == len(graded_cases)
    wrong_in_hidden = sum("test_mean" in c.hidden_failures for c in graded_cases)
    assert float(questions["test_mean"]["hidden_test_failure_share"]) == round(wrong_in_hidden / len(graded_cases), 3)
    assert questions["test_add"]["hidden_test_failure_share"] == ""
