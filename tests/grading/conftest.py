"""Fixtures for the grading tests (the helpers are in gradinglib.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from gradinglib import ASSIGNMENT, CONFIG, FIXTURES, MAX_SLOTS, OTHER, UID_BASE, make_course, nbgrader


@pytest.fixture(scope="session", autouse=True)
def clear_kernel_slots():
    """After the session, clear the tests' kernel slots that a killed run left (mounts, folders)."""
    yield
    from adoptkit.grading.config import Hardening
    from adoptkit.grading.sandbox import Slot

    if os.geteuid() == 0:
        Slot.sweep(Hardening().scratch(), UID_BASE, MAX_SLOTS)
        Slot.sweep("/tmp/adoptkit-sandbox-test", 63900, 4)


@pytest.fixture(scope="session")
def course_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("course")
    for name in (ASSIGNMENT, OTHER):
        shutil.copytree(FIXTURES / name, root / "exercises" / name)
    (root / "_nbgrader").mkdir()
    (root / "nbgrader_config.py").write_text(CONFIG.format(uid_base=UID_BASE, max_slots=MAX_SLOTS))
    (root / "_config.yml").write_text("title: grading test course\nadoptkit: {}\n")
    for name in (ASSIGNMENT, OTHER):
        nbgrader(root, "generate_assignment", name)
    return root


@pytest.fixture
def course(course_template, tmp_path) -> Path:
    return make_course(course_template, tmp_path / "course")
