"""Sharing a few worker threads between learners fairly: at most `slots` jobs run at once, and each
learner's jobs run one at a time, so one learner's burst of big requests waits behind itself and never
takes every slot from the others. Used for big redaction jobs (app.py) and real embeddings (local.py)."""

from __future__ import annotations

import contextlib

import anyio


class FairSlots:
    def __init__(self, slots: int):
        self.slots = slots
        self._limiter: anyio.CapacityLimiter | None = None  # made inside the event loop, on first use
        self._learners: dict[str, list] = {}  # learner -> [lock, jobs waiting or running]

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.slots)
        return self._limiter

    @contextlib.asynccontextmanager
    async def turn(self, learner: str):
        """Wait for this learner's previous job to end; then run `run_sync` inside for a slot."""
        entry = self._learners.setdefault(learner, [anyio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._learners.pop(learner, None)

    async def run_sync(self, learner: str, fn, *args):
        """fn(*args) in a worker thread, in this learner's turn and one of the shared slots."""
        async with self.turn(learner):
            return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)
