"""Any assignment, not just the fixture: two notebooks and a data file, with one part missing or broken."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import nbformat
import pytest
from gradinglib import FIXTURES, make_course, nbgrader, needs_root

pytestmark = [pytest.mark.slow, needs_root]
A = "two-part"
ANSWERS = {"double": "def double(x):\n    return 2 * x",
           "total": "total = sum(int(line) for line in open('numbers.csv'))"}


def notebook(course, part: str, edit_test: bool = False) -> bytes:
    nb = nbformat.read(course / "_nbgrader" / "release" / A / f"{part}.ipynb", as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in ANSWERS:
            cell.source = ANSWERS[gid]
        if edit_test and gid == "test_double":
            cell.source = "pass"
    return nbformat.writes(nb).encode()


def test_an_assignment_with_two_notebooks_and_a_data_file(course_template, tmp_path):
    course = make_course(course_template, tmp_path / "course")
    shutil.copytree(FIXTURES / A, course / "exercises" / A)
    nbgrader(course, "generate_assignment", A)
    submissions = {
        "both-right": {"part1": notebook(course, "part1"), "part2": notebook(course, "part2")},
        "part1-only": {"part1": notebook(course, "part1", edit_test=True)},
        "part2-broken": {"part1": notebook(course, "part1"), "part2": b'{"cells": ['},
    }
    for student, parts in submissions.items():
        folder = course / "_nbgrader" / "submitted" / student / A
        folder.mkdir(parents=True)
        for part, content in parts.items():
            (folder / f"{part}.ipynb").write_bytes(content)
    proc = subprocess.run([sys.executable, "-m", "adoptkit.cli", "grade", A, "--course-config",
                           str(course / "nbgrader_config.py")], capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "part2: part2.ipynb is not valid JSON" in proc.stderr

    def report(student, part):
        path = course / "_nbgrader" / "reports" / student / A / f"{part}.json"
        return json.loads(path.read_text()) if path.exists() else None

    assert [report("both-right", p)["score"] for p in ("part1", "part2")] == [1, 2]  # numbers.csv was there
    assert report("part1-only", "part1")["status"] == "flagged" and report("part1-only", "part2") is None
    assert report("part2-broken", "part1")["status"] == "graded" and report("part2-broken", "part2")["status"] == "failed"
    with open(course / "_nbgrader" / "reports" / f"{A}-grades.csv") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert {s: (float(r["score"]), float(r["max_score"]), r["status"]) for s, r in rows.items()} == {
        "both-right": (3, 3, "graded"), "part1-only": (1, 3, "flagged"), "part2-broken": (1, 3, "failed")}
    assert rows["part1-only"]["missing_notebooks"] == "part2" and rows["both-right"]["missing_notebooks"] == ""
    for student in ("both-right", "part1-only"):
        assert (course / "_nbgrader" / "feedback" / student / A / "part1.html").exists()
