"""The hostile and broken corpus through `adoptkit grade`: every case gets its score or its flag."""

from __future__ import annotations

import csv
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from corpus import CASES, SECRET
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
    secret = course / "secret.txt"
    secret.write_text(SECRET)
    ctx = {"port": listener.port, "course": str(course), "gradebook": str(gradebook),
           "other_release": nbformat.writes(release(course, OTHER)).encode(), "secret": str(secret),
           "source": str(course / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
           "other_learner": str(course / "_nbgrader" / "submitted" / "correct" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")}
    rel = release(course)
    for case in CASES:
        folder = submit(course, case.name, case.build(rel, ctx))
        if case.extras:
            case.extras(folder, ctx)
    before = set(kernel_processes())
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "adoptkit.cli", "grade", ASSIGNMENT, "-j", "2",
                           "--course-config", str(course / "nbgrader_config.py")],
                          capture_output=True, text=True, timeout=900, check=False)
    elapsed = time.perf_counter() - start
    (course / "grade-output.txt").write_text(proc.stdout + proc.stderr)  # for a person reading a failure
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
            problems += [f"{case.name}: {name} not beside the graded notebook" for name in case.graded_files
                         if not (graded_nb.parent / name).is_file()]
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


def live_scripts(page: str) -> list[str]:
    """What in an HTML page would run a submission's script: a script element, an on* handler or a
    javascript: URL mentioning the corpus's payloads (the page's own scripts do not mention them)."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Reader(HTMLParser):
        in_script = False

        def handle_starttag(self, tag, attrs):
            self.in_script = tag == "script"
            for name, value in attrs:
                value = value or ""
                if name.startswith("on") and ("PWNED" in value or "x()" in value):
                    found.append(f"<{tag} {name}>")
                if value.strip().lower().startswith("javascript:"):
                    found.append(f"<{tag} {name}=javascript:>")

        def handle_data(self, data):
            if self.in_script and "PWNED" in data:
                found.append("<script> with the payload")

        def handle_endtag(self, tag):
            self.in_script = False

    Reader().feed(page)
    return found


def _files(folder: Path):
    for path in folder.rglob("*"):
        yield path


def test_nothing_outside_a_submission_is_copied_or_returned(graded):
    """No link, special file or foreign content in autograded/ or feedback/; no hidden test code in feedback."""
    course = graded["course"]
    shadow = Path("/etc/shadow").read_bytes()[:40]
    leaks = []
    for step in ("autograded", "feedback"):
        for path in _files(course / "_nbgrader" / step):
            st = path.lstat()
            if not (path.is_dir() or path.is_file()) or path.is_symlink() or (path.is_file() and st.st_nlink > 1):
                leaks.append(f"{path}: not a plain file")
                continue
            if path.is_file():
                data = path.read_bytes()
                if SECRET.encode() in data or shadow in data or data.startswith(b"SQLite format 3"):
                    leaks.append(f"{path}: holds what a link pointed to")
                if step == "feedback" and (b"BEGIN HIDDEN TESTS" in data or b"mean([2.5])" in data):
                    leaks.append(f"{path}: shows hidden test code")
                if step == "feedback" and path.suffix == ".html" and live_scripts(data.decode("utf-8", "replace")):
                    leaks.append(f"{path}: carries a script from the submission: {live_scripts(data.decode())}")
    assert not leaks, "\n".join(leaks)
    wrong = (course / "_nbgrader" / "feedback" / "wrong" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "A hidden check failed" in wrong and "should be &#39;HI!&#39;" in wrong or "should be 'HI!'" in wrong


def test_kernels_have_their_own_ipc_and_no_view_of_the_course(graded):
    text = outputs_text(graded["course"] / "_nbgrader" / "autograded" / "isolation" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    ipc = next(line.split()[1] for line in text.splitlines() if line.startswith("IPC "))
    assert ipc != os.readlink("/proc/self/ns/ipc")
    assert str(graded["course"]) not in text
