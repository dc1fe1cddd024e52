"""Leaderboards per cohort and team: graded points, streaks and sandbox activity, shown without shaming.

Privacy (`adoptkit.engage.leaderboard.privacy`):
- "team" (the default): team averages only; no individual is ranked, and teams smaller than
  `min_team_size` are pooled, so no one can be picked out.
- "initials" / "names": the top `top` learners only; nobody is ever listed below them, learners with no
  score are never listed, and anyone in `opt_out` is left off (their work still counts in team averages).

Points are graded work in the course; the pre-assessment (a baseline, not work) earns none.
A streak is the run of working days up to today (or the last working day) with sandbox use or a review
session; weekends never break it.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..measure import html
from ..measure.cohort import Cohort
from ..settings import Settings, current

POOLED = "other teams (pooled)"


WORKWEEK = "1111100"
EPOCH = np.datetime64("1970-01-01")


def _working_day(days) -> np.ndarray:
    """Number of working days since 1970; weekend activity counts for the Friday before it."""
    days = np.asarray(days).astype("datetime64[D]")
    n = np.busday_count(EPOCH, days, weekmask=WORKWEEK)
    return np.where(np.is_busday(days, weekmask=WORKWEEK), n, n - 1)


def streaks(days: pd.DataFrame, today: date) -> pd.Series:
    """Current streak per learner from (learner, day) rows of activity, counting working days only."""
    if days.empty:
        return pd.Series(dtype="int64")
    d = pd.DataFrame({"learner": days["learner"].to_numpy(), "b": _working_day(days["day"].to_numpy())})
    d = d.drop_duplicates().sort_values(["learner", "b"])
    d["run"] = (d.groupby("learner")["b"].diff() != 1).cumsum()  # a gap of 2+ working days starts a new run
    last = d.groupby("learner").agg(end=("b", "max"), run=("run", "last"))
    length = d.groupby("run").size()
    latest = int(_working_day([np.datetime64(today)])[0])
    alive = last["end"] >= latest - 1  # active today (or, at a weekend, Friday) or the working day before
    return pd.Series(np.where(alive, length.reindex(last["run"]).to_numpy(), 0), index=last.index, dtype="int64")


def standings(cohort: Cohort, settings: Settings | None = None, reviews: pd.DataFrame | None = None,
              today: date | None = None) -> pd.DataFrame:
    """One row per learner of the roster: points (graded work, the pre-assessment excluded), streak, active days
    (last 28), score."""
    s = settings or current()
    lb = s.engage.leaderboard
    f = cohort.usage.frame
    if today is None:  # a simulated cohort lives in its own period: "today" is its last day
        today = (f["ts"].max().date() if cohort.simulated and len(f) else datetime.now(timezone.utc).date())
    roster = cohort.roster.set_index("learner")
    # Points are for work done in the course: the pre-assessment measures where a learner started, so it
    # earns nothing (nobody should gain from having known more before the course).
    scores = cohort.scores
    earned = scores[scores["phase"] != "pre"] if "phase" in scores else scores
    points = earned.groupby("learner")["score"].sum()
    activity = pd.DataFrame({"learner": f["learner"].astype(str), "day": f["ts"].dt.tz_localize(None).dt.floor("D")})
    if reviews is not None and len(reviews):
        activity = pd.concat([activity, pd.DataFrame({"learner": reviews["learner"].astype(str),
                                                      "day": pd.to_datetime(reviews["reviewed_at"], utc=True)
                                                      .dt.tz_localize(None).dt.floor("D")})])
    activity = activity.drop_duplicates()
    since = pd.Timestamp(today) - pd.Timedelta(days=28)
    active = activity[activity["day"] > since].groupby("learner").size()
    out = roster[["name", "team", "cohort"]].copy()
    out["points"] = points.reindex(out.index).fillna(0.0)
    out["streak"] = streaks(activity, today).reindex(out.index).fillna(0).astype(int)
    out["active_days"] = active.reindex(out.index).fillna(0).astype(int)
    out["score"] = (out["points"] + lb.streak_points * out["streak"].clip(upper=lb.streak_cap)
                    + lb.active_day_points * out["active_days"])
    return out


def initials(name: str) -> str:
    parts = [p for p in str(name).replace("-", " ").split() if p]
    return " ".join(f"{p[0].upper()}." for p in parts[:3]) or "?"


def board(table: pd.DataFrame, settings: Settings | None = None, privacy: str | None = None,
          cohort: str | None = None, team: str | None = None) -> pd.DataFrame:
    """The rows to show, already made safe for the chosen privacy level."""
    lb = (settings or current()).engage.leaderboard
    privacy = privacy or lb.privacy
    t = table
    if cohort:
        t = t[t["cohort"] == cohort]
    if team:
        t = t[t["team"] == team]
    if t.empty:
        return pd.DataFrame(columns=["rank", "shown as", "score"])
    if privacy == "team":
        sizes = t.groupby("team")["score"].transform("size")
        teams = t["team"].where(sizes >= lb.min_team_size, POOLED)
        g = t.groupby(teams).agg(members=("score", "size"), score=("score", "mean"), points=("points", "mean"),
                                 streak=("streak", "mean"), active_days=("active_days", "mean"))
        if POOLED in g.index and g.loc[POOLED, "members"] < lb.min_team_size:
            g = g.drop(POOLED)  # too few even pooled: they are not shown on their own
        g = g.sort_values("score", ascending=False).reset_index(names="shown as")
        g.insert(0, "rank", range(1, len(g) + 1))
        return g
    if privacy not in ("initials", "names"):
        raise ValueError(f"privacy {privacy!r}: use team, initials or names")
    shown = t[~t.index.isin(lb.opt_out) & (t["score"] > 0)].sort_values(
        ["score", "points"], ascending=False).head(lb.top)
    label = shown["name"] if privacy == "names" else shown["name"].map(initials)
    out = pd.DataFrame({"shown as": label.to_numpy(), "team": shown["team"].to_numpy(),
                        "score": shown["score"].to_numpy(), "points": shown["points"].to_numpy(),
                        "streak": shown["streak"].to_numpy(), "active_days": shown["active_days"].to_numpy()})
    out.insert(0, "rank", range(1, len(out) + 1))
    return out


def render(rows: pd.DataFrame, title: str, privacy: str, simulated: bool, refresh: int | None = None) -> str:
    explain = {"team": "Team averages only: no individual is ranked; small teams are pooled.",
               "initials": "The top learners by initials; nobody is listed below them.",
               "names": "The top learners; nobody is listed below them."}[privacy]
    body = (f"<p>{html.esc(explain)} Score = graded points + a bonus per working day of the current streak "
            f"(capped) + active days in the sandbox (last 28 days).</p>" + html.table(rows.set_index("rank"), "{:.1f}"))
    page = html.page(title, f"updated {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}", body, simulated)
    if refresh:
        page = page.replace("<head>", f"<head><meta http-equiv='refresh' content='{int(refresh)}'>", 1)
    return page


def write(rows: pd.DataFrame, path: str | Path, title: str, privacy: str, simulated: bool,
          refresh: int | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render(rows, title, privacy, simulated, refresh), encoding="utf-8")
    tmp.replace(path)  # a browser refreshing mid-write never sees half a page
    return path
