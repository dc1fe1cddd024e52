"""Shared helpers for assignment tests: a temporary course, real nbgrader runs, and the gradebook.

Every assignment test (one per role path) uses these, so release/submit/autograde work the same way
for all of them: nbgrader runs as `adoptkit build` runs it, in a temporary copy of the course.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat

from adoptkit.build import nbgrader_cmd

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def by_id(nb) -> dict:
    return {grade_id(c): c for c in nb.cells if grade_id(c)}


def solutions(nb) -> dict[str, str]:
    """The source's answers as a learner would type them (without nbgrader's markers)."""
    return {grade_id(c): MARKERS.sub("", c.source) for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def fill(release, answers: dict[str, str]):
    """A copy of the released notebook with the given answer cells replaced."""
    nb = copy.deepcopy(release)
    cells = by_id(nb)
    for gid, text in answers.items():
        assert gid in cells, f"the release has no cell {gid}"
        cells[gid].source = text
    return nb


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """nbgrader as build.py runs it, from an unactivated venv (its bin/ off PATH, as in CI)."""
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "ADOPTKIT_COURSE_ROOT": str(course),
           "PATH": os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != venv_bin)}
    env.pop("ADOPTKIT_GRADEBOOK_URL", None)
    return subprocess.run(nbgrader_cmd(ROOT, *args), cwd=course, env=env, capture_output=True, text=True,
                          timeout=900)


def course_copy(tmp: Path) -> Path:
    """A temporary copy of the course's sources (the gradebook and steps are created under it)."""
    shutil.copytree(ROOT / "exercises", tmp / "exercises")
    return tmp


def release(course: Path, assignment: str) -> Path:
    """Run real `generate_assignment`; return the release folder."""
    proc = nbgrader(course, "generate_assignment", assignment, "--force")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return course / "_nbgrader" / "release" / assignment


def submit(course: Path, assignment: str, student: str, notebooks: dict[str, object]) -> Path:
    """Put a submission in place: {file name: notebook node, or raw text for a broken file}."""
    folder = course / "_nbgrader" / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        if isinstance(nb, str):
            (folder / name).write_text(nb, encoding="utf-8")
        else:
            nbformat.write(nb, folder / name)
    return folder


def grades(course: Path, assignment: str, students) -> dict:
    """Per student: code score, max, manual-grade flag and per-cell auto scores (None: no submission)."""
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook(f"sqlite:///{course / '_nbgrader' / 'gradebook.db'}", course_id="adoptkit") as gb:
        for student in students:
            try:
                sub = gb.find_submission(assignment, student)
            except MissingEntry:
                out[student] = None
                continue
            out[student] = SimpleNamespace(
                code_score=sub.code_score, max_code_score=sub.max_code_score,
                needs_manual_grade=sub.needs_manual_grade,
                auto={g.name: g.auto_score for nb in sub.notebooks for g in nb.grades})
    return out


def execute(nb, folder: Path) -> dict:
    """Run a notebook as a learner would; the errors of each graded cell, by grade id."""
    from nbclient import NotebookClient

    nb = copy.deepcopy(nb)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return {grade_id(c): [o for o in c.outputs if o.output_type == "error"] for c in nb.cells
            if c.cell_type == "code" and grade_id(c)}


def run_cell(code: str, ns: dict) -> None:
    """Run a notebook cell's code in `ns`, as the kernel would (for in-process checks of a source)."""
    exec(compile(code, "<exercise cell>", "exec"), ns)


def source(name: str, notebook: str | None = None):
    """An assignment's source notebook (`exercises/<name>/<notebook or name>.ipynb`)."""
    return nbformat.read(ROOT / "exercises" / name / f"{notebook or name}.ipynb", as_version=4)


def quiz_options(quiz_nb) -> list[list[str]]:
    """The options of each question of a quiz source (its QUESTIONS, without building the widget)."""
    ns: dict = {}
    run_cell(by_id(quiz_nb)["quiz"].source.split("quiz = Quiz(")[0], ns)
    return [options for _, options in ns["QUESTIONS"]]


def write_quiz_answers(folder: Path, quiz: str, answers) -> None:
    """What a learner's clicks leave beside the notebook (adoptkit.widgets.Quiz's answer file)."""
    import json

    (folder / "quiz-answers").mkdir(parents=True, exist_ok=True)
    (folder / "quiz-answers" / f"{quiz}.json").write_text(json.dumps({"quiz": quiz, "answers": answers}))
