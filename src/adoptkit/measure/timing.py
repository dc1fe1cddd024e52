"""Time saved per task: a timer for paired exercises (the same kind of task without and with AI).

In the notebook: `t = TaskTimer("summary", "without_ai")` when the learner starts, `t.stop()` when done.
Each run is written once to `timings/<task>.json` beside the notebook, which travels with the submission.
Re-running the notebook (as nbgrader does when grading) never overwrites a recorded run, so the time is
the learner's, not the grader's; `TaskTimer(..., restart=True)` starts a run over on purpose.
`collect(submitted_dir)` reads every learner's files back for the ROI report.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

MODES = ("without_ai", "with_ai")
FOLDER = "timings"
# A run shorter than this was not real work (a cell run twice by accident); longer ones were interrupted.
PLAUSIBLE_SECONDS = (10, 2 * 3600)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class TaskTimer:
    def __init__(self, task: str, mode: str, folder: str | os.PathLike = ".", restart: bool = False):
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: use one of {MODES}")
        if not task.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"task name {task!r}: use letters, digits, '-' and '_' (it names a file)")
        self.task, self.mode = task, mode
        self.path = Path(folder) / FOLDER / f"{task}.json"
        runs = self._read()
        if restart or mode not in runs:
            runs[mode] = {"started": _now().isoformat()}
            self._write(runs)
            print(f"Timer for '{task}' ({mode.replace('_', ' ')}) started. Run the stop cell when you are done.")
        elif "seconds" in runs[mode]:
            print(f"'{task}' ({mode.replace('_', ' ')}) was already timed: {runs[mode]['seconds']:.0f} s.")

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data.get("runs", {}) if isinstance(data, dict) else {}
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):  # missing or unreadable: no runs yet
            return {}

    def _write(self, runs: dict) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".timing-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"task": self.task, "runs": runs}, f, indent=1)
            os.replace(tmp, self.path)
        except OSError as err:  # a read-only folder (e.g. while grading) must not break the notebook
            print(f"Note: the time could not be saved to {self.path} ({err.strerror}); the rest of the "
                  f"notebook is unaffected.")

    def stop(self) -> float | None:
        runs = self._read()
        run = runs.get(self.mode)
        if run is None:
            print("This timer was never started: run its start cell first.")
            return None
        if "seconds" not in run:
            started = datetime.fromisoformat(run["started"])
            run["finished"] = _now().isoformat()
            run["seconds"] = round((_now() - started).total_seconds(), 1)
            self._write(runs)
        print(f"Recorded: {run['seconds']:.0f} s for '{self.task}' ({self.mode.replace('_', ' ')}).")
        return run["seconds"]


def collect(submitted: str | os.PathLike, assignments: list[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Every recorded run under `submitted/<learner>/<assignment>/timings/*.json`.

    Returns (learner, assignment, task, mode, seconds) rows with plausible durations, and a note per file
    or run left out (unreadable, unfinished, implausible) so a report can say what it did not count.
    """
    rows, notes = [], []
    root = Path(submitted)
    for path in sorted(root.glob(f"*/*/{FOLDER}/*.json")) if root.is_dir() else []:
        learner, assignment = path.parts[-4], path.parts[-3]
        if assignments is not None and assignment not in assignments:
            continue
        try:
            runs = json.loads(path.read_text(encoding="utf-8"))["runs"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            notes.append(f"{path}: unreadable timing file, left out")
            continue
        for mode, run in runs.items():
            seconds = run.get("seconds") if isinstance(run, dict) else None
            if mode not in MODES or not isinstance(seconds, (int, float)):
                notes.append(f"{path}: {mode} run not finished, left out")
            elif not PLAUSIBLE_SECONDS[0] <= seconds <= PLAUSIBLE_SECONDS[1]:
                notes.append(f"{path}: {mode} took {seconds:.0f} s (outside {PLAUSIBLE_SECONDS} s), left out")
            else:
                rows.append({"learner": learner, "assignment": assignment, "task": path.stem, "mode": mode,
                             "seconds": float(seconds)})
    return pd.DataFrame(rows, columns=["learner", "assignment", "task", "mode", "seconds"]), notes


def paired(timings: pd.DataFrame) -> pd.DataFrame:
    """One row per learner and task with both runs: seconds without and with AI, and minutes saved."""
    if timings.empty:
        return pd.DataFrame(columns=["learner", "task", "without_ai", "with_ai", "minutes_saved"])
    wide = timings.pivot_table(index=["learner", "task"], columns="mode", values="seconds", aggfunc="first")
    wide = wide.dropna(subset=[m for m in MODES if m in wide.columns])
    if not set(MODES) <= set(wide.columns):
        return pd.DataFrame(columns=["learner", "task", "without_ai", "with_ai", "minutes_saved"])
    wide["minutes_saved"] = (wide["without_ai"] - wide["with_ai"]) / 60
    return wide.reset_index()[["learner", "task", "without_ai", "with_ai", "minutes_saved"]]
