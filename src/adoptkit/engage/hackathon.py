"""Hackathon mode: a timed challenge assignment, a live scoreboard page, and a final ranking.

A hackathon is an nbgrader assignment with a start and an end (`adoptkit.engage.hackathons.<name>`).
Submissions are autograded as usual (nbgrader or the cohort runner); the scoreboard reads the gradebook,
counts only submissions made between start and end, and ranks by points, earlier submission first on a
tie. `adoptkit hackathon scoreboard NAME --watch 30` rewrites a static page every 30 s (the page reloads
itself and counts down to the end, with no script from the network); `adoptkit hackathon final NAME`
writes the final ranking once the time is up. The leaderboard's privacy setting applies: in team mode a team
with fewer entrants than `engage.leaderboard.min_team_size` is pooled with the other small teams (its score
would otherwise be its member's), and a pool still below that size is not shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..measure import assessment, html
from ..measure.cohort import derive_roster, gradebook_url, read_roster
from ..settings import Hackathon, Settings, current
from .leaderboard import POOLED, initials


class HackathonError(ValueError):
    pass


def get(name: str, settings: Settings | None = None) -> Hackathon:
    s = settings or current()
    try:
        return s.engage.hackathons[name]
    except KeyError:
        known = ", ".join(s.engage.hackathons) or "none configured"
        raise HackathonError(f"no hackathon {name!r} in adoptkit.engage.hackathons ({known}). Add one with "
                             f"assignment, title, start and end.") from None


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


@dataclass
class Standing:
    table: pd.DataFrame  # rank, shown as, points, submitted (+ team members in team mode)
    late: int  # submissions after the end, not counted
    entrants: int


def ranking(scores: pd.DataFrame, roster: pd.DataFrame, h: Hackathon, settings: Settings | None = None,
            privacy: str | None = None) -> Standing:
    """Rank the hackathon's submissions from gradebook rows (learner, assignment, score, submitted)."""
    lb = (settings or current()).engage.leaderboard
    privacy = privacy or lb.privacy
    start, end = _aware(h.start), _aware(h.end)
    mine = scores[scores["assignment"] == h.assignment]
    per = mine.groupby("learner").agg(points=("score", "sum"), submitted=("submitted", "max"))
    when = pd.to_datetime(per["submitted"], utc=True)
    in_time = (when >= start) & (when <= end)
    late = int((when > end).sum())
    per = per[in_time].join(roster.set_index("learner")[["name", "team"]], how="left")
    entrants = len(per)
    per["name"] = per["name"].fillna(pd.Series(per.index, index=per.index))
    per["team"] = per["team"].fillna("unassigned")
    if privacy == "team":
        # A team's score is its best submission; the earliest wins a tie. A team with fewer entrants than
        # min_team_size would name its members by its score: such teams are pooled, and a pool still too
        # small is not shown at all.
        sizes = per.groupby("team")["points"].transform("size")
        per["team"] = per["team"].where(sizes >= lb.min_team_size, POOLED)
        if (per["team"] == POOLED).sum() < lb.min_team_size:
            per = per[per["team"] != POOLED]
        best = per.sort_values(["points", "submitted"], ascending=[False, True]).groupby("team").head(1)
        sizes = per.groupby("team").size()
        table = pd.DataFrame({"shown as": best["team"].to_numpy(), "points": best["points"].to_numpy(),
                              "submitted": best["submitted"].to_numpy(),
                              "entrants": sizes.reindex(best["team"]).to_numpy()})
    else:
        # As on the leaderboards: nobody with no points is listed, nor anyone who opted out.
        ranked = per[~per.index.isin(lb.opt_out) & (per["points"] > 0)].sort_values(
            ["points", "submitted"], ascending=[False, True])
        ranked = ranked.head(lb.top)
        label = ranked["name"] if privacy == "names" else ranked["name"].map(initials)
        table = pd.DataFrame({"shown as": label.to_numpy(), "team": ranked["team"].to_numpy(),
                              "points": ranked["points"].to_numpy(), "submitted": ranked["submitted"].to_numpy()})
    table = table.sort_values(["points", "submitted"], ascending=[False, True]).reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return Standing(table, late, entrants)


def load(name: str, settings: Settings | None = None, privacy: str | None = None) -> tuple[Hackathon, Standing]:
    s = settings or current()
    h = get(name, s)
    scores, students = assessment.gradebook_scores(gradebook_url(s))
    roster = (read_roster(s.path(s.measure.roster)) if s.measure.roster
              else derive_roster(scores.assign(role=None), students, pd.DataFrame(columns=["learner", "cohort"])))
    return h, ranking(scores, roster, h, s, privacy)


def page(h: Hackathon, st: Standing, final: bool, refresh: int | None = None, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    end = _aware(h.end)
    rows = st.table.assign(submitted=pd.to_datetime(st.table["submitted"], utc=True).dt.strftime("%H:%M:%S"))
    status = ("Final ranking" if final else
              "Not started yet" if now < _aware(h.start) else
              "Time is up: the final ranking follows" if now > end else "Live")
    countdown = "" if final else (
        f"<p><b>Time left: <span id='left'>…</span></b></p><script>const end={json.dumps(end.isoformat())};"
        "function tick(){const s=Math.max(0,(new Date(end)-new Date())/1000|0);"
        "document.getElementById('left').textContent=s?`${s/3600|0}h ${(s%3600)/60|0}m ${s%60}s`:'time is up';}"
        "tick();setInterval(tick,1000);</script>")
    body = (f"<h2>{html.esc(status)}</h2>{countdown}"
            f"<p>{st.entrants} entr{'y' if st.entrants == 1 else 'ies'} on time"
            f"{f', {st.late} after the end (not counted)' if st.late else ''}. "
            f"From {_aware(h.start):%Y-%m-%d %H:%M} to {end:%H:%M} UTC; most points wins, earlier submission "
            f"first on a tie.</p>" + html.table(rows.set_index("rank"), "{:.1f}"))
    out = html.page(f"{h.title}{' — final' if final else ''}", f"updated {now:%Y-%m-%d %H:%M:%S UTC}", body, False)
    if refresh and not final:
        out = out.replace("<head>", f"<head><meta http-equiv='refresh' content='{int(refresh)}'>", 1)
    return out


def write(h: Hackathon, st: Standing, path: str | Path, final: bool, refresh: int | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page(h, st, final, refresh), encoding="utf-8")
    tmp.replace(path)
    if final:
        st.table.to_csv(path.with_suffix(".csv"), index=False)
    return path
