"""`adoptkit nudge`: who is due for review, as a digest printed or posted to a Slack-compatible webhook.

The digest names learners only for something to do (cards due, new cards waiting); people who have not
used the sandbox for a while are counted, never named, in a channel everyone can read. The webhook URL is a
secret: it is read from the environment variable that `engage.nudge.webhook_env` names.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd

from ..settings import Settings, current

TIMEOUT = 10


class NudgeError(RuntimeError):
    pass


@dataclass
class Digest:
    due: pd.DataFrame  # learner, name, due, new (learners with something to review)
    inactive: int  # learners with no sandbox use for inactive_days
    learners: int
    text: str


def build(due: pd.DataFrame, roster: pd.DataFrame, usage: pd.DataFrame, settings: Settings | None = None,
          now: datetime | None = None, usage_missing: str | None = None) -> Digest:
    """`due`: cards.due_counts() output (index learner); `usage`: the canonical usage frame; `usage_missing`:
    why there is no usage log (then nobody is counted inactive: no log is not the same as no use)."""
    s = settings or current()
    now = now or datetime.now(timezone.utc)
    names = roster.set_index("learner")["name"] if len(roster) else pd.Series(dtype=str)
    todo = due[(due["due"] > 0) | ((due["new"] > 0) & due["days_since"].isna())].copy()
    todo["name"] = [names.get(x, x) for x in todo.index]
    todo = todo.sort_values(["due", "new"], ascending=False)
    last = usage.groupby(usage["learner"].astype(str), observed=True)["ts"].max() if len(usage) else pd.Series(
        dtype="datetime64[ns, UTC]")
    cutoff = pd.Timestamp(now) - pd.Timedelta(days=s.engage.nudge.inactive_days)
    members = list(roster["learner"]) if len(roster) else list(due.index)
    inactive = 0 if usage_missing else sum(1 for x in members if x not in last.index or last[x] < cutoff)
    minutes = s.engage.microlearning.minutes
    lines = [f"*AI practice digest, {now:%A %d %B}*"]
    if len(todo):
        lines.append(f"{len(todo)} of {len(members)} learners have a {minutes}-minute review waiting "
                     f"(open the review deck notebook):")
        for learner, row in todo.head(50).iterrows():
            what = ", ".join(x for x in (f"{row['due']} due" if row["due"] else "",
                                         "new cards" if row["new"] and pd.isna(row["days_since"]) else "") if x)
            lines.append(f"• {row['name']}: {what}")
        if len(todo) > 50:
            lines.append(f"…and {len(todo) - 50} more.")
    else:
        lines.append("Nobody has reviews due today. Nice work.")
    if usage_missing:
        lines.append("Sandbox use is not counted in this digest: the usage log was not found.")
    elif inactive:
        lines.append(f"{inactive} learner(s) have not used the sandbox in {s.engage.nudge.inactive_days} days: "
                     f"a good moment for a team challenge.")
    return Digest(todo, inactive, len(members), "\n".join(lines))


def post(text: str, url: str | None = None, settings: Settings | None = None) -> None:
    """POST {"text": ...} to a Slack-compatible incoming webhook; raises NudgeError on any failure."""
    s = settings or current()
    url = url or os.environ.get(s.engage.nudge.webhook_env)
    if not url:
        raise NudgeError(f"no webhook: set {s.engage.nudge.webhook_env} to the incoming-webhook URL "
                         f"(or run without --post to print the digest)")
    if not url.startswith(("https://", "http://")):
        raise NudgeError(f"{s.engage.nudge.webhook_env} is not an http(s) URL")
    req = urllib.request.Request(url, data=json.dumps({"text": text}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            body = r.read(200).decode(errors="replace")
    except urllib.error.HTTPError as err:
        raise NudgeError(f"the webhook answered {err.code}: {err.read(200).decode(errors='replace')}") from None
    except OSError as err:
        raise NudgeError(f"could not reach the webhook: {err}") from None
    if body.strip() not in ("ok", ""):
        raise NudgeError(f"the webhook did not accept the digest: {body!r}")
