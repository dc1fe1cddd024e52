"""nbgrader's configuration for this course: the layout a grader uses from the repository.

Run nbgrader from anywhere with this file named explicitly (either form works with nbgrader 0.9.6):

    nbgrader generate_assignment sales-crm --NbGrader.config_file=autograders/nbgrader_config.py
    JUPYTER_CONFIG_PATH=autograders nbgrader autograde sales-crm

Beware: `--config ...` is not an nbgrader option and is silently ignored, and a misspelt
`--NbGrader.config_file` path is skipped with only a "No nbgrader_config.py file found" warning;
either way nbgrader then works on the current folder with its stock layout (`source/`, `release/`, ...)
and fails with "No notebooks were matched" or grades nothing. Look for the "course root" line below in
the log.

Layout: instructors' sources in `exercises/<assignment>/`; every generated step (release, submitted,
autograded, feedback, solution) and the SQLite gradebook under the git-ignored `_nbgrader/`.

Overrides, strongest first: command-line flags (`--Execute.timeout=120`, `--CourseDirectory.root=...`;
note that moving the root by flag leaves the gradebook where this file put it, so prefer the variable);
environment variables ADOPTKIT_COURSE_ROOT (the course folder, e.g. a temporary copy in tests) and
ADOPTKIT_GRADEBOOK_URL (any SQLAlchemy URL, e.g. postgresql+psycopg2://... for a shared gradebook).
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

# A cell that runs longer than this is stopped and the run goes on (nbgrader's default is 30 s;
# the exercises load real datasets and start the offline model, so give them room).
c.Execute.timeout = 120

# One line on stderr, so a grader sees which course nbgrader is working on (a wrong invocation
# prints no such line).
print(f"[adoptkit] nbgrader course root {ROOT}", file=sys.stderr)
