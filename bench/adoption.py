"""Benchmark: `adoptkit report competency` and `adoptkit report roi` for 10,000 learners and 1,000,000 usage
events, as an L&D lead runs them: the real commands, on real records.

    python bench/adoption.py [--learners 10000] [--events 1000000] [--repeat 1]

Setup (untimed): a seeded simulated cohort written as the records the kit reads
(`adoptkit.measure.simulate.write_records`): nbgrader's gradebook with every learner's graded pre- and
post-assessment, the gateway's `usage` table, the learners' timing and survey files, and the source
notebooks that map graded cells to competencies. Then each report runs as its own `adoptkit` process in
that course folder, twice: with the organisation's roster, and without one (the roster derived from the
gradebook and the log). Printed per run: wall time (from start to exit, Python's start and imports
included), the process's CPU time (wall time grows when other work shares the cores) and its peak memory
(max RSS), against the goal of 10 s and 2 GB on 2 cores. Figures only: never a pass/fail.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

GOAL_SECONDS, GOAL_BYTES = 10.0, 2 * 1024**3
ROI_SECTION = {"organisation": {"name": "Bench Org", "hourly_cost": 50},
               "roi": {"programme_costs": {"content_and_facilitation": 300000, "platform_and_it": 120000,
                                           "model_usage": 60000},
                       "course_hours_per_learner": 16, "mentor_hours": 1200, "attribution": 0.5,
                       "tasks_per_week": {"marketing": 8, "sales": 10, "hr": 6, "engineering": 12}}}


def prepare(course: Path, learners: int, events: int) -> None:
    from adoptkit import settings
    from adoptkit.measure import simulate

    t = time.perf_counter()
    c = simulate.cohort(learners, events, seed=11, settings=settings.parse(ROI_SECTION, root=course))
    measure = simulate.write_records(c, course)["measure"]
    (course / "_config.yml").write_text(yaml.safe_dump({"title": "bench", "adoptkit": {**ROI_SECTION,
                                                                                          "measure": measure}}))
    print(f"wrote {learners:,} learners' records ({len(c.scores):,} grades) and {events:,} usage rows in "
          f"{time.perf_counter() - t:.0f} s (untimed setup)")


def run(course: Path, report: str, roster: bool) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS bytes) of one `adoptkit report` process."""
    config = yaml.safe_load((course / "_config.yml").read_text())
    config["adoptkit"]["measure"]["roster"] = "roster.csv" if roster else None
    (course / "_config.yml").write_text(yaml.safe_dump(config))
    exe = Path(sys.executable).with_name("adoptkit")
    t = time.perf_counter()
    proc = subprocess.Popen([str(exe), "report", report, "--out", str(course / "reports")], cwd=course,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (not every child's, as RUSAGE_CHILDREN)
    wall = time.perf_counter() - t
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"adoptkit report {report} failed ({proc.returncode}):\n{out}\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--learners", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each report (the best and worst are shown)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="adoptkit-bench-") as tmp:
        course = Path(tmp)
        prepare(course, a.learners, a.events)
        print(f"cores available: {os.cpu_count()}, load average now: {os.getloadavg()[0]:.1f}")
        print(f"{'report':12} {'roster':8} {'seconds':>8} {'cpu s':>7} {'peak MB':>9} {'time/goal':>10} {'mem/goal':>9}")
        for report in ("competency", "roi"):
            for roster in (True, False):
                runs = sorted(run(course, report, roster) for _ in range(a.repeat))
                for wall, cpu, peak in (runs if a.repeat < 3 else (runs[0], runs[-1])):
                    print(f"{report:12} {'given' if roster else 'derived':8} {wall:8.2f} {cpu:7.2f} "
                          f"{peak / 2**20:9.0f} {wall / GOAL_SECONDS:10.2f} {peak / GOAL_BYTES:9.2f}")
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
