"""Per-learner keys: issued by `adoptkit sandbox keys issue`, shown once, stored only as a hash.

A key is `ak-<key_id>-<secret>`: the key_id names it in listings and revocations; the secret is 32
random bytes, so a plain SHA-256 is the right hash (a slow password hash protects guessable secrets;
these are not guessable) and a lookup is one indexed query, fresh on every request so a revocation
takes effect at once.

The rule for "open" mode: `adoptkit sandbox serve` requires a key unless `gateway.require_keys` is
false (allowed only on a loopback address). The in-process server that `adoptkit.llm.client()` starts
inside one learner's kernel, on 127.0.0.1, always runs open: a request without a valid key is
answered as that local learner (cohort "local"); a valid key still identifies its owner. An open
gateway logs every request as usual and counts usage, but enforces no budget (see budgets.py).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import os
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from . import db
from .errors import APIError

KEY_PREFIX = "ak-"


@dataclass(frozen=True)
class Identity:
    learner: str
    cohort: str
    key_id: str | None  # None: the local learner of an open gateway


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    learner: str
    cohort: str
    note: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def local_identity() -> Identity:
    """Who uses an open, in-process gateway: the hub user, else the OS user."""
    return Identity(os.environ.get("JUPYTERHUB_USER") or getpass.getuser(), "local", None)


class KeyStore:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def issue(self, learner: str, cohort: str, note: str = "") -> tuple[str, KeyInfo]:
        """A new key for a learner; the plaintext is returned here and nowhere else, ever."""
        learner, cohort = learner.strip(), cohort.strip()
        if not learner or not cohort:
            raise ValueError("a key needs a learner and a cohort (e.g. --learner alice --cohort 2025-spring)")
        key_id = secrets.token_hex(6)
        key = f"{KEY_PREFIX}{key_id}-{secrets.token_urlsafe(32)}"
        info = KeyInfo(key_id, learner, cohort, note, _now(), None)
        with self.engine.begin() as c:
            c.execute(db.keys.insert().values(key_id=key_id, key_hash=_hash(key), learner=learner, cohort=cohort,
                                              note=note, created_at=info.created_at))
        return key, info

    def lookup(self, key: str) -> Identity | None:
        """The owner of a valid key, or None for an unknown or revoked one."""
        if not key.startswith(KEY_PREFIX):
            return None
        k = db.keys
        with self.engine.connect() as c:
            row = c.execute(sa.select(k.c.key_id, k.c.learner, k.c.cohort)
                            .where(k.c.key_hash == _hash(key), k.c.revoked_at.is_(None))).first()
        return Identity(row.learner, row.cohort, row.key_id) if row else None

    def is_revoked(self, key: str) -> bool:
        with self.engine.connect() as c:
            revoked = c.execute(sa.select(db.keys.c.revoked_at).where(db.keys.c.key_hash == _hash(key))).scalar()
        return revoked is not None

    def list(self, learner: str | None = None, cohort: str | None = None) -> list[KeyInfo]:
        k = db.keys
        q = sa.select(k.c.key_id, k.c.learner, k.c.cohort, k.c.note, k.c.created_at, k.c.revoked_at)
        if learner:
            q = q.where(k.c.learner == learner)
        if cohort:
            q = q.where(k.c.cohort == cohort)
        with self.engine.connect() as c:
            return [KeyInfo(*row) for row in c.execute(q.order_by(k.c.created_at))]

    def revoke(self, key_id: str | None = None, learner: str | None = None) -> list[str]:
        """Revoke one key by id, or every valid key of a learner; returns the key ids revoked."""
        if (key_id is None) == (learner is None):
            raise ValueError("revoke one key (its KEY_ID) or every key of a learner (--learner), not both")
        k = db.keys
        where = (k.c.key_id == key_id) if key_id else (k.c.learner == learner)
        with self.engine.begin() as c:
            ids = [r.key_id for r in c.execute(sa.select(k.c.key_id).where(where, k.c.revoked_at.is_(None)))]
            if ids:
                c.execute(k.update().where(k.c.key_id.in_(ids)).values(revoked_at=_now()))
        return ids


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def authenticate(store: KeyStore, authorization: str | None, require_keys: bool) -> Identity:
    """The caller's identity, or a 401 that says what to do."""
    key = bearer(authorization)
    identity = store.lookup(key) if key else None
    if identity:
        return identity
    if not require_keys:
        return local_identity()
    if not key:
        raise APIError(401, "No API key: this gateway needs your personal key. Set the ADOPTKIT_API_KEY "
                            "environment variable (your instructor issues it with `adoptkit sandbox keys issue`).",
                       code="missing_api_key")
    if key.startswith(KEY_PREFIX) and store.is_revoked(key):
        raise APIError(401, "This API key has been revoked. Ask your instructor for a new one.", code="revoked_api_key")
    raise APIError(401, "This API key is not known to this gateway (mistyped, or issued by another gateway). "
                        "Check ADOPTKIT_API_KEY, or ask your instructor for a key.", code="invalid_api_key")


class BadKeyThrottle:
    """Per source address, a bucket of failed key checks (`burst`, refilled at `per_second`). Once a
    source has emptied it, its requests get a 429 without a database lookup, except for keys this
    gateway has seen valid recently (so learners behind one NAT or proxy keep working while one of
    them retries a wrong key). Bounded: the least recent sources are forgotten past `max_sources`."""

    def __init__(self, burst: int = 30, per_second: float = 1.0, max_sources: int = 10_000):
        self.burst, self.rate, self.max_sources = burst, per_second, max_sources
        self._buckets: dict[str, tuple[float, float]] = {}  # source -> (tokens, at)
        self._good: dict[str, float] = {}  # key hash -> last seen valid (monotonic)

    def _level(self, source: str, now: float) -> float:
        tokens, at = self._buckets.get(source, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate)

    def blocked(self, source: str, key: str | None, now: float) -> float:
        """Seconds to wait (0: go ahead)."""
        if source not in self._buckets or (key and self._good.get(_hash(key), -1e9) > now - 600):
            return 0.0
        level = self._level(source, now)
        return 0.0 if level >= 1 else (1 - level) / self.rate

    def failed(self, source: str, now: float) -> None:
        self._buckets[source] = (self._level(source, now) - 1, now)
        if len(self._buckets) > self.max_sources:
            for old in sorted(self._buckets, key=lambda s: self._buckets[s][1])[: self.max_sources // 10]:
                del self._buckets[old]

    def good(self, key: str, now: float) -> None:
        self._good[_hash(key)] = now
        if len(self._good) > 100_000:
            self._good = {k: t for k, t in self._good.items() if t > now - 600}
