"""Benchmark: the same submissions graded by stock `nbgrader autograde` and by `adoptkit grade`.

    python bench/grading.py                 # 200 submissions, adoptkit with one worker per core
    python bench/grading.py -n 50 --workers 1,2
    python bench/grading.py -n 60 --workers 2 --repeat 3   # the machine is shared: quote the median

Builds a throw-away course from the grading test fixture (tests/fixtures/grading/fixture-hw), makes
N submissions (three in four right, the rest with one or two wrong answers), and grades them twice,
each in its own copy of the course and gradebook:

- stock: `nbgrader autograde fixture-hw` with a plain course config (one kernel at a time, as today);
- adoptkit: `adoptkit grade fixture-hw -j W --no-feedback` with `harden(c)` in the config.

Prints both wall times, their ratio and the cost per notebook, the load average before and after
(other work on the machine skews both), and checks that both gave every learner the same score.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "grading" / "fixture-hw"
ASSIGNMENT = "fixture-hw"
CONFIG = """\
import os
c = get_config()
here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = here
c.CourseDirectory.source_directory = "exercises"
for step in ("release", "submitted", "autograded", "feedback", "solution"):
    setattr(c.CourseDirectory, step + "_directory", "_nbgrader/" + step)
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "_nbgrader", "gradebook.db")
"""
HARDEN = "from adoptkit.grading import harden\nharden(c)\n"
ANSWERS = {
    "add": ["def add(a, b):\n    return a + b", "def add(a, b):\n    return a - b"],
    "mean": ["def mean(xs):\n    return sum(xs) / len(xs)", "def mean(xs):\n    return 2"],
    "shout": ["def shout(s):\n    return s.upper() + '!'", "def shout(s):\n    return s.upper()"],
}


def env() -> dict:
    return dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def make_course(where: Path, hardened: bool) -> Path:
    (where / "exercises").mkdir(parents=True)
    shutil.copytree(FIXTURE, where / "exercises" / ASSIGNMENT)
    (where / "_nbgrader").mkdir()
    (where / "nbgrader_config.py").write_text(CONFIG + (HARDEN if hardened else ""))
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT], cwd=where, env=env(),
                   check=True, capture_output=True)
    return where


def submit_all(course: Path, n: int) -> None:
    release = nbformat.read(course / "_nbgrader" / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for i in range(n):
        nb = copy.deepcopy(release)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in ANSWERS:  # learner i gets answer k wrong when bit k of (i % 8) is set and i % 4 == 3
                k = list(ANSWERS).index(gid)
                cell.source = ANSWERS[gid][int(i % 4 == 3 and bool((i // 4) >> k & 1))]
        folder = course / "_nbgrader" / "submitted" / f"learner-{i:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")


def scores(course: Path) -> dict[str, float]:
    db = sqlite3.connect(course / "_nbgrader" / "gradebook.db")
    return dict(db.execute("""SELECT a.student_id, SUM(g.auto_score) FROM grade g
                              JOIN submitted_notebook n ON g.notebook_id = n.id
                              JOIN submitted_assignment a ON n.assignment_id = a.id GROUP BY a.student_id"""))


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=200, help="submissions (default 200)")
    ap.add_argument("--workers", default=str(os.cpu_count()), help="adoptkit workers, comma-separated (default: cores)")
    ap.add_argument("--repeat", type=int, default=1, help="run both graders this many times, alternating; "
                    "print each ratio and the median (other work on a shared machine skews single runs)")
    ap.add_argument("--keep", action="store_true", help="keep the course folders")
    args = ap.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    base = Path(tempfile.mkdtemp(prefix="adoptkit-bench-"))
    print(f"{args.n} submissions of {ASSIGNMENT}; {os.cpu_count()} cores; load average before "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ratios: dict[int, list[float]] = {w: [] for w in workers}
    for r in range(args.repeat):
        run = base / f"run-{r}"
        stock = make_course(run / "stock", hardened=False)
        submit_all(stock, args.n)
        t_stock = timed([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT], stock)
        print(f"stock nbgrader autograde : {t_stock:7.1f} s   {t_stock / args.n:.3f} s/notebook")
        reference = scores(stock)
        for w in workers:
            ours = make_course(run / f"adoptkit-{w}", hardened=True)
            submit_all(ours, args.n)
            t_ours = timed([sys.executable, "-m", "adoptkit.cli", "grade", ASSIGNMENT, "-j", str(w), "--no-feedback",
                            "--course-config", str(ours / "nbgrader_config.py")], ours)
            same = scores(ours) == reference
            ratios[w].append(t_stock / t_ours)
            print(f"adoptkit grade -j {w:<6}: {t_ours:7.1f} s   {t_ours / args.n:.3f} s/notebook   "
                  f"ratio {t_stock / t_ours:.2f}x   scores {'identical' if same else 'DIFFER'} to stock")
        if not args.keep:
            shutil.rmtree(run, ignore_errors=True)
    if args.repeat > 1:
        for w in workers:
            print(f"-j {w}: median ratio {statistics.median(ratios[w]):.2f}x over {args.repeat} runs "
                  f"({', '.join(f'{x:.2f}' for x in ratios[w])})")
    print(f"load average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.keep:
        print(f"courses kept in {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
