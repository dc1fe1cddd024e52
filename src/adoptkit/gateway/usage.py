"""The usage log: one row per request (the schema is in db.py), written off the request path.

A request hands its row to a deque and returns; one writer thread commits rows in batches (one
transaction each) a few times a second. A crash loses at most the rows not yet committed (a fraction of a second) and never
corrupts the database (SQLite in WAL mode; PostgreSQL is transactional).
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import sqlalchemy as sa

from . import db
from .keys import Identity

# Outcomes of requests that reached a backend: they count against the daily request budget.
ADMITTED = ("ok", "client_disconnected", "upstream_error", "backend_error")


@dataclass
class UsageRow:
    endpoint: str
    ts: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    learner: str | None = None
    cohort: str | None = None
    key_id: str | None = None
    model: str | None = None
    backend: str | None = None
    backend_model: str | None = None
    stream: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    status: int = 200
    outcome: str = "ok"
    redactions: Counter = field(default_factory=Counter)
    flags: list[str] = field(default_factory=list)
    error: str | None = None
    started: float = field(default_factory=time.perf_counter, repr=False)

    def who(self, identity: Identity) -> None:
        self.learner, self.cohort, self.key_id = identity.learner, identity.cohort, identity.key_id

    def finish(self, status: int | None = None, outcome: str | None = None, error: str | None = None) -> "UsageRow":
        self.latency_ms = round((time.perf_counter() - self.started) * 1000, 3)
        if status is not None:
            self.status = status
        if outcome is not None:
            self.outcome = outcome
        if error is not None:
            self.error = error[:500]
        return self

    def values(self) -> dict:
        return {"ts": self.ts, "learner": self.learner, "cohort": self.cohort, "key_id": self.key_id,
                "endpoint": self.endpoint, "model": self.model, "backend": self.backend,
                "backend_model": self.backend_model, "stream": self.stream, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "latency_ms": self.latency_ms, "status": self.status,
                "outcome": self.outcome, "redactions": json.dumps(dict(self.redactions), sort_keys=True),
                "flags": json.dumps(self.flags), "error": self.error}


def day_start(now: dt.datetime | None = None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


class UsageLog:
    """Rows are appended to a deque (no lock, no wake-up: the request path pays almost nothing) and a
    writer thread commits whatever has gathered every `interval` seconds, `batch` rows a transaction."""

    def __init__(self, engine: sa.Engine, batch: int = 500, interval: float = 0.2):
        self.engine, self.batch, self.interval = engine, batch, interval
        self._rows: deque = deque()
        # refused keys, counted per minute and code: one row each when the minute is over, however many
        self._refused: Counter = Counter()
        self._refused_lock = threading.Lock()
        self._kick, self._stopping, self._all_refused = threading.Event(), False, False
        self._passes, self._passed = 0, threading.Condition()
        self._thread = threading.Thread(target=self._write_forever, name="adoptkit-usage-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def record(self, row: UsageRow) -> None:
        self._rows.append(row)

    def refused(self, endpoint: str, status: int, code: str) -> None:
        """A request refused before any learner was known (a bad key): counted, not logged one by one."""
        minute = dt.datetime.now(dt.UTC).replace(tzinfo=None, second=0, microsecond=0)
        with self._refused_lock:
            self._refused[(minute, endpoint, status, code)] += 1

    def _refused_rows(self, everything: bool = False) -> list["UsageRow"]:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None, second=0, microsecond=0)
        with self._refused_lock:
            done = [k for k in self._refused if everything or k[0] < now]
            counts = {k: self._refused.pop(k) for k in done}
        return [UsageRow(endpoint, ts=minute, status=status, outcome="unauthorized" if status == 401 else "throttled",
                         error=f"{n} request(s) refused in this minute ({code}); no learner known")
                for (minute, endpoint, status, code), n in counts.items()]

    def flush(self) -> None:
        """Wait until every row recorded so far (and every refused count) is committed."""
        if not self._thread.is_alive():
            return
        with self._passed:
            target = self._passes + 2  # a whole pass that began after this call
            self._all_refused = True
            self._kick.set()
            self._passed.wait_for(lambda: self._passes >= target or not self._thread.is_alive(), timeout=30)

    def close(self) -> None:
        if self._thread.is_alive():
            self._stopping = True
            self._kick.set()
            self._thread.join(timeout=10)

    def _write_forever(self) -> None:
        while True:
            self._kick.wait(self.interval)
            self._kick.clear()
            stopping, everything = self._stopping, self._stopping or self._all_refused
            self._all_refused = False
            rows = self._refused_rows(everything)
            while self._rows:
                rows.append(self._rows.popleft())
                if len(rows) >= self.batch:
                    self._insert([r.values() for r in rows])
                    rows = []
            if rows:
                self._insert([r.values() for r in rows])
            with self._passed:
                self._passes += 1
                self._passed.notify_all()
            if stopping:
                return

    def _insert(self, batch: list[dict]) -> None:
        for attempt in range(3):
            try:
                with self.engine.begin() as c:
                    c.execute(db.usage.insert(), batch)
                return
            except sa.exc.SQLAlchemyError as err:  # the database is busy or away: try again, then say so
                if attempt == 2:
                    print(f"adoptkit gateway: could not write {len(batch)} usage row(s): {err}", file=sys.stderr)
                time.sleep(0.2 * (attempt + 1))

    # -- reading ---------------------------------------------------------------------------------
    def admitted_today(self) -> list[tuple[str, str, int, int]]:
        """(learner, cohort, requests, tokens) since 00:00 UTC, for the budgets after a restart."""
        u = db.usage
        q = (sa.select(u.c.learner, u.c.cohort, sa.func.count(), sa.func.coalesce(
                 sa.func.sum(u.c.prompt_tokens + u.c.completion_tokens), 0))
             .where(u.c.ts >= day_start(), u.c.outcome.in_(ADMITTED), u.c.learner.is_not(None))
             .group_by(u.c.learner, u.c.cohort))
        with self.engine.connect() as c:
            return [tuple(r) for r in c.execute(q)]

    def recent(self, learner: str, limit: int = 20) -> list[dict]:
        """A learner's own latest rows (never anyone else's: the caller passes its own identity)."""
        u = db.usage
        cols = [u.c.ts, u.c.endpoint, u.c.model, u.c.backend, u.c.stream, u.c.prompt_tokens, u.c.completion_tokens,
                u.c.latency_ms, u.c.status, u.c.outcome, u.c.redactions, u.c.flags]
        with self.engine.connect() as c:
            rows = c.execute(sa.select(*cols).where(u.c.learner == learner).order_by(u.c.id.desc()).limit(limit))
            return [{**r._asdict(), "ts": r.ts.isoformat() + "Z", "redactions": json.loads(r.redactions),
                     "flags": json.loads(r.flags)} for r in rows]
