"""Fixtures for the grading tests (the helpers are in gradinglib.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gradinglib import ASSIGNMENT, CONFIG, FIXTURES, MAX_SLOTS, OTHER, UID_BASE, make_course, nbgrader


@pytest.fixture(scope="session")
def course_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("course")
    for name in (ASSIGNMENT, OTHER):
        shutil.copytree(FIXTURES / name, root / "exercises" / name)
    (root / "_nbgrader").mkdir()
    (root / "nbgrader_config.py").write_text(CONFIG.format(uid_base=UID_BASE, max_slots=MAX_SLOTS))
    for name in (ASSIGNMENT, OTHER):
        nbgrader(root, "generate_assignment", name)
    return root


@pytest.fixture
def course(course_template, tmp_path) -> Path:
    return make_course(course_template, tmp_path / "course")
