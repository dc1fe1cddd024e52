"""Benchmark: the competency and ROI reports for 10,000 learners and 1,000,000 usage events.

    python bench/adoption.py [--learners 10000] [--events 1000000]

Builds a seeded simulated cohort once (untimed), writes its usage log to a SQLite file as the gateway
would, then runs each report in a fresh process that reads the log through the usage adapter and writes
the HTML page. Prints, per report, the wall time, the CPU time (wall time can grow when other work
shares the cores) and the process's peak memory (max RSS), against the goal of 10 s and 2 GB on 2
cores. Figures only: never a pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

GOAL_SECONDS, GOAL_BYTES = 10.0, 2 * 1024**3
ROI_SECTION = {"organisation": {"name": "Bench Org", "hourly_cost": 50},
               "roi": {"programme_costs": {"licences": 200000, "facilitation": 300000},
                       "tasks_per_week": {"marketing": 8, "sales": 10, "hr": 6, "engineering": 12}}}


def prepare(folder: Path, learners: int, events: int) -> None:
    from adoptkit import settings
    from adoptkit.measure import simulate

    s = settings.parse(ROI_SECTION, root=folder)
    t = time.perf_counter()
    c = simulate.cohort(learners, events, seed=11, settings=s)
    print(f"simulated {learners:,} learners and {events:,} events in {time.perf_counter() - t:.1f} s (untimed setup)")
    # Written as the gateway writes its `usage` table (adoptkit/gateway/db.py): naive UTC times, endpoint +
    # stream flag, token columns by their OpenAI names, redactions as JSON {type: count}.
    f = c.usage.frame
    feature = f["feature"].astype(str)
    log = pd.DataFrame({
        "ts": f["ts"].dt.tz_localize(None).dt.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "learner": f["learner"].astype(str), "cohort": f["cohort"].astype(str), "key_id": "k",
        "endpoint": feature.where(feature.isin(["chat", "embeddings"]), "chat"), "model": f["model"].astype(str),
        "backend": "offline", "backend_model": "adoptkit-offline", "stream": (feature == "stream").astype(int),
        "prompt_tokens": f["tokens_in"], "completion_tokens": f["tokens_out"], "latency_ms": f["latency_ms"],
        "status": f["status"], "outcome": "ok",
        "redactions": f["redactions"].map(lambda n: "{}" if n == 0 else f'{{"EMAIL_ADDRESS": {n}}}'),
        "flags": "[]", "error": None,
    })
    with sqlite3.connect(folder / "usage.db") as conn:
        log.to_sql("usage", conn, index_label="id", chunksize=100_000)
    with open(folder / "cohort.pkl", "wb") as f:
        pickle.dump({k: getattr(c, k) for k in ("roster", "scores", "timings", "reactions", "label")}, f)
    (folder / "settings.json").write_text(json.dumps(ROI_SECTION))


def stage(folder: Path, which: str) -> None:
    from adoptkit import settings
    from adoptkit.measure import competency, roi, usage
    from adoptkit.measure.cohort import Cohort

    s = settings.parse(json.loads((folder / "settings.json").read_text()), root=folder)
    with open(folder / "cohort.pkl", "rb") as f:
        parts = pickle.load(f)
    cpu0 = time.process_time()
    t = time.perf_counter()
    log = usage.read(folder / "usage.db")
    t_log = time.perf_counter() - t
    c = Cohort(parts["roster"], parts["scores"], log, parts["timings"], parts["reactions"], label=parts["label"],
               simulated=True)
    (competency if which == "competency" else roi).report(c, folder / which, s)
    total = time.perf_counter() - t
    cpu = time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"report": which, "seconds": total, "cpu_seconds": cpu, "log_seconds": t_log, "peak_bytes": peak,
                      "rows": len(log.frame)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--learners", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--stage", choices=["competency", "roi"])
    ap.add_argument("--data")
    a = ap.parse_args()
    if a.stage:
        return stage(Path(a.data), a.stage)
    with tempfile.TemporaryDirectory(prefix="adoptkit-bench-") as tmp:
        folder = Path(tmp)
        prepare(folder, a.learners, a.events)
        print(f"cores available: {os.cpu_count()}, load average now: {os.getloadavg()[0]:.1f}")
        print(f"{'report':12} {'seconds':>8} {'cpu s':>7} {'(log read)':>11} {'peak MB':>9} {'time/goal':>10} "
              f"{'mem/goal':>9}")
        for which in ("competency", "roi"):
            out = subprocess.run([sys.executable, __file__, "--stage", which, "--data", tmp], capture_output=True,
                                 text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{which:12} {r['seconds']:8.2f} {r['cpu_seconds']:7.2f} {r['log_seconds']:11.2f} "
                  f"{r['peak_bytes'] / 2**20:9.0f} "
                  f"{r['seconds'] / GOAL_SECONDS:10.2f} {r['peak_bytes'] / GOAL_BYTES:9.2f}")


if __name__ == "__main__":
    main()
