"""Time saved per task, measured so that the figure means something: a counterbalanced, repeated, timed task.

API for assessment authors (the marketing, sales and HR assessments can use it as the engineering ones do):

    from adoptkit.measure import timing
    pairs = timing.matched_pairs(texts, 2)        # 2 pairs of records matched in difficulty (length in words)
    task = timing.TimedTask("summary", pairs)     # this learner's plan: order and records, fixed per learner
    task.describe()                               # prints the plan: which run is by hand, which with the model
    run = task.start(1)                           # run 1 of 4: prints its record and its mode; the clock starts
    run.record                                    # the text to work on; run.with_ai says whether to use the model
    run.stop()                                    # the clock stops; the time is saved once, in timings/summary.json

The design (what `describe()` prints, and what the ROI report states beside its figure):
- **Counterbalanced order.** Half the cohort starts with the model, half by hand, decided per learner by a hash of
  the learner id and the task name (deterministic: a re-run, or nbgrader's regrade, gives the same plan; no
  learner chooses). With two rounds the order is ABBA or BAAB, so a steady practice effect cancels within each
  learner too. The report averages the two order groups' mean savings (a crossover estimate), so practice
  does not count as time saved even when the groups are not of equal size, and prints the practice effect.
- **Matched difficulty.** Records come in pairs matched on length (`matched_pairs`: neighbours in word count
  from the middle of the length range, so no pair differs by more than `MAX_LENGTH_GAP`); which record of a pair
  is done with the model is decided by the hash as well, so record differences cancel over the cohort.
- **Repeats.** `rounds` (default 2) pairs per learner: each learner does the task `2 * rounds` times, half with
  the model. A two-sentence summary takes minutes, so a second round is cheap and halves the noise.
- **Uncertainty.** `estimate(paired(timings))` gives the number of learners, the mean saving with a 95%
  t-interval on the paired differences (Welch, over the two order groups) and the practice effect.

A time saved on an assessment exercise is a controlled measure of skill in use, not a business result: reports
label it as such (it feeds the ROI as an input, not as Kirkpatrick level 4).

The older, fixed design (`TaskTimer(task, "without_ai")` then `TaskTimer(task, "with_ai")`, always by hand
first) is still read, and reported as confounded with practice.

Each run is written once to `timings/<task>.json` beside the notebook, which travels with the submission.
Re-running the notebook (as nbgrader does when grading) never overwrites a recorded run, so the time is the
learner's, not the grader's; `restart=True` starts a run over on purpose.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

MODES = ("without_ai", "with_ai")
FOLDER = "timings"
# A run shorter than this was not real work (a cell run twice by accident); longer ones were interrupted.
PLAUSIBLE_SECONDS = (10, 2 * 3600)
MAX_LENGTH_GAP = 0.10  # records of a matched pair differ in length by at most this share
AI_FIRST, HAND_FIRST, FIXED = "AI first", "by hand first", "by hand first (fixed order)"
COLUMNS = ["learner", "assignment", "task", "run", "mode", "seconds", "record", "order"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _check_task(task: str) -> None:
    if not task.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"task name {task!r}: use letters, digits, '-' and '_' (it names a file)")


def learner_id() -> str:
    """Who is working: the hub's user name (JUPYTERHUB_USER), else the operating-system user."""
    return os.environ.get("JUPYTERHUB_USER") or os.environ.get("NB_USER") or getpass.getuser()


def _bits(learner: str, task: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{learner}\0{task}".encode()).digest()[:8], "big")


def plan(learner: str, task: str, rounds: int = 2) -> list[dict]:
    """The runs of `task` for `learner`, in order: [{run, mode, pair, side}], deterministic per learner and task.

    Bit 0 of the hash picks the order (AI first or by hand first); in round r the order alternates (ABBA), and
    bit r+1 picks which record of pair r is done with the model (side 0 or 1 of the pair).
    """
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    h = _bits(learner, task)
    first = "with_ai" if h & 1 else "without_ai"
    second = "without_ai" if first == "with_ai" else "with_ai"
    runs = []
    for r in range(rounds):
        ai_side = (h >> (r + 1)) & 1
        for mode in ((first, second) if r % 2 == 0 else (second, first)):
            side = ai_side if mode == "with_ai" else 1 - ai_side
            runs.append({"run": len(runs) + 1, "mode": mode, "pair": r, "side": side})
    return runs


def order_of(learner: str, task: str) -> str:
    return AI_FIRST if _bits(learner, task) & 1 else HAND_FIRST


def matched_pairs(texts, n_pairs: int = 2) -> list[tuple[str, str]]:
    """`n_pairs` pairs of texts matched on length in words (neighbours in length, from the middle of the range).

    Length is the difficulty proxy for a summary: about the same amount to read and condense. Raises if no
    such pairs exist within MAX_LENGTH_GAP, so a change in the data cannot silently unbalance the task.
    """
    items = sorted({t for t in texts if isinstance(t, str) and t.strip()}, key=lambda t: (len(t.split()), t))
    start = max(0, len(items) // 2 - n_pairs)
    pairs = []
    i = start
    while len(pairs) < n_pairs and i + 1 < len(items):
        a, b = items[i], items[i + 1]
        la, lb = len(a.split()), len(b.split())
        if abs(la - lb) <= MAX_LENGTH_GAP * max(la, lb):
            pairs.append((a, b))
            i += 2
        else:
            i += 1
    if len(pairs) < n_pairs:
        raise ValueError(f"only {len(pairs)} pair(s) of records within {MAX_LENGTH_GAP:.0%} of each other's "
                         f"length among {len(items)} texts; {n_pairs} are needed")
    return pairs


class _Store:
    """The timing file of one task: {"task", "design", "runs": {run number or legacy mode: {...}}}."""

    def __init__(self, task: str, folder: str | os.PathLike):
        self.task = task
        self.path = Path(folder) / FOLDER / f"{task}.json"

    def read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) and isinstance(data.get("runs", {}), dict) else {}
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):  # missing or unreadable: no runs yet
            return {}

    def write(self, data: dict) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".timing-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"task": self.task, **data}, f, indent=1)
            os.replace(tmp, self.path)
        except OSError as err:  # a read-only folder (e.g. while grading) must not break the notebook
            print(f"Note: the time could not be saved to {self.path} ({err.strerror}); the rest of the "
                  f"notebook is unaffected.")


def _start(store: _Store, key: str, fields: dict, restart: bool, label: str) -> None:
    data = store.read()
    runs = data.setdefault("runs", {})
    if restart or key not in runs:
        runs[key] = {**fields, "started": _now().isoformat()}
        store.write(data)
        print(f"Timer for {label} started. Run the stop cell when you are done.")
    elif "seconds" in runs[key]:
        print(f"{label} was already timed: {runs[key]['seconds']:.0f} s.")


def _stop(store: _Store, key: str, label: str) -> float | None:
    data = store.read()
    run = data.get("runs", {}).get(key)
    if run is None:
        print("This timer was never started: run its start cell first.")
        return None
    if "seconds" not in run:
        started = datetime.fromisoformat(run["started"])
        run["finished"] = _now().isoformat()
        run["seconds"] = round((_now() - started).total_seconds(), 1)
        store.write(data)
    print(f"Recorded: {run['seconds']:.0f} s for {label}.")
    return run["seconds"]


@dataclass
class Run:
    task: "TimedTask"
    number: int
    mode: str
    record: str
    record_id: str

    @property
    def with_ai(self) -> bool:
        return self.mode == "with_ai"

    def stop(self) -> float | None:
        return _stop(self.task.store, str(self.number), f"run {self.number} of '{self.task.name}'")


class TimedTask:
    """One learner's counterbalanced plan for a timed task over matched pairs of records (see the module doc)."""

    def __init__(self, name: str, pairs: list[tuple[str, str]], rounds: int | None = None,
                 folder: str | os.PathLike = ".", learner: str | None = None):
        _check_task(name)
        rounds = rounds or len(pairs)
        if len(pairs) < rounds:
            raise ValueError(f"{rounds} round(s) need {rounds} matched pair(s); {len(pairs)} given")
        self.name, self.pairs, self.store = name, pairs, _Store(name, folder)
        saved = self.store.read().get("design")
        if isinstance(saved, dict) and saved.get("learner"):  # the plan drawn on the first run stands
            self.learner = saved["learner"]
        else:
            self.learner = learner or learner_id()
        self.runs = plan(self.learner, name, rounds)
        self.order = order_of(self.learner, name)

    def describe(self) -> None:
        print(f"Timed task '{self.name}': {len(self.runs)} runs, half of them with the model. Your order "
              f"({self.order}) was drawn for you; half the cohort has the other order, so practice does not "
              f"count as time saved.")
        for r in self.runs:
            print(f"  run {r['run']}: {'WITH the model' if r['mode'] == 'with_ai' else 'BY HAND'}")

    def start(self, number: int, restart: bool = False) -> Run:
        if not 1 <= number <= len(self.runs):
            raise ValueError(f"run {number}: this task has runs 1 to {len(self.runs)}")
        r = self.runs[number - 1]
        record = self.pairs[r["pair"]][r["side"]]
        record_id = f"pair{r['pair'] + 1}-{'ab'[r['side']]}"
        data = self.store.read()
        if "design" not in data:
            data["design"] = {"learner": self.learner, "order": self.order, "rounds": len(self.runs) // 2,
                              "pairs": [[len(a.split()), len(b.split())] for a, b in self.pairs]}
            self.store.write(data)
        how = "WITH the model (ask it, then check and edit its answer)" if r["mode"] == "with_ai" else "BY HAND (no model)"
        print(f"Run {number} of {len(self.runs)}: {how}.\nRecord {record_id}:\n{record}\n")
        _start(self.store, str(number), {"mode": r["mode"], "record": record_id}, restart,
               f"run {number} of '{self.name}'")
        return Run(self, number, r["mode"], record, record_id)


class TaskTimer:
    """The older fixed design: one run per mode, by hand first (still read; reported as confounded)."""

    def __init__(self, task: str, mode: str, folder: str | os.PathLike = ".", restart: bool = False):
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: use one of {MODES}")
        _check_task(task)
        self.task, self.mode = task, mode
        self.store = _Store(task, folder)
        self.path = self.store.path
        _start(self.store, mode, {}, restart, f"'{task}' ({mode.replace('_', ' ')})")

    def stop(self) -> float | None:
        return _stop(self.store, self.mode, f"'{self.task}' ({self.mode.replace('_', ' ')})")


# --- reading the runs back ---------------------------------------------------------------------------

def collect(submitted: str | os.PathLike, assignments: list[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Every recorded run under `submitted/<learner>/<assignment>/timings/*.json`.

    Returns rows of COLUMNS with plausible durations, and a note per file or run left out (unreadable,
    unfinished, implausible) so a report can say what it did not count.
    """
    rows, notes = [], []
    root = Path(submitted)
    for path in sorted(root.glob(f"*/*/{FOLDER}/*.json")) if root.is_dir() else []:
        learner, assignment = path.parts[-4], path.parts[-3]
        if assignments is not None and assignment not in assignments:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            runs = data["runs"]
            if not isinstance(runs, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            notes.append(f"{path}: unreadable timing file, left out")
            continue
        design = data.get("design") if isinstance(data.get("design"), dict) else None
        for key, run in runs.items():
            run = run if isinstance(run, dict) else {}
            legacy = key in MODES
            mode = key if legacy else run.get("mode")
            seconds = run.get("seconds")
            if mode not in MODES or not (str(key).isdigit() or legacy):
                notes.append(f"{path}: run {key!r} is not a run the kit writes, left out")
            elif not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
                notes.append(f"{path}: {mode} run not finished, left out")
            elif not PLAUSIBLE_SECONDS[0] <= seconds <= PLAUSIBLE_SECONDS[1]:
                notes.append(f"{path}: {mode} took {seconds:.0f} s (outside {PLAUSIBLE_SECONDS} s), left out")
            else:
                order = FIXED if legacy else (design or {}).get("order") or order_of(learner, path.stem)
                rows.append({"learner": learner, "assignment": assignment, "task": path.stem,
                             "run": MODES.index(mode) + 1 if legacy else int(key), "mode": mode,
                             "seconds": float(seconds), "record": None if legacy else run.get("record"),
                             "order": order})
    return pd.DataFrame(rows, columns=COLUMNS), notes


PAIRED = ["learner", "task", "order", "runs", "without_ai", "with_ai", "minutes_saved"]


def paired(timings: pd.DataFrame) -> pd.DataFrame:
    """One row per learner and task with runs in both modes: mean seconds without and with AI, minutes saved."""
    if timings.empty:
        return pd.DataFrame(columns=PAIRED)
    t = timings if "order" in timings else timings.assign(order=FIXED)
    t = t.assign(order=t["order"].fillna(FIXED))
    wide = t.pivot_table(index=["learner", "task", "order"], columns="mode", values="seconds", aggfunc="mean")
    if not set(MODES) <= set(wide.columns):
        return pd.DataFrame(columns=PAIRED)
    wide = wide.dropna(subset=list(MODES))
    counts = t.groupby(["learner", "task", "order"]).size().rename("runs")
    wide = wide.join(counts)
    wide["minutes_saved"] = (wide["without_ai"] - wide["with_ai"]) / 60
    return wide.reset_index()[PAIRED]


@dataclass
class Estimate:
    """Mean minutes saved per task with a 95% interval, from learners' paired differences."""

    n: int  # learners with a pair
    by_order: dict  # order -> learners
    minutes: float
    low: float
    high: float
    practice: float | None  # minutes the second run gains from practice alone (crossover estimate)
    counterbalanced: bool
    runs_per_learner: float

    def design(self) -> str:
        if self.n == 0:
            return "no paired timings"
        groups = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_order.items()))
        if self.counterbalanced:
            text = (f"counterbalanced crossover (order drawn per learner; {groups}); records matched in length; "
                    f"{self.runs_per_learner:.0f} timed runs per learner on average; mean of the two order groups")
            if self.practice is not None:
                text += f"; order effect {self.practice:+.1f} min (half the gap between the orders), removed"
            return text
        return (f"not counterbalanced ({groups}): the run with AI always came second, so practice is counted as "
                f"time saved (an overestimate)")

    def interval(self) -> str:
        return (f"{self.minutes:.1f} min (95% interval {self.low:.1f} to {self.high:.1f}; n = {self.n})"
                if self.n >= 2 else f"{self.minutes:.1f} min (n = {self.n}: no interval)")


Z975 = 1.959963984540054  # the standard normal's 97.5% quantile


def _t(df: float) -> float:
    """Student's t 97.5% quantile (a two-sided 95% interval).

    From 10 degrees of freedom on, the Cornish-Fisher expansion in the normal quantile (Abramowitz & Stegun
    26.7.5, four terms) is within 4e-6 of it, and a report need not import scipy.stats (most of a second);
    below that, where it is off by up to 0.1%, scipy computes it exactly.
    """
    if df < 10:
        from scipy.special import stdtrit

        return float(stdtrit(df, 0.975))
    z = Z975
    g1 = (z ** 3 + z) / 4
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
    g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
    g4 = (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / 92160
    return z + g1 / df + g2 / df ** 2 + g3 / df ** 3 + g4 / df ** 4


def estimate(pairs: pd.DataFrame) -> Estimate:
    """Crossover estimate of minutes saved: the mean of the order groups' mean differences, with a t-interval.

    With learners in both orders (AI first, by hand first), a practice effect P adds +P to the saving of those
    who did the task by hand first and -P for the others; averaging the two groups' means removes it, and half
    their difference estimates it. Its variance is (s1^2/n1 + s2^2/n2) / 4 (Welch-Satterthwaite degrees of
    freedom). With one order only (the fixed design), it is the plain mean with its own t-interval.
    """
    d = pairs["minutes_saved"].astype(float)
    n = int(d.size)
    by_order = pairs.groupby("order").size().to_dict() if n else {}
    runs = float(pairs["runs"].mean()) if n else 0.0
    groups = {o: d[pairs["order"] == o] for o in (AI_FIRST, HAND_FIRST)}
    if all(len(g) >= 2 for g in groups.values()):
        a, b = groups[HAND_FIRST], groups[AI_FIRST]
        est = (a.mean() + b.mean()) / 2
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        se = math.sqrt(va + vb) / 2
        df = (va + vb) ** 2 / ((va ** 2 / (len(a) - 1)) + (vb ** 2 / (len(b) - 1))) if va + vb > 0 else len(d) - 2
        half = _t(df) * se
        return Estimate(n, by_order, float(est), float(est - half), float(est + half),
                        float((a.mean() - b.mean()) / 2), True, runs)
    if n == 0:
        return Estimate(0, {}, float("nan"), float("nan"), float("nan"), None, False, 0.0)
    mean = float(d.mean())
    half = _t(n - 1) * float(d.std(ddof=1)) / math.sqrt(n) if n >= 2 else float("nan")
    balanced = set(by_order) <= {AI_FIRST, HAND_FIRST} and len(by_order) == 2
    return Estimate(n, by_order, mean, mean - half, mean + half, None, balanced, runs)

