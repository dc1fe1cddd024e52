"""Daily budgets and per-minute rates, per learner and per cohort (limits from gateway.limits).

A request is admitted with its worst case held against the budget: its prompt (estimated with the
offline tokenizer on the text as forwarded) plus its completion cap (`max_tokens`, or
`limits.reserve_max_tokens` when it names none), times `n`. Where a token budget applies, the cap
is cut to what is left and passed on to the model, so the model cannot answer past the budget. When the
request ends (answered, streamed, broken off, failed) the hold is settled: the real tokens count and
the rest is released. A backend that counts the real prompt before answering (the local model) has
the hold adjusted to it first (`adjust`), so its answers never run past a budget. Check and hold are one atomic step, so 50 concurrent requests cannot all pass a
check that only one of them fits (LiteLLM's #34732 and #40095 are that race).

Where the counters live (the "ledger"):
- in memory, one gateway process (SQLite, the default): seeded from the usage log at start, so a
  restart forgets nothing settled;
- in the database (PostgreSQL): a `budget` table whose rows are locked per learner and cohort while a
  request is admitted, so any number of gateway replicas enforce one budget. A replica that dies holds
  its requests' tokens until the day ends (the budget errs on the safe side).

Days reset at 00:00 UTC. An open gateway (no keys: one learner's own kernel, or `serve --open` on
loopback) counts but never refuses.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..settings import GatewayLimits, Limits
from . import db
from .errors import APIError
from .keys import Identity
from .usage import day_start


def _fmt_wait(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


@dataclass
class Hold:
    """What one admitted request holds: tokens against both levels, and the completion cap granted
    (None: no token budget applies, the request's own cap stands)."""

    identity: Identity
    tokens: int
    grant: int | None
    day: dt.datetime | None = None  # the day it was admitted (a request running past midnight settles there)
    settled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # adjust (a backend's thread) vs settle


@dataclass
class Level:
    level: str  # "learner" | "cohort"
    name: str
    limits: Limits


class OverBudget(Exception):
    def __init__(self, level: Level, unit: str, used: int, cap: int, held: int = 0, needs: int | None = None):
        self.level, self.unit, self.used, self.cap, self.held, self.needs = level, unit, used, cap, held, needs


class RateLimited(Exception):
    def __init__(self, level: Level, wait: float):
        self.level, self.wait = level, wait


class Budgets:
    def __init__(self, limits: GatewayLimits, ledger: "MemoryLedger | SQLLedger", enforce: bool = True):
        self.limits, self.ledger, self.enforce = limits, ledger, enforce

    def levels(self, identity: Identity) -> list[Level]:
        own = self.limits.cohorts.get(identity.cohort)
        return [Level("learner", identity.learner, (own and own.learner) or self.limits.learner),
                Level("cohort", identity.cohort, (own and own.cohort) or self.limits.cohort)]

    def precheck(self, identity: Identity) -> None:
        """Refuse now (before any costly work) if a daily budget or the rate is already used up."""
        if self.enforce:
            self._raise(self.ledger.check, self.levels(identity))

    def reserve(self, identity: Identity, prompt_tokens: int, want: int | None, n: int = 1) -> Hold:
        """Count the request and hold its worst case; the completion cap granted is in `Hold.grant`."""
        levels = self.levels(identity)
        want_each = want or self.limits.reserve_max_tokens

        def plan(remaining: int | None) -> tuple[int | None, int]:
            """(completion cap granted per choice or None, tokens held) given the least tokens left."""
            if remaining is None:
                return None, prompt_tokens + want_each * n
            grant = min(want_each, (remaining - prompt_tokens) // n)
            return grant, prompt_tokens + grant * n

        day = day_start()
        grant, tokens = self._raise(self.ledger.admit, levels, plan, prompt_tokens + n, self.enforce)
        return Hold(identity, tokens, grant, day)

    def adjust(self, hold: Hold, extra: int) -> bool:
        """Hold `extra` more tokens for a running request, or release -extra: a backend that counts the real
        prompt before answering (local) found it longer or shorter than estimated. False, holding nothing
        more, if a daily token budget cannot take them."""
        with hold.lock:
            if extra == 0 or hold.settled:
                return True
            try:
                self.ledger.adjust(self.levels(hold.identity), extra, self.enforce, hold.day)
            except OverBudget:
                return False
            hold.tokens += extra
            return True

    def settle(self, hold: Hold | None, used_tokens: int) -> None:
        """The request is over: count what it really used, release the rest of its hold."""
        if hold is None:
            return
        with hold.lock:
            if hold.settled:
                return
            hold.settled = True
            self.ledger.settle(self.levels(hold.identity), hold.tokens, used_tokens, hold.day)

    def status(self, identity: Identity) -> dict:
        out = {}
        for lv, (requests, used, held) in zip(self.levels(identity), self.ledger.read(self.levels(identity))):
            out[lv.level] = {"name": lv.name, "requests_today": requests, "tokens_today": used + held,
                             "tokens_held": held, **lv.limits.model_dump()}
        out["resets_at"] = (day_start() + dt.timedelta(days=1)).isoformat() + "Z"
        return out

    def _raise(self, fn, *args):
        """Run a ledger step, turning its refusals into the learner's 429."""
        try:
            return fn(*args)
        except OverBudget as over:
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            reset = day_start() + dt.timedelta(days=1)
            wait = (reset - now).total_seconds()
            held = f" (including {over.held:,} held for requests still running)" if over.held else ""
            needs = (f"; this request needs at least {over.needs:,} (its prompt and one token of answer)"
                     if over.needs else "")
            lv = over.level
            raise APIError(
                429, f"Daily budget reached: {lv.level} '{lv.name}' has used {over.used:,} of {over.cap:,} {over.unit} "
                     f"allowed per day{held}{needs}. It resets at {reset:%Y-%m-%d %H:%M} UTC (in {_fmt_wait(wait)}). "
                     "To get more, ask your instructor (setting adoptkit.gateway.limits).",
                code="daily_budget_exceeded", outcome="over_budget",
                headers={"retry-after": str(max(1, int(wait)))}) from None
        except RateLimited as rl:
            lv = rl.level
            raise APIError(
                429, f"Rate limit: {lv.level} '{lv.name}' may send {lv.limits.requests_per_minute} requests a minute; "
                     f"try again in {rl.wait:.0f} s.", code="rate_limit_exceeded", outcome="rate_limited", retry=True,
                headers={"retry-after": str(max(1, round(rl.wait)))}) from None


def _check_level(lv: Level, requests: int, used: int, held: int, floor: int = 1) -> int | None:
    """Raise OverBudget if this level cannot take one more request needing `floor` tokens; return
    the tokens it has left (None: no token budget)."""
    cap = lv.limits.requests_per_day
    if cap is not None and requests >= cap:
        raise OverBudget(lv, "requests", requests, cap)
    cap = lv.limits.tokens_per_day
    if cap is None:
        return None
    if cap - used - held < floor:
        raise OverBudget(lv, "tokens", used + held, cap, held, floor if floor > 1 else None)
    return cap - used - held


def _least(values) -> int | None:
    values = [v for v in values if v is not None]
    return min(values) if values else None


class MemoryLedger:
    """Counters in this process (one gateway process: the SQLite default)."""

    def __init__(self, seed: list[tuple[str, str, int, int]] = ()):
        self._lock = threading.Lock()
        self._day = day_start()
        self.requests: Counter = Counter()
        self.used: Counter = Counter()
        self.held: Counter = Counter()
        self._minute: dict[tuple[str, str], deque] = defaultdict(deque)
        for learner, cohort, n, tokens in seed:
            for who in (("learner", learner), ("cohort", cohort)):
                self.requests[who] += n
                self.used[who] += tokens

    def _roll(self) -> None:
        today = day_start()
        if today != self._day:  # holds of requests still running carry over and settle against them
            self._day = today
            self.requests.clear()
            self.used.clear()

    def _counts(self, levels):
        return [(self.requests[(lv.level, lv.name)], self.used[(lv.level, lv.name)], self.held[(lv.level, lv.name)])
                for lv in levels]

    def check(self, levels: list[Level]) -> None:
        now = time.monotonic()
        with self._lock:
            self._roll()
            for lv, (r, u, h) in zip(levels, self._counts(levels)):
                _check_level(lv, r, u, h)
                self._rate(lv, now, record=False)

    def admit(self, levels: list[Level], plan, floor: int, enforce: bool) -> tuple[int | None, int]:
        now = time.monotonic()
        with self._lock:
            self._roll()
            left = None
            if enforce:
                lefts = []
                for lv, (r, u, h) in zip(levels, self._counts(levels)):
                    lefts.append(_check_level(lv, r, u, h, floor))
                    self._rate(lv, now, record=False)
                left = _least(lefts)
            grant, tokens = plan(left)
            for lv in levels:
                key = (lv.level, lv.name)
                self.requests[key] += 1
                self.held[key] += tokens
                if enforce:
                    self._rate(lv, now, record=True)
            return grant, tokens

    def adjust(self, levels: list[Level], extra: int, enforce: bool, day: dt.datetime | None = None) -> None:
        with self._lock:
            self._roll()
            if enforce and extra > 0:
                for lv, (_r, u, h) in zip(levels, self._counts(levels)):
                    cap = lv.limits.tokens_per_day
                    if cap is not None and cap - u - h < extra:
                        raise OverBudget(lv, "tokens", u + h, cap, h, extra)
            for lv in levels:
                self.held[(lv.level, lv.name)] += extra

    def settle(self, levels: list[Level], held: int, used: int, day: dt.datetime | None = None) -> None:
        with self._lock:
            self._roll()
            for lv in levels:
                key = (lv.level, lv.name)
                self.held[key] -= held
                self.used[key] += used

    def read(self, levels: list[Level]):
        with self._lock:
            self._roll()
            return self._counts(levels)

    def _rate(self, lv: Level, now: float, record: bool) -> None:
        per_minute = lv.limits.requests_per_minute
        if per_minute is None:
            return
        window = self._minute[(lv.level, lv.name)]
        while window and now - window[0] >= 60:
            window.popleft()
        if record:
            window.append(now)
        elif len(window) >= per_minute:
            raise RateLimited(lv, 60 - (now - window[0]))


class SQLLedger:
    """Counters in the `budget` table, shared by every gateway process on the same database.

    Admission locks the learner's and the cohort's rows (always in that order, so two requests never
    wait on each other in a circle) for the few statements of one transaction. Per-minute rates use the
    same table with the minute as the window (a fixed window, where the in-memory ledger slides)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._last_cleanup = 0.0

    def _rows(self, c, levels: list[Level], windows: list[dt.datetime], lock: bool):
        b = db.budget
        keys = [(w, lv.level, lv.name) for lv in levels for w in windows]
        if lock:
            ins = db.insert_ignore(c, b, [{"window": w, "level": lvl, "name": n, "requests": 0, "used": 0, "held": 0}
                                          for w, lvl, n in keys])
            c.execute(ins)
        q = sa.select(b.c.window, b.c.level, b.c.name, b.c.requests, b.c.used, b.c.held).where(
            sa.tuple_(b.c.window, b.c.level, b.c.name).in_(keys)).order_by(b.c.level.desc(), b.c.name, b.c.window)
        if lock:
            q = q.with_for_update()
        got = {(r.window, r.level, r.name): (r.requests, r.used, r.held) for r in c.execute(q)}
        return [got.get(k, (0, 0, 0)) for k in keys]

    @staticmethod
    def _windows() -> tuple[dt.datetime, dt.datetime]:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        return day_start(now), now.replace(second=0, microsecond=0)

    def check(self, levels: list[Level]) -> None:
        day, minute = self._windows()
        with self.engine.connect() as c:
            rows = self._rows(c, levels, [day, minute], lock=False)
        for i, lv in enumerate(levels):
            (r, u, h), (mr, _, _) = rows[2 * i], rows[2 * i + 1]
            _check_level(lv, r, u, h)
            self._rate(lv, mr)

    def admit(self, levels: list[Level], plan, floor: int, enforce: bool) -> tuple[int | None, int]:
        day, minute = self._windows()
        b = db.budget
        with self.engine.begin() as c:
            rows = self._rows(c, levels, [day, minute], lock=True)
            left = None
            if enforce:
                lefts = []
                for i, lv in enumerate(levels):
                    (r, u, h), (mr, _, _) = rows[2 * i], rows[2 * i + 1]
                    lefts.append(_check_level(lv, r, u, h, floor))
                    self._rate(lv, mr)
                left = _least(lefts)
            grant, tokens = plan(left)
            for lv in levels:
                where = (b.c.level == lv.level) & (b.c.name == lv.name)
                c.execute(b.update().where(where & (b.c.window == day)).values(
                    requests=b.c.requests + 1, held=b.c.held + tokens))
                c.execute(b.update().where(where & (b.c.window == minute)).values(requests=b.c.requests + 1))
        self._cleanup()
        return grant, tokens

    def adjust(self, levels: list[Level], extra: int, enforce: bool, day: dt.datetime | None = None) -> None:
        day = day or self._windows()[0]
        b = db.budget
        with self.engine.begin() as c:
            rows = self._rows(c, levels, [day], lock=True)
            if enforce and extra > 0:
                for lv, (_r, u, h) in zip(levels, rows):
                    cap = lv.limits.tokens_per_day
                    if cap is not None and cap - u - h < extra:
                        raise OverBudget(lv, "tokens", u + h, cap, h, extra)
            for lv in levels:
                where = (b.c.level == lv.level) & (b.c.name == lv.name) & (b.c.window == day)
                c.execute(b.update().where(where).values(held=b.c.held + extra))

    def settle(self, levels: list[Level], held: int, used: int, day: dt.datetime | None = None) -> None:
        day = day or self._windows()[0]
        b = db.budget
        with self.engine.begin() as c:
            for lv in levels:
                where = (b.c.level == lv.level) & (b.c.name == lv.name) & (b.c.window == day)
                c.execute(b.update().where(where).values(held=b.c.held - held, used=b.c.used + used))

    def read(self, levels: list[Level]):
        day, _ = self._windows()
        with self.engine.connect() as c:
            return self._rows(c, levels, [day], lock=False)

    @staticmethod
    def _rate(lv: Level, requests_this_minute: int) -> None:
        per_minute = lv.limits.requests_per_minute
        if per_minute is not None and requests_this_minute >= per_minute:
            now = dt.datetime.now(dt.UTC)
            raise RateLimited(lv, 60 - now.second - now.microsecond / 1e6)

    def _cleanup(self) -> None:
        """Drop windows older than two days, at most once an hour per process."""
        if time.monotonic() - self._last_cleanup < 3600:
            return
        self._last_cleanup = time.monotonic()
        old = day_start() - dt.timedelta(days=2)
        with self.engine.begin() as c:
            c.execute(db.budget.delete().where(db.budget.c.window < old))
