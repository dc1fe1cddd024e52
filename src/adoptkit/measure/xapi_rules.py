"""The xAPI 1.0.3 statement rules (xAPI-Data, "Statements"), checked before anything is sent to an LRS.

Written from the specification's requirements: required and allowed properties of each object, exactly one
inverse functional identifier per Agent, IRI / mailto / sha1 / UUID formats, language maps, result.score
ranges (scaled in [-1, 1], min < max, min <= raw <= max), ISO 8601 durations and timestamps, context
rules (revision and platform only for Activity objects), SubStatement limits. Stricter than the spec in one
place, on purpose: timestamps must carry a time zone (the spec says SHOULD), because an LRS otherwise guesses.
`problems(statement)` returns every broken rule with its JSON path; an empty list means valid.
"""

from __future__ import annotations

import re
from datetime import datetime

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")
MAILTO = re.compile(r"^mailto:[^@\s]+@[^@\s]+\.[^@\s]+$")
SHA1 = re.compile(r"^[0-9a-f]{40}$", re.I)
LANG = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$")  # RFC 5646 shape: language, then subtags
DURATION = re.compile(r"^P(?!$)(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?W)?(?:\d+(?:\.\d+)?D)?"
                      r"(?:T(?=\d)(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")
VERSION = re.compile(r"^1\.0(?:\.\d+)?$")
VOIDED = "http://adlnet.gov/expapi/verbs/voided"

STATEMENT = {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority", "version",
             "attachments"}
SUBSTATEMENT = {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
AGENT = {"objectType", "name", *IFIS}
GROUP = AGENT | {"member"}
ACTIVITY = {"objectType", "id", "definition"}
DEFINITION = {"name", "description", "type", "moreInfo", "extensions", "interactionType",
              "correctResponsesPattern", "choices", "scale", "source", "target", "steps"}
INTERACTIONS = {"true-false", "choice", "fill-in", "long-fill-in", "matching", "performance", "sequencing",
                "likert", "numeric", "other"}
RESULT = {"score", "success", "completion", "response", "duration", "extensions"}
SCORE = {"scaled", "raw", "min", "max"}
CONTEXT = {"registration", "instructor", "team", "contextActivities", "revision", "platform", "language",
           "statement", "extensions"}
CONTEXT_ACTIVITIES = {"parent", "grouping", "category", "other"}


def problems(statement) -> list[str]:
    out: list[str] = []
    if not isinstance(statement, dict):
        return ["statement: must be a JSON object"]
    _props(statement, STATEMENT, "statement", out)
    for key in ("actor", "verb", "object"):
        if key not in statement:
            out.append(f"statement.{key}: required")
    if "id" in statement:
        _uuid(statement["id"], "statement.id", out)
    _body(statement, "statement", out, sub=False)
    verb = statement.get("verb")
    if isinstance(verb, dict) and verb.get("id") == VOIDED:  # xAPI-Data 2.3.2: Voided
        target = statement.get("object")
        if not (isinstance(target, dict) and target.get("objectType") == "StatementRef"):
            out.append("statement.object: a voiding statement's object must be a StatementRef to the voided "
                       "statement")
    if "stored" in statement:
        _timestamp(statement["stored"], "statement.stored", out)
    if "authority" in statement:
        _actor(statement["authority"], "statement.authority", out)
    if "version" in statement and not (isinstance(statement["version"], str) and VERSION.match(statement["version"])):
        out.append(f"statement.version: {statement['version']!r} is not a 1.0.x version")
    if "attachments" in statement:
        _attachments(statement["attachments"], "statement.attachments", out)
    return out


def _body(st: dict, path: str, out: list[str], sub: bool) -> None:
    if "actor" in st:
        _actor(st["actor"], f"{path}.actor", out)
    if "verb" in st:
        _verb(st["verb"], f"{path}.verb", out)
    if "object" in st:
        _object(st["object"], f"{path}.object", out, sub)
    if "result" in st:
        _result(st["result"], f"{path}.result", out)
    if "context" in st:
        _context(st["context"], f"{path}.context", out, st.get("object"))
    if "timestamp" in st:
        _timestamp(st["timestamp"], f"{path}.timestamp", out)


def _props(obj: dict, allowed: set, path: str, out: list[str]) -> bool:
    if not isinstance(obj, dict):
        out.append(f"{path}: must be a JSON object")
        return False
    for extra in sorted(set(obj) - allowed):
        out.append(f"{path}.{extra}: not a property xAPI defines here")
    return True


def _iri(v, path: str, out: list[str]) -> None:
    if not (isinstance(v, str) and IRI.match(v)):
        out.append(f"{path}: {v!r} is not an absolute IRI")


def _uuid(v, path: str, out: list[str]) -> None:
    if not (isinstance(v, str) and UUID.match(v)):
        out.append(f"{path}: {v!r} is not a UUID")


def _lang_map(v, path: str, out: list[str]) -> None:
    if not isinstance(v, dict):
        out.append(f"{path}: a language map must be an object")
        return
    for tag, text in v.items():
        if not LANG.match(tag):
            out.append(f"{path}: {tag!r} is not an RFC 5646 language tag")
        if not isinstance(text, str):
            out.append(f"{path}.{tag}: must be a string")


def _extensions(v, path: str, out: list[str]) -> None:
    if not isinstance(v, dict):
        out.append(f"{path}: must be an object")
        return
    for key in v:
        _iri(key, f"{path} key", out)


def _timestamp(v, path: str, out: list[str]) -> None:
    if not (isinstance(v, str) and TIMESTAMP.match(v)):
        out.append(f"{path}: {v!r} is not an ISO 8601 date-time with a time zone")
        return
    if v.endswith("-00:00"):
        out.append(f"{path}: the offset -00:00 is not allowed (RFC 3339 unknown offset)")
        return
    try:
        datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        out.append(f"{path}: {v!r} is not a real date and time")


def _actor(a, path: str, out: list[str], group_member: bool = False) -> None:
    if not isinstance(a, dict):
        out.append(f"{path}: must be an Agent or Group object")
        return
    kind = a.get("objectType", "Agent")
    if kind not in ("Agent", "Group") or (group_member and kind != "Agent"):
        out.append(f"{path}.objectType: {kind!r} {'(group members must be Agents)' if group_member else 'must be Agent or Group'}")
        return
    _props(a, AGENT if kind == "Agent" else GROUP, path, out)
    if "name" in a and not isinstance(a["name"], str):
        out.append(f"{path}.name: must be a string")
    ifis = [k for k in IFIS if k in a]
    if kind == "Agent" and len(ifis) != 1:
        out.append(f"{path}: an Agent needs exactly one of {IFIS}, found {ifis or 'none'}")
    if kind == "Group":
        if len(ifis) > 1:
            out.append(f"{path}: a Group has at most one identifier, found {ifis}")
        if not ifis and not a.get("member"):
            out.append(f"{path}.member: an anonymous Group must list its members")
        if "member" in a:
            if not isinstance(a["member"], list):
                out.append(f"{path}.member: must be an array of Agents")
            else:
                for i, m in enumerate(a["member"]):
                    _actor(m, f"{path}.member[{i}]", out, group_member=True)
    if "mbox" in a and not (isinstance(a["mbox"], str) and MAILTO.match(a["mbox"])):
        out.append(f"{path}.mbox: {a['mbox']!r} must be a mailto: IRI")
    if "mbox_sha1sum" in a and not (isinstance(a["mbox_sha1sum"], str) and SHA1.match(a["mbox_sha1sum"])):
        out.append(f"{path}.mbox_sha1sum: must be 40 hexadecimal characters")
    if "openid" in a:
        _iri(a["openid"], f"{path}.openid", out)
    if "account" in a:
        acc = a["account"]
        if _props(acc, {"homePage", "name"}, f"{path}.account", out):
            if "homePage" not in acc or "name" not in acc:
                out.append(f"{path}.account: needs both homePage and name")
            if "homePage" in acc:
                _iri(acc["homePage"], f"{path}.account.homePage", out)
            if "name" in acc and not (isinstance(acc["name"], str) and acc["name"]):
                out.append(f"{path}.account.name: must be a non-empty string")


def _verb(v, path: str, out: list[str]) -> None:
    if not _props(v, {"id", "display"}, path, out):
        return
    if "id" not in v:
        out.append(f"{path}.id: required")
    else:
        _iri(v["id"], f"{path}.id", out)
    if "display" in v:
        _lang_map(v["display"], f"{path}.display", out)


def _activity(a, path: str, out: list[str]) -> None:
    if not _props(a, ACTIVITY, path, out):
        return
    if "id" not in a:
        out.append(f"{path}.id: required")
    else:
        _iri(a["id"], f"{path}.id", out)
    d = a.get("definition")
    if d is None or not _props(d, DEFINITION, f"{path}.definition", out):
        return
    for k in ("name", "description"):
        if k in d:
            _lang_map(d[k], f"{path}.definition.{k}", out)
    for k in ("type", "moreInfo"):
        if k in d:
            _iri(d[k], f"{path}.definition.{k}", out)
    if "extensions" in d:
        _extensions(d["extensions"], f"{path}.definition.extensions", out)
    if "interactionType" in d and d["interactionType"] not in INTERACTIONS:
        out.append(f"{path}.definition.interactionType: {d['interactionType']!r} is not one of {sorted(INTERACTIONS)}")
    if "correctResponsesPattern" in d and not (isinstance(d["correctResponsesPattern"], list) and all(
            isinstance(x, str) for x in d["correctResponsesPattern"])):
        out.append(f"{path}.definition.correctResponsesPattern: must be an array of strings")


def _object(o, path: str, out: list[str], sub: bool) -> None:
    if not isinstance(o, dict):
        out.append(f"{path}: must be an object")
        return
    kind = o.get("objectType", "Activity")
    if kind == "Activity":
        _activity(o, path, out)
    elif kind in ("Agent", "Group"):
        _actor(o, path, out)
    elif kind == "StatementRef":
        _props(o, {"objectType", "id"}, path, out)
        _uuid(o.get("id"), f"{path}.id", out)
    elif kind == "SubStatement":
        if sub:
            out.append(f"{path}: a SubStatement cannot contain another SubStatement")
            return
        _props(o, SUBSTATEMENT, path, out)
        for key in ("actor", "verb", "object"):
            if key not in o:
                out.append(f"{path}.{key}: required in a SubStatement")
        _body(o, path, out, sub=True)
        if "attachments" in o:
            _attachments(o["attachments"], f"{path}.attachments", out)
    else:
        out.append(f"{path}.objectType: {kind!r} is not Activity, Agent, Group, StatementRef or SubStatement")


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v


def _result(r, path: str, out: list[str]) -> None:
    if not _props(r, RESULT, path, out):
        return
    for k in ("success", "completion"):
        if k in r and not isinstance(r[k], bool):
            out.append(f"{path}.{k}: must be true or false")
    if "response" in r and not isinstance(r["response"], str):
        out.append(f"{path}.response: must be a string")
    if "duration" in r and not (isinstance(r["duration"], str) and DURATION.match(r["duration"])):
        out.append(f"{path}.duration: {r['duration']!r} is not an ISO 8601 duration")
    if "extensions" in r:
        _extensions(r["extensions"], f"{path}.extensions", out)
    s = r.get("score")
    if s is None or not _props(s, SCORE, f"{path}.score", out):
        return
    for k in SCORE & set(s):
        if not _number(s[k]):
            out.append(f"{path}.score.{k}: must be a number")
            return
    if "scaled" in s and not -1 <= s["scaled"] <= 1:
        out.append(f"{path}.score.scaled: {s['scaled']} is outside [-1, 1]")
    if "min" in s and "max" in s and not s["min"] < s["max"]:
        out.append(f"{path}.score: min {s['min']} must be less than max {s['max']}")
    if "raw" in s and ("min" in s and s["raw"] < s["min"] or "max" in s and s["raw"] > s["max"]):
        out.append(f"{path}.score.raw: {s['raw']} is outside [min, max]")


def _context(c, path: str, out: list[str], obj) -> None:
    if not _props(c, CONTEXT, path, out):
        return
    if "registration" in c:
        _uuid(c["registration"], f"{path}.registration", out)
    if "instructor" in c:
        _actor(c["instructor"], f"{path}.instructor", out)
    if "team" in c:
        if not (isinstance(c["team"], dict) and c["team"].get("objectType") == "Group"):
            out.append(f"{path}.team: must be a Group")
        else:
            _actor(c["team"], f"{path}.team", out)
    for k in ("revision", "platform"):
        if k in c:
            if not isinstance(c[k], str):
                out.append(f"{path}.{k}: must be a string")
            if isinstance(obj, dict) and obj.get("objectType", "Activity") != "Activity":
                out.append(f"{path}.{k}: only allowed when the object is an Activity")
    if "language" in c and not (isinstance(c["language"], str) and LANG.match(c["language"])):
        out.append(f"{path}.language: {c['language']!r} is not an RFC 5646 language tag")
    if "statement" in c:
        st = c["statement"]
        if not (isinstance(st, dict) and st.get("objectType") == "StatementRef"):
            out.append(f"{path}.statement: must be a StatementRef")
        else:
            _object(st, f"{path}.statement", out, sub=True)
    if "extensions" in c:
        _extensions(c["extensions"], f"{path}.extensions", out)
    ca = c.get("contextActivities")
    if ca is not None and _props(ca, CONTEXT_ACTIVITIES, f"{path}.contextActivities", out):
        for k, v in ca.items():
            for i, a in enumerate(v if isinstance(v, list) else [v]):
                _activity(a, f"{path}.contextActivities.{k}[{i}]", out)


def _attachments(v, path: str, out: list[str]) -> None:
    if not isinstance(v, list):
        out.append(f"{path}: must be an array")
        return
    for i, a in enumerate(v):
        p = f"{path}[{i}]"
        if not _props(a, {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}, p, out):
            continue
        for k in ("usageType", "display", "contentType", "length", "sha2"):
            if k not in a:
                out.append(f"{p}.{k}: required")
        if "usageType" in a:
            _iri(a["usageType"], f"{p}.usageType", out)
        if "display" in a:
            _lang_map(a["display"], f"{p}.display", out)
        if "length" in a and not (isinstance(a["length"], int) and a["length"] >= 0):
            out.append(f"{p}.length: must be a non-negative integer")
