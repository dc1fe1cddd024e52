"""A small course to try the authoring tools on without touching the real one: the course's own
`_config.yml` and nbgrader config, a table of contents with the parts the scaffold adds to, and three plain
pages (templates/demo-course/). The authors' chapter runs its worked example in one; the tests use it too.
"""

from __future__ import annotations

import shutil
from importlib.resources import as_file, files
from pathlib import Path


def small_course(dest: Path, config: Path) -> Path:
    """Write the small course into `dest`/course (which must not exist); return its folder."""
    course = Path(dest) / "course"
    with as_file(files("adoptkit.authoring").joinpath("templates", "demo-course")) as template:
        shutil.copytree(template, course)
    shutil.copy(config, course / "_config.yml")
    nbgrader_config = Path(config).parent / "autograders" / "nbgrader_config.py"
    if nbgrader_config.is_file():
        (course / "autograders").mkdir()
        shutil.copy(nbgrader_config, course / "autograders" / "nbgrader_config.py")
    return course
