"""A course in the shape of nbgrader's own user guide (tests/fixtures/grading/userguide-ps1, our content in
its metadata shape: no `task` key on most cells, test cells with `locked: false`, a task cell, half points,
a test cell that deletes and restores a learner's function, nbformat 4.0, the kernel named `python`):
graded hardened, an untouched release, the solution and an honest variant get no flag, and the
solution gets every autograded point."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from gradinglib import CONFIG, FIXTURES, MAX_SLOTS, UID_BASE, nbgrader, needs_root, venv_env

pytestmark = [pytest.mark.slow, needs_root]
NAME = "userguide-ps1"
MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


def test_userguide_shaped_course_gets_no_false_flag(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(FIXTURES / NAME, course / "exercises" / NAME)
    (course / "_nbgrader").mkdir()
    (course / "nbgrader_config.py").write_text(CONFIG.format(uid_base=UID_BASE, max_slots=MAX_SLOTS))
    nbgrader(course, "generate_assignment", NAME)
    release = nbformat.read(course / "_nbgrader" / "release" / NAME / "problem1.ipynb", as_version=4)
    source = nbformat.read(course / "exercises" / NAME / "problem1.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: MARKERS.sub("", c.source) for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    answers["cubes"] = ("def cubes(n):\n    if n <= 0:\n        raise ValueError('no cubes below 1')\n"
                        "    out = []\n    for i in range(1, n + 1):\n        out.append(i * i * i)\n    return out")
    for student, variant in (("release", {}), ("solution", answers)):
        nb = copy.deepcopy(release)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in variant:
                cell.source = variant[gid]
        folder = course / "_nbgrader" / "submitted" / student / NAME
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "problem1.ipynb")
    proc = subprocess.run([sys.executable, "-m", "adoptkit.cli", "grade", NAME, "-j", "1",
                           "--course-config", str(course / "nbgrader_config.py")],
                          capture_output=True, text=True, timeout=600, env=venv_env())
    for student in ("release", "solution"):
        rep = json.loads((course / "_nbgrader" / "reports" / student / NAME / "problem1.json").read_text())
        assert rep["status"] == "graded" and rep["flags"] == [], (student, rep["flags"], proc.stderr[-3000:])
    rep = json.loads((course / "_nbgrader" / "reports" / "solution" / NAME / "problem1.json").read_text())
    auto = [c for c in rep["cells"] if c["score"] is not None]
    assert auto and all(c["score"] == c["points"] for c in auto), rep["cells"]
    assert proc.returncode == 0, proc.stderr[-3000:]
