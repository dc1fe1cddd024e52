"""Learning records as xAPI statements, and sending them to the organisation's LRS.

Statements (actor, verb, object, result, context):
- a graded submission -> "completed" the assignment, with its score (raw, min, max, scaled);
- a badge issued -> "mastered" the badge's achievement;
- a teach-back lesson published in the book -> "shared" it.
Learners are identified as accounts on `xapi.account_homepage` (no email addresses leave the kit).

Every statement id is a UUID5 of the record it reports (who, what, when; never the score), so exporting twice
gives the same ids and a resend can never create a duplicate: the LRS treats a known id as the same statement
(xAPI: an LRS keeps one statement per id), and the kit also records which ids an LRS has acknowledged and
skips them. A record whose content changes after it was sent (a regrade) gets a new revision: the kit sends a
voiding statement for the earlier one (xAPI 1.0.3, Data 2.3.2: verb `voided`, object a StatementRef) and then
the new statement under a new id, so the LRS holds one valid "completed" per submission.
Sending (xAPI REST): POST {endpoint}/statements with a JSON array, `X-Experience-API-Version: 1.0.3`, HTTP
basic auth, in batches; 429/5xx/network errors are retried with exponential backoff (honouring
Retry-After); 4xx answers stop with the LRS's message. Every statement is validated before anything is sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from ..settings import Settings, current
from . import records, xapi_rules

VERSION = "1.0.3"
ADL = "http://adlnet.gov/expapi/verbs/"
VERBS = {"completed": ADL + "completed", "mastered": ADL + "mastered", "shared": ADL + "shared",
         "voided": ADL + "voided"}
ASSESSMENT_TYPE = "http://adlnet.gov/expapi/activities/assessment"
LESSON_TYPE = "http://adlnet.gov/expapi/activities/lesson"


class XAPIError(RuntimeError):
    pass


def _iso(t) -> str:
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def statement_id(settings: Settings, *parts: str) -> str:
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, settings.xapi.activity_base.rstrip("/") + "/xapi")
    return str(uuid.uuid5(namespace, "|".join(parts)))


def actor(learner: str, name: str | None, settings: Settings) -> dict:
    a = {"objectType": "Agent", "account": {"homePage": settings.xapi.account_homepage, "name": learner}}
    if name:
        a["name"] = name
    return a


def _context(settings: Settings, role: str | None, cohort: str | None) -> dict:
    base = settings.xapi.activity_base.rstrip("/")
    ctx = {"platform": "adoptkit", "language": "en",
           "contextActivities": {"grouping": [{"objectType": "Activity", "id": f"{base}/course",
                                               "definition": {"name": {"en": "AI adoption programme"}}}]}}
    ext = {f"{base}/xapi/extensions/{k}": v for k, v in (("role", role), ("cohort", cohort)) if v}
    if ext:
        ctx["extensions"] = ext
    return ctx


def statements(scores: pd.DataFrame, roster: pd.DataFrame, settings: Settings | None = None,
               badges: pd.DataFrame | None = None, published: pd.DataFrame | None = None) -> list[dict]:
    """Statements for every graded submission (and issued badge, published lesson) in the records."""
    s = settings or current()
    base = s.xapi.activity_base.rstrip("/")
    people = roster.set_index("learner") if len(roster) else pd.DataFrame(columns=["name", "role", "cohort"])
    out = []
    per = (scores.groupby(["learner", "assignment"], sort=True)
           .agg(raw=("score", "sum"), max=("max_score", "sum"), submitted=("submitted", "max")).reset_index())
    for row in per.itertuples(index=False):
        if pd.isna(row.submitted) or row.max <= 0:
            continue
        who = people.loc[row.learner] if row.learner in people.index else None
        obj = f"{base}/assignments/{quote(row.assignment, safe='')}"
        when = _iso(row.submitted)
        raw = round(float(row.raw), 4)
        out.append({
            "id": statement_id(s, "completed", row.learner, obj, when),
            "actor": actor(row.learner, None if who is None else who["name"], s),
            "verb": {"id": VERBS["completed"], "display": {"en": "completed"}},
            "object": {"objectType": "Activity", "id": obj,
                       "definition": {"name": {"en": row.assignment}, "type": ASSESSMENT_TYPE}},
            "result": {"completion": True, "score": {"raw": raw, "min": 0, "max": float(row.max),
                                                     "scaled": round(raw / float(row.max), 4)}},
            "context": _context(s, None if who is None else who["role"], None if who is None else who["cohort"]),
            "timestamp": when,
        })
    badge_type = f"{base}/xapi/activity-types/badge"  # the kit's own IRI for the kind of activity
    for frame, verb, kind, key in ((badges, "mastered", badge_type, "badge"), (published, "shared", LESSON_TYPE, "path")):
        if frame is None or frame.empty:
            continue
        for row in frame.itertuples(index=False):
            learner = row.learner if hasattr(row, "learner") else row.author
            thing = getattr(row, key)
            obj = (f"{base}/achievements/{quote(thing, safe='')}" if verb == "mastered"
                   else f"{base}/teachbacks/{quote(Path(thing).stem, safe='')}")
            when = _iso(pd.Timestamp(row.issued_at if verb == "mastered" else row.published_at))
            who = people.loc[learner] if learner in people.index else None
            out.append({
                "id": statement_id(s, verb, learner, obj, when),
                "actor": actor(learner, None if who is None else who["name"], s),
                "verb": {"id": VERBS[verb], "display": {"en": verb}},
                "object": {"objectType": "Activity", "id": obj,
                           "definition": {"name": {"en": Path(thing).stem}, "type": kind}},
                "context": _context(s, None if who is None else who["role"], None if who is None else who["cohort"]),
                "timestamp": when,
            })
    return out


def record_key(st: dict) -> str:
    """What a statement reports, whatever its content: verb, learner, object and time (its first id's parts)."""
    return "|".join((st["verb"]["id"].rsplit("/", 1)[-1], st["actor"]["account"]["name"], st["object"]["id"],
                     st.get("timestamp", "")))


def _digest(st: dict) -> str:
    return hashlib.sha256(json.dumps({k: v for k, v in st.items() if k != "id"}, sort_keys=True).encode()).hexdigest()


def voiding(target_id: str, when: str, settings: Settings | None = None) -> dict:
    """The xAPI 1.0.3 voiding statement for `target_id`, made by the kit itself (its own account)."""
    s = settings or current()
    return {
        "id": statement_id(s, "voided", target_id),
        "actor": {"objectType": "Agent", "name": "adoptkit",
                  "account": {"homePage": s.xapi.account_homepage, "name": "adoptkit"}},
        "verb": {"id": VERBS["voided"], "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target_id},
        "timestamp": when,
    }


def revise(stmts: list[dict], settings: Settings | None = None, db: str | Path | None = None,
           record: bool = False) -> list[dict]:
    """The statements as the LRS should hold them: each record under its current revision's id, preceded by a
    voiding statement for every earlier revision that the LRS may hold.

    A record seen for the first time keeps its plain id (revision 0). One whose content differs from its latest
    revision (a regrade) becomes revision n + 1 with a new id, and the earlier id is voided. With `record`,
    new revisions are stored (and so fixed: a resend after an interruption sends the very same statements);
    without, nothing is written (an export).
    """
    s = settings or current()
    out: list[dict] = []
    with records.connect(db, s) as conn:
        history: dict[str, list[tuple]] = {}
        for row in conn.execute("SELECT key, revision, statement_id, digest, planned_at FROM xapi_revision "
                                "ORDER BY key, revision"):
            history.setdefault(row[0], []).append(row[1:])
        for st in stmts:
            key, digest = record_key(st), _digest(st)
            revs = list(history.get(key, []))
            if not revs or revs[-1][2] != digest:  # new, or changed since it was sent: a new revision
                rev = revs[-1][0] + 1 if revs else 0
                sid = st["id"] if rev == 0 else statement_id(s, key, f"revision {rev}")
                revs.append((rev, sid, digest, records.now()))
                if record:
                    conn.execute("INSERT INTO xapi_revision VALUES (?, ?, ?, ?, ?)", (key, *revs[-1]))
            # Every earlier revision is voided, dated when its successor was made (so a resend is identical).
            for (_, old, _, _), (_, _, _, successor) in zip(revs, revs[1:]):
                out.append(voiding(old, _iso(pd.Timestamp(successor)), s))
            out.append({**st, "id": revs[-1][1]})
    return out


def validate(stmts: list[dict]) -> None:
    """Raise XAPIError listing every broken rule (first 20) if any statement is invalid or ids repeat."""
    bad = []
    seen = set()
    for i, st in enumerate(stmts):
        bad += [f"[{i}] {p}" for p in xapi_rules.problems(st)]
        sid = st.get("id") if isinstance(st, dict) else None
        if sid in seen:
            bad.append(f"[{i}] statement.id {sid} appears twice in one export")
        seen.add(sid)
    if bad:
        raise XAPIError(f"{len(bad)} problem(s) with the statements; nothing was sent:\n  " + "\n  ".join(bad[:20]))


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0  # already acknowledged by this LRS earlier
    batches: int = 0
    retries: int = 0
    ids: list[str] = field(default_factory=list)


class LRS:
    def __init__(self, endpoint: str, username: str, password: str, batch_size: int = 100, retries: int = 4,
                 backoff: float = 0.5, timeout: float = 30, sleep=time.sleep):
        if not endpoint.startswith(("http://", "https://")):
            raise XAPIError(f"LRS endpoint {endpoint!r} is not an http(s) URL (adoptkit.xapi.endpoint)")
        self.url = endpoint.rstrip("/") + "/statements"
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "X-Experience-API-Version": VERSION,
                        "Content-Type": "application/json"}
        self.batch_size, self.retries, self.backoff, self.timeout, self.sleep = (
            batch_size, retries, backoff, timeout, sleep)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kw) -> "LRS":
        s = settings or current()
        x = s.xapi
        if not x.endpoint:
            raise XAPIError("no LRS configured: set adoptkit.xapi.endpoint (the LRS's xAPI base URL), and the "
                            f"credentials in {x.username_env} / {x.password_env}")
        user, password = os.environ.get(x.username_env), os.environ.get(x.password_env)
        if not user or password is None:
            raise XAPIError(f"LRS credentials missing: set {x.username_env} and {x.password_env}")
        return cls(x.endpoint, user, password, x.batch_size, x.retries, **kw)

    def _post(self, batch: list[dict], report: SendReport) -> list[str]:
        body = json.dumps(batch).encode()
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(self.url, data=body, method="POST", headers=self.headers)
            wait = self.backoff * 2 ** attempt
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    answer = r.read()
                    return json.loads(answer) if answer.strip() else [st["id"] for st in batch]
            except urllib.error.HTTPError as err:
                detail = err.read(500).decode(errors="replace")
                if err.code == 409:
                    raise XAPIError(f"the LRS already holds a different statement with one of these ids (409): "
                                    f"{detail}. A record changed after it was sent; nothing in this batch "
                                    f"was duplicated.") from None
                if err.code != 429 and err.code < 500:
                    raise XAPIError(f"the LRS refused the statements ({err.code}): {detail}") from None
                if retry_after := err.headers.get("Retry-After"):
                    wait = float(retry_after) if retry_after.isdigit() else wait
                last = f"{err.code} {detail[:200]}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                last = str(getattr(err, "reason", err))
            if attempt < self.retries:
                report.retries += 1
                self.sleep(wait)
        raise XAPIError(f"the LRS did not accept a batch after {self.retries + 1} attempts (last: {last}). "
                        f"Statements sent before it are recorded; run the command again to send the rest.")

    def send(self, stmts: list[dict], settings: Settings | None = None, db: str | Path | None = None) -> SendReport:
        """Send what the LRS does not hold yet: new records, and for a changed one the voiding statement of its
        earlier revision followed by the new revision (`revise`)."""
        validate(stmts)
        stmts = revise(stmts, settings, db, record=True)
        validate(stmts)
        report = SendReport()
        with records.connect(db, settings) as conn:
            done = {sid for (sid,) in conn.execute("SELECT statement_id FROM xapi_sent")}
        todo = [st for st in stmts if st["id"] not in done]
        report.skipped = len(stmts) - len(todo)
        for i in range(0, len(todo), self.batch_size):
            batch = todo[i:i + self.batch_size]
            ids = self._post(batch, report)
            if sorted(ids) != sorted(st["id"] for st in batch):
                raise XAPIError(f"the LRS answered with ids that do not match the batch sent ({len(ids)} ids)")
            with records.connect(db, settings) as conn:  # recorded per batch: an interruption loses nothing
                conn.executemany("INSERT OR IGNORE INTO xapi_sent VALUES (?, ?)", [(x, records.now()) for x in ids])
            report.sent += len(batch)
            report.batches += 1
            report.ids += ids
        return report
