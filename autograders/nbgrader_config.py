"""nbgrader's configuration for this course: the layout a grader uses from the repository.

Name this file on every nbgrader command; from the repository root (checked with nbgrader 0.9.6):

    nbgrader generate_assignment sales-crm --NbGrader.config_file=autograders/nbgrader_config
    nbgrader autograde sales-crm --NbGrader.config_file=autograders/nbgrader_config
    JUPYTER_CONFIG_PATH=autograders nbgrader autograde sales-crm        # the same, by variable

The path may be absolute and may end in `.py`; with `.py` nbgrader still loads the file but logs a
false "No nbgrader_config.py file found" warning. A working command prints "[adoptkit] nbgrader course
root ..." first. Without this file (`--config ...` is not an nbgrader option and is ignored with an
"Unrecognized alias" warning; a misspelt path is skipped with the warning above) nbgrader falls back to
its stock layout in the current folder and stops with "No notebooks were matched by '.../source/...'".

Layout: instructors' sources in `exercises/<assignment>/`; every generated step (release, submitted,
autograded, feedback, solution) and the SQLite gradebook under the git-ignored `_nbgrader/`.

Overrides, strongest first: command-line flags (`--Execute.timeout=300`, ...); the environment
variables ADOPTKIT_COURSE_ROOT (the course folder, e.g. a temporary copy that a test grades) and
ADOPTKIT_GRADEBOOK_URL (any SQLAlchemy URL, e.g. postgresql+psycopg2://... for a shared gradebook).
Prefer ADOPTKIT_COURSE_ROOT to `--CourseDirectory.root`: the flag moves the folders but not the gradebook.
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader's config loader provides it)

# The repository is this file's parent's parent; a test or a cohort runner may point elsewhere.
ROOT = Path(os.environ.get("ADOPTKIT_COURSE_ROOT") or Path(__file__).resolve().parent.parent).resolve()
WORK = ROOT / "_nbgrader"  # generated, git-ignored

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.course_id = "adoptkit"
c.CourseDirectory.source_directory = "exercises"
for step in ("release", "submitted", "autograded", "feedback", "solution"):
    setattr(c.CourseDirectory, f"{step}_directory", f"_nbgrader/{step}")
c.CourseDirectory.source_with_tests_directory = "_nbgrader/source_with_tests"

# A new gradebook is stamped by running the `alembic` command found on PATH; put this Python's own
# scripts first so that an unactivated venv (`.venv/bin/nbgrader ...`) finds the matching alembic.
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([_bin, os.environ.get("PATH", "")])

if gradebook := os.environ.get("ADOPTKIT_GRADEBOOK_URL"):
    c.CourseDirectory.db_url = gradebook
else:
    WORK.mkdir(parents=True, exist_ok=True)  # nbgrader does not create the database's folder
    c.CourseDirectory.db_url = f"sqlite:///{WORK / 'gradebook.db'}"

# A cell that runs longer than this is stopped and grading goes on with the next cell (nbgrader's
# default is 30 s). The slowest cell of the exercises (loading real data) takes about a second, so
# 60 s leaves room on a busy grading machine while an endless loop costs at most a minute a cell.
c.Execute.timeout = 60


def _submitted_notebooks_first(assignment, student, notebooks):
    """Put every submitted notebook of a submission in its autograded folder before any is graded.

    nbgrader grades a submission's notebooks one by one in name order and writes each to the autograded
    folder only once graded, so a notebook that reads another (a teach-back's checks.ipynb reads
    lesson.ipynb) would not find it. Each copy is replaced by its graded version as grading goes on.
    nbgrader calls this with the submission's notebooks (`notebooks`); assignment and student may be globs.
    """
    from adoptkit.grading.files import kind_problem

    if len(notebooks) < 2:  # nothing to read beside it (and a failed one-notebook submission leaves no folder)
        return
    submitted, autograded = (WORK / "submitted").resolve(), (WORK / "autograded").resolve()
    for notebook in map(Path, notebooks):
        try:
            dest = autograded / notebook.resolve().relative_to(submitted)
        except ValueError:  # not under this course's submitted folder (another layout): leave it
            continue
        if kind_problem(os.lstat(notebook)):  # a link or special file: the grader refuses it, never copies it
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.unlink(missing_ok=True)  # a graded copy from an earlier run is read-only
        with open(notebook, "rb") as f_in, open(dest, "wb") as f_out:
            f_out.write(f_in.read())


c.Autograde.pre_convert_hook = _submitted_notebooks_first

# Hardened autograding (adoptkit.grading; docs/grading.md): output capped by bytes, wall-clock and cell
# timeouts, memory/CPU/process limits, no network and its own uid for the kernel where the OS allows,
# tampered grade cells restored and flagged, dead kernels still graded for what ran. Plain
# `nbgrader autograde` gets it too; `adoptkit grade` runs it for a cohort in parallel.
from adoptkit.grading import harden  # noqa: E402

harden(c)

# One line on stderr, so a grader sees which course nbgrader is working on (a wrong invocation
# prints no such line).
print(f"[adoptkit] nbgrader course root {ROOT}", file=sys.stderr)
