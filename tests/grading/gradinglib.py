"""Helpers for the grading tests: a throw-away nbgrader course, laid out as the project's own course is.

Root holds `exercises/<assignment>/` (the instructor's source) and `nbgrader_config.py`; every other
nbgrader step lives under `_nbgrader/<step>`, with the SQLite gradebook there. The config calls
`adoptkit.grading.harden(c)` with small limits so the hostile cases finish quickly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "grading"
ASSIGNMENT, OTHER = "fixture-hw", "other-hw"
UID_BASE = 63000  # the tests' kernel uids, apart from any real grader's (62000 and up)
MAX_SLOTS = 16

CONFIG = """\
import os
from adoptkit.grading import harden

c = get_config()
here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = here
c.CourseDirectory.source_directory = "exercises"
for step in ("release", "submitted", "autograded", "feedback", "solution"):
    setattr(c.CourseDirectory, step + "_directory", "_nbgrader/" + step)
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "_nbgrader", "gradebook.db")
harden(c, cell_timeout=5, notebook_timeout=9, memory_bytes=512 * 2**20, max_processes=48, cpu_seconds=60,
       max_output_bytes_per_cell=20_000, max_output_bytes_per_notebook=100_000, disk_bytes=32 * 2**20,
       uid_base={uid_base}, max_slots={max_slots})
"""


def venv_env() -> dict:
    """The environment with this venv's bin first: nbgrader runs `alembic` from PATH to make a gradebook."""
    return dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def nbgrader(course: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                          check=check, timeout=600, env=venv_env())


def release(course: Path, assignment: str = ASSIGNMENT) -> nbformat.NotebookNode:
    return nbformat.read(course / "_nbgrader" / "release" / assignment / f"{assignment}.ipynb", as_version=4)


def submit(course: Path, student: str, content: bytes | None, assignment: str = ASSIGNMENT) -> Path:
    folder = course / "_nbgrader" / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    if content is not None:
        (folder / f"{assignment}.ipynb").write_bytes(content)
    return folder


def kernel_processes() -> list[int]:
    """Processes still running as one of the tests' kernel uids (a fork storm's leftovers, say)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if UID_BASE <= entry.stat().st_uid < UID_BASE + MAX_SLOTS:
                    pids.append(int(entry.name))
            except FileNotFoundError:
                pass
    return pids


def processes_matching(text: str) -> list[int]:
    """Processes whose command line mentions `text` (a course path, a zygote of this run)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmd = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                pids.append(int(entry.name))
    return pids


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox tests check uid switching and cgroups")



def make_course(template: Path, root: Path) -> Path:
    """A fresh copy of the released course: gradebook with both assignments, no submissions."""
    shutil.copytree(template, root)
    return root
