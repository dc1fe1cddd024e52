"""A small course for the authoring tests: the kit's _config.yml and nbgrader config, three plain pages,
and (with `scaffolded`) a path made with the scaffold: a chapter, a code exercise and a no-code exercise.

    from authoring_course import small_course, scaffolded, finish_todos
"""

from __future__ import annotations

import re
from pathlib import Path

from adoptkit.authoring import demo, scaffold

ROOT = Path(__file__).resolve().parents[1]
PATH = "customer-support"


def small_course(tmp: Path) -> Path:
    """adoptkit.authoring.demo's small course, with this repository's _config.yml and nbgrader config."""
    return demo.small_course(Path(tmp), ROOT / "_config.yml")


def scaffolded(tmp: Path) -> Path:
    """A small course with a new path made by the scaffold (its Python API; the CLI is tested on its own)."""
    course = small_course(tmp)
    for plan in (lambda: scaffold.plan_path(course, PATH),
                 lambda: scaffold.plan_chapter(course, PATH, "complaint-triage"),
                 lambda: scaffold.plan_exercise(course, "triage", PATH),
                 lambda: scaffold.plan_exercise(course, "replies", PATH, no_code=True)):
        scaffold.apply(course, plan())
    return course


def finish_todos(course: Path) -> None:
    """Stand in for the author: every "TODO: ..." the scaffold left becomes written text."""
    for path in list(course.rglob("*.md")) + list(course.rglob("*.ipynb")):
        if "teachback" in path.parent.name and path.name == "lesson.ipynb":
            continue  # the learner's template keeps its TODOs: the learner replaces them
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"TODO: ?", "", text), encoding="utf-8")
