"""The kit's own records (SQLite): what neither the gradebook nor the gateway knows.

Teach-back review assignments and rubric scores, published lessons, spaced-repetition state per learner,
badges issued, xAPI statements an LRS has acknowledged and each record's statement revisions. One file (`adoptkit.measure.records`), created
on first use; every table is keyed so that doing a step twice never duplicates a row.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..settings import Settings, current

SCHEMA = """
CREATE TABLE IF NOT EXISTS review_assignment (
    author TEXT NOT NULL, reviewer TEXT NOT NULL, lesson TEXT NOT NULL, assigned_at TEXT NOT NULL,
    PRIMARY KEY (author, reviewer));
CREATE TABLE IF NOT EXISTS review_score (
    author TEXT NOT NULL, reviewer TEXT NOT NULL, criterion TEXT NOT NULL, score REAL NOT NULL,
    comment TEXT, scored_at TEXT NOT NULL, PRIMARY KEY (author, reviewer, criterion));
CREATE TABLE IF NOT EXISTS published (
    author TEXT PRIMARY KEY, path TEXT NOT NULL, score REAL, published_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS card_state (
    learner TEXT NOT NULL, card TEXT NOT NULL, state TEXT NOT NULL, due TEXT NOT NULL,
    PRIMARY KEY (learner, card));
CREATE INDEX IF NOT EXISTS card_due ON card_state (due);
CREATE TABLE IF NOT EXISTS card_review (
    learner TEXT NOT NULL, card TEXT NOT NULL, rating INTEGER NOT NULL, reviewed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS badge_issued (
    learner TEXT NOT NULL, badge TEXT NOT NULL, credential_id TEXT NOT NULL, path TEXT NOT NULL,
    issued_at TEXT NOT NULL, PRIMARY KEY (learner, badge));
CREATE TABLE IF NOT EXISTS xapi_sent (statement_id TEXT PRIMARY KEY, sent_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS xapi_revision (
    key TEXT NOT NULL, revision INTEGER NOT NULL, statement_id TEXT NOT NULL, digest TEXT NOT NULL,
    planned_at TEXT NOT NULL, PRIMARY KEY (key, revision));
"""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def path(settings: Settings | None = None) -> Path:
    s = settings or current()
    return s.path(s.measure.records)


@contextmanager
def connect(db: str | Path | None = None, settings: Settings | None = None) -> Iterator[sqlite3.Connection]:
    """A connection with the schema in place; commits on success, rolls back on error, always closes."""
    target = Path(db) if db else path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(target, timeout=30)
    try:
        conn.executescript(SCHEMA)
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
