"""A PostgreSQL gradebook (by URL) graded by parallel workers: same scores, consistent gradebook."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from corpus import CASES
from gradinglib import ASSIGNMENT, nbgrader, needs_root, release, submit, venv_env

pytestmark = [pytest.mark.slow, needs_root]
PICK = ["correct", "correct-too", "wrong", "deleted-test", "exit-halfway", "invalid-json"]


def test_parallel_grading_on_a_postgresql_gradebook(course_template, tmp_path, postgres):
    course = tmp_path / "course"
    shutil.copytree(course_template / "exercises", course / "exercises")
    (course / "_nbgrader").mkdir()
    config = (course_template / "nbgrader_config.py").read_text()
    config = config.replace('c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "_nbgrader", "gradebook.db")',
                            f"c.CourseDirectory.db_url = {postgres!r}\n"
                            # PostgreSQL enforces the course foreign key that SQLite ignores: nbgrader's
                            # default course_id "" makes generate_assignment fail there
                            "c.CourseDirectory.course_id = 'adoptkit-course'")
    assert postgres in config
    (course / "nbgrader_config.py").write_text(config)
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    cases = {c.name: c for c in CASES if c.name in PICK}
    for case in cases.values():
        submit(course, case.name, case.build(release(course), {}))
    proc = subprocess.run([sys.executable, "-m", "adoptkit.cli", "grade", ASSIGNMENT, "-j", "2",
                           "--course-config", str(course / "nbgrader_config.py")],
                          capture_output=True, text=True, timeout=600, env=venv_env(), check=False)
    assert proc.returncode == 1, proc.stderr[-3000:]  # flagged and failed learners need attention
    from nbgrader.api import Gradebook

    with Gradebook(postgres) as gb:
        for name, case in cases.items():
            sub = gb.find_submission(ASSIGNMENT, name)
            assert sub.score == case.score, name
            assert any(nb.flagged for nb in sub.notebooks) == (case.status != "graded"), name
            assert sub.needs_manual_grade == (case.status == "failed"), name
    assert (course / "_nbgrader" / "feedback" / "correct" / ASSIGNMENT / f"{ASSIGNMENT}.html").exists()
