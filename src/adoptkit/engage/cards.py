"""Spaced-repetition review cards, scheduled per learner with FSRS, for a five-minute daily session.

Cards are drawn from the exercises: any markdown cell may carry `metadata.adoptkit.cards`, a list of
{id, competency, front, back} (the assessments carry one per quiz question and one per task). Each
learner's card states live in the kit's records (SQLite, table card_state), so sessions carry over
between days and `adoptkit nudge` can see who is due. New cards come in weakest competency first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pandas as pd
from fsrs import Card, Rating, Scheduler

from ..measure import records
from ..settings import Settings, current

RATINGS = {"again": Rating.Again, "hard": Rating.Hard, "good": Rating.Good, "easy": Rating.Easy}


class CardError(ValueError):
    pass


@dataclass(frozen=True)
class ReviewCard:
    id: str
    competency: str
    front: str
    back: str
    source: str = ""


def deck(exercises: str | Path | None = None, settings: Settings | None = None) -> list[ReviewCard]:
    """Every card in the exercises' notebooks, once each (the same id in several notebooks is one card)."""
    s = settings or current()
    folder = Path(exercises) if exercises else s.path("exercises")
    known = set(s.competency.ids())
    seen: dict[str, ReviewCard] = {}
    for path in sorted(folder.glob("*/*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            for c in cell.metadata.get("adoptkit", {}).get("cards", []):
                if c.get("competency") in known and c.get("id") not in seen and c.get("front") and c.get("back"):
                    seen[c["id"]] = ReviewCard(c["id"], c["competency"], c["front"], c["back"], path.parent.name)
    return list(seen.values())


def export(cards: list[ReviewCard], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps([asdict(c) for c in cards], indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def load_deck(path: str | Path) -> list[ReviewCard]:
    try:
        return [ReviewCard(**c) for c in json.loads(Path(path).read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError) as err:
        raise CardError(f"{path} is not a deck exported by `adoptkit microlearning deck --export`: {err}") from None


def _utc(t: datetime | None) -> datetime:
    t = t or datetime.now(timezone.utc)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


class Schedule:
    """One learner's review state."""

    def __init__(self, learner: str, settings: Settings | None = None, db: str | Path | None = None,
                 fuzz: bool = True):
        if not learner:
            raise CardError("a review schedule needs a learner id")
        self.learner, self.settings, self.db = learner, settings or current(), db
        self.scheduler = Scheduler(enable_fuzzing=fuzz)

    def _states(self, conn) -> dict[str, tuple[Card, datetime]]:
        rows = conn.execute("SELECT card, state, due FROM card_state WHERE learner = ?", (self.learner,))
        return {cid: (Card.from_json(state), datetime.fromisoformat(due)) for cid, state, due in rows}

    def due(self, cards: list[ReviewCard], now: datetime | None = None,
            levels: dict[str, float] | None = None) -> list[ReviewCard]:
        """Today's session: cards due now (most overdue first), then new cards, weakest competency first."""
        now = _utc(now)
        m = self.settings.engage.microlearning
        with records.connect(self.db, self.settings) as conn:
            states = self._states(conn)
            start = now.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()
            introduced = conn.execute(
                "SELECT COUNT(*) FROM (SELECT card, MIN(reviewed_at) AS first FROM card_review WHERE learner = ? "
                "GROUP BY card) WHERE first >= ?", (self.learner, start)).fetchone()[0]
        by_id = {c.id: c for c in cards}
        due = sorted((d, cid) for cid, (_, d) in states.items() if d <= now and cid in by_id)
        fresh = [c for c in cards if c.id not in states]
        order = {cid: i for i, cid in enumerate(by_id)}
        fresh.sort(key=lambda c: ((levels or {}).get(c.competency, 0), order[c.id]))
        session = [by_id[cid] for _, cid in due] + fresh[:max(m.new_cards_per_day - introduced, 0)]
        return session[:m.max_cards]

    def review(self, card: ReviewCard | str, rating: Rating | int | str, now: datetime | None = None) -> datetime:
        """Record one answer; returns when the card is due next."""
        cid = card.id if isinstance(card, ReviewCard) else card
        if isinstance(rating, str):
            if rating.lower() not in RATINGS:
                raise CardError(f"rating {rating!r}: use one of {list(RATINGS)}")
            rating = RATINGS[rating.lower()]
        rating = Rating(rating)
        now = _utc(now)
        with records.connect(self.db, self.settings) as conn:
            state = self._states(conn).get(cid, (Card(due=now), now))[0]
            state, _log = self.scheduler.review_card(state, rating, review_datetime=now)
            conn.execute("INSERT OR REPLACE INTO card_state VALUES (?, ?, ?, ?)",
                         (self.learner, cid, state.to_json(), state.due.isoformat()))
            conn.execute("INSERT INTO card_review VALUES (?, ?, ?, ?)",
                         (self.learner, cid, int(rating), now.isoformat()))
        return state.due


def due_counts(learners: list[str], cards: list[ReviewCard], now: datetime | None = None,
               settings: Settings | None = None, db: str | Path | None = None) -> pd.DataFrame:
    """Per learner: reviews due now, new cards waiting, days since the last session (None: never)."""
    now = _utc(now)
    with records.connect(db, settings) as conn:
        state = pd.read_sql_query("SELECT learner, card, due FROM card_state", conn)
        last = pd.read_sql_query("SELECT learner, MAX(reviewed_at) AS last FROM card_review GROUP BY learner", conn)
    ids = {c.id for c in cards}
    state = state[state["card"].isin(ids)]
    due = state[pd.to_datetime(state["due"], utc=True, format="ISO8601") <= now].groupby("learner").size()
    seen = state.groupby("learner").size()
    last_t = pd.to_datetime(last.set_index("learner")["last"], utc=True, format="ISO8601")
    out = pd.DataFrame(index=pd.Index(learners, name="learner"))
    out["due"] = due.reindex(out.index).fillna(0).astype(int)
    out["new"] = (len(ids) - seen.reindex(out.index).fillna(0)).astype(int)
    out["days_since"] = ((now - last_t).dt.days).reindex(out.index)
    return out


def reviews(settings: Settings | None = None, db: str | Path | None = None,
            since: timedelta | None = None) -> pd.DataFrame:
    """(learner, card, rating, reviewed_at) rows: streaks on the leaderboard count review days too."""
    with records.connect(db, settings) as conn:
        df = pd.read_sql_query("SELECT learner, card, rating, reviewed_at FROM card_review", conn)
    if since is not None and len(df):
        df = df[pd.to_datetime(df["reviewed_at"], utc=True, format="ISO8601") >= datetime.now(timezone.utc) - since]
    return df
