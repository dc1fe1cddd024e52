"""What `adoptkit grade` shows: a progress bar while it works, then the summary and question tables."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .runner import CohortResult, CourseError, Outcome, run

EXIT_OK, EXIT_ATTENTION, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def find_course_config() -> Path | None:
    """autograders/nbgrader_config.py of the project (found from _config.yml), else in the current folder."""
    from .. import settings

    roots = [Path.cwd()]
    found = settings.find_config()
    if found:
        roots.insert(0, Path(found).resolve().parent)
    for root in roots:
        for candidate in (root / "autograders" / "nbgrader_config.py", root / "nbgrader_config.py"):
            if candidate.is_file():
                return candidate
    return None


class RichProgress:
    def __init__(self, console: Console):
        self.console = console
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[tally]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                            console=console, transient=False)
        self.task = None
        self.tally = {"graded": 0, "flagged": 0, "failed": 0}

    def start(self, total: int, skipped: int) -> None:
        if skipped:
            self.console.print(f"{skipped} learner(s) already graded and unchanged: skipped (--force regrades)")
        self.bar.start()
        self.task = self.bar.add_task("grading", total=total, tally="")

    def advance(self, outcome: Outcome | None) -> None:
        if outcome is not None:
            self.tally[outcome.status] += 1
        tally = "  ".join(f"{k} {v}" for k, v in self.tally.items() if v)
        self.bar.update(self.task, advance=1, tally=tally)

    def phase(self, name: str, total: int) -> None:
        self.task = self.bar.add_task(name, total=total, tally="")

    def stop(self) -> None:
        self.bar.stop()


def summary(console: Console, result: CohortResult) -> None:
    t = Table(title=f"{result.assignment}: {len(result.outcomes)} learner(s) graded in {result.seconds:.1f} s")
    for col in ("status", "this run", "earlier runs"):
        t.add_column(col)
    for status, style in (("graded", "green"), ("flagged", "yellow"), ("failed", "red")):
        t.add_row(f"[{style}]{status}[/]", str(result.count(status)), str(result.count(status, earlier=True)))
    console.print(t)
    attention = [o for o in result.outcomes + result.earlier if o.status != "graded"]
    if attention:
        t = Table(title="needs the grader's attention", show_lines=True)
        for col in ("learner", "status", "score", "why"):
            t.add_column(col, overflow="fold")
        for o in sorted(attention, key=lambda o: (o.status, o.student)):
            why = "\n".join(o.reasons[:4]) + (f"\n(+{len(o.reasons) - 4} more)" if len(o.reasons) > 4 else "")
            t.add_row(o.student, o.status, f"{o.score:g}/{o.max_score:g}" if o.max_score else "-", why)
        console.print(t)
    for student, error in sorted(result.feedback_errors.items()):
        console.print(f"[red]feedback failed[/] for {student}: {error}")
    if result.files.get("difficulty") and os.path.exists(result.files["difficulty"]):
        with open(result.files["difficulty"]) as f:
            rows = list(csv.DictReader(f))
        if rows:
            t = Table(title="questions, hardest first")
            cols = {"notebook": "notebook", "grade_id": "cell", "points": "points", "learners": "n",
                    "mean_score": "mean", "mean_percent": "mean %", "full_marks_share": "full marks",
                    "hidden_test_failure_share": "failed hidden tests"}
            for header in cols.values():
                t.add_column(header, overflow="fold")
            for r in rows:
                t.add_row(*(str(r[c]) for c in cols))
            console.print(t)
    for name, path in result.files.items():
        console.print(f"{name}: {path}")
    if result.interrupted:
        console.print("[yellow]interrupted[/]: every grade above is saved; run the same command again to "
                      "grade the rest")


def grade_command(assignment: str, course_config: str | None, workers: int | None, force: bool,
                  scheduler: str | None, feedback: bool) -> int:
    console = Console(stderr=True)
    config = course_config or find_course_config()
    if config is None:
        console.print("[red]no nbgrader config found[/]: looked for autograders/nbgrader_config.py under the "
                      "project root and nbgrader_config.py here; pass --course-config PATH")
        return EXIT_ERROR
    try:
        result = run(assignment, str(config), workers=workers, force=force, scheduler=scheduler,
                     feedback=feedback, progress=RichProgress(console))
    except CourseError as err:
        console.print(f"[red]cannot grade[/]: {err}")
        return EXIT_ERROR
    summary(console, result)
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_ATTENTION if result.needs_attention else EXIT_OK
