"""Daily budgets and per-minute rates, per learner and per cohort (limits from gateway.limits).

Counters live in memory (seeded from the usage log at start, so a restart forgets nothing) and reset at
00:00 UTC. A request counts when it is admitted; its tokens count when it ends, so one request can
take a learner past the token budget, and the next is refused. One gateway process holds the counters:
run one process (bench/gateway.py shows one is enough for a cohort).

An open gateway (no keys: the in-process server of one learner's kernel, or `serve --open` on
loopback) counts but never refuses: it serves one person on their own machine, and the offline model
costs nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter, defaultdict, deque

from ..settings import GatewayLimits, Limits
from .errors import APIError
from .keys import Identity
from .usage import day_start


def _fmt_wait(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


class Budgets:
    def __init__(self, limits: GatewayLimits, seed: list[tuple[str, str, int, int]] = (), enforce: bool = True):
        self.limits, self.enforce = limits, enforce
        self._lock = threading.Lock()
        self._day = day_start()
        self.requests: Counter = Counter()  # ("learner"|"cohort", name) -> requests today
        self.tokens: Counter = Counter()
        self._minute: dict[tuple[str, str], deque] = defaultdict(deque)
        for learner, cohort, n, tokens in seed:
            for who in (("learner", learner), ("cohort", cohort)):
                self.requests[who] += n
                self.tokens[who] += tokens

    def limits_for(self, identity: Identity) -> dict[str, Limits]:
        own = self.limits.cohorts.get(identity.cohort)
        return {"learner": (own and own.learner) or self.limits.learner,
                "cohort": (own and own.cohort) or self.limits.cohort}

    def _roll(self) -> None:
        today = day_start()
        if today != self._day:
            self._day = today
            self.requests.clear()
            self.tokens.clear()

    def admit(self, identity: Identity) -> None:
        """Count one request, or raise 429 saying which limit and when it resets."""
        now_wall, now = dt.datetime.now(dt.UTC).replace(tzinfo=None), time.monotonic()
        with self._lock:
            self._roll()
            limits = self.limits_for(identity)
            for level, lim in limits.items():
                who = (level, identity.learner if level == "learner" else identity.cohort)
                for used, cap, unit in ((self.tokens[who], lim.tokens_per_day, "tokens"),
                                        (self.requests[who], lim.requests_per_day, "requests")):
                    if self.enforce and cap is not None and used >= cap:
                        reset = self._day + dt.timedelta(days=1)
                        wait = (reset - now_wall).total_seconds()
                        raise APIError(
                            429, f"Daily budget reached: {level} '{who[1]}' has used {used:,} of {cap:,} {unit} "
                                 f"allowed per day. It resets at {reset:%Y-%m-%d %H:%M} UTC (in {_fmt_wait(wait)}). "
                                 f"To get more, ask your instructor (setting adoptkit.gateway.limits).",
                            code="daily_budget_exceeded", outcome="over_budget",
                            headers={"retry-after": str(max(1, int(wait)))})
                if self.enforce and lim.requests_per_minute is not None:
                    window = self._minute[who]
                    while window and now - window[0] >= 60:
                        window.popleft()
                    if len(window) >= lim.requests_per_minute:
                        wait = 60 - (now - window[0])
                        raise APIError(
                            429, f"Rate limit: {level} '{who[1]}' may send {lim.requests_per_minute} requests a "
                                 f"minute; try again in {wait:.0f} s.",
                            code="rate_limit_exceeded", outcome="rate_limited", retry=True,
                            headers={"retry-after": str(max(1, round(wait)))})
            for level, lim in limits.items():
                who = (level, identity.learner if level == "learner" else identity.cohort)
                self.requests[who] += 1
                if self.enforce and lim.requests_per_minute is not None:
                    self._minute[who].append(now)

    def add_tokens(self, identity: Identity, tokens: int) -> None:
        with self._lock:
            self._roll()
            self.tokens[("learner", identity.learner)] += tokens
            self.tokens[("cohort", identity.cohort)] += tokens

    def status(self, identity: Identity) -> dict:
        with self._lock:
            self._roll()
            out = {}
            for level, lim in self.limits_for(identity).items():
                who = (level, identity.learner if level == "learner" else identity.cohort)
                out[level] = {"name": who[1], "requests_today": self.requests[who], "tokens_today": self.tokens[who],
                              **lim.model_dump()}
            out["resets_at"] = (self._day + dt.timedelta(days=1)).isoformat() + "Z"
            return out
