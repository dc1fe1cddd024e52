"""Content of the no-code tasks: reading a content file, the sample records a prompt runs on, the messages
sent to the model, and the checks of a reply. No widgets here: the grading library uses the same functions,
so a learner sees exactly the checks they are graded on.

A content file (YAML or JSON) holds `parts:`, each with an `id` and a `kind` (`prompt`, `check` or
`decide`); docs/no-code.md describes every field. The learner's copy (written by `adoptkit.widgets.author`)
has no answer key: keys live only in the hidden tests.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("prompt", "check", "decide")
MAX_PROMPT_CHARS = 8_000  # longer prompts are refused before anything is sent or graded


class ContentError(ValueError):
    """A content file or part is malformed; the message names the file, the part and the field."""


def read(path: str | Path) -> dict:
    """A content file as a dict, with `parts` a list of dicts that each have an id and a known kind."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ContentError(f"content file {path} cannot be read ({err.strerror or err}); it should sit beside "
                           f"the notebook") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise ContentError(f"content file {path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                           f"{err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("parts"), list):
        raise ContentError(f"content file {path}: expected a mapping with a list under 'parts'")
    seen = set()
    for i, part in enumerate(data["parts"]):
        if not isinstance(part, dict) or not isinstance(part.get("id"), str):
            raise ContentError(f"content file {path}: part {i + 1} needs an 'id' (text)")
        if part.get("kind") not in KINDS:
            raise ContentError(f"content file {path}, part {part['id']!r}: 'kind' must be one of {KINDS}")
        if part["id"] in seen:
            raise ContentError(f"content file {path}: two parts have the id {part['id']!r}")
        seen.add(part["id"])
    return data


def part(path: str | Path, part_id: str, kind: str | None = None) -> dict:
    for p in read(path)["parts"]:
        if p["id"] == part_id:
            if kind and p["kind"] != kind:
                raise ContentError(f"{path}: part {part_id!r} is a {p['kind']!r} part, not {kind!r}")
            return p
    raise ContentError(f"{path} has no part {part_id!r}")


def require(spec: dict, where: str, *fields: str) -> None:
    missing = [f for f in fields if f not in spec]
    if missing:
        raise ContentError(f"{where}: missing {', '.join(map(repr, missing))}")


# --- records (the sample a prompt runs on, the evidence beside a draft) ----------------------------------

@dataclass(frozen=True)
class Record:
    id: str
    text: str
    expected: Any = None


def _dataset(name: str):
    from .. import data

    return data.load(name)


@functools.lru_cache(maxsize=16)
def _records_from_data(dataset: str, id_column: str, ids: tuple, text_column: str, expected_column: str | None,
                       expected_map: tuple) -> tuple[tuple[Record, ...], str]:
    df = _dataset(dataset)
    for col in (id_column, text_column, expected_column):
        if col and col not in df.columns:
            raise ContentError(f"dataset {dataset!r} has no column {col!r}")
    keys = df[id_column].astype(str)
    rows = df[keys.isin([str(i) for i in ids])]
    rows = rows.set_index(rows[id_column].astype(str))
    missing = [i for i in ids if str(i) not in rows.index]
    if missing:
        raise ContentError(f"dataset {dataset!r} has no record with {id_column} {missing}: the sample names records "
                           f"that are not in this copy of the data")
    mapping = dict(expected_map)
    out = []
    for i in ids:
        row = rows.loc[str(i)]
        expected = None
        if expected_column:
            value = str(row[expected_column])
            expected = mapping.get(value, value)
        out.append(Record(str(i), str(row[text_column]), expected))
    return tuple(out), str(df.attrs.get("citation", ""))


def records(spec: dict, where: str = "sample") -> tuple[list[Record], str]:
    """(records, citation) from a sample spec: literal `records`, or `dataset` + ids (see docs/no-code.md)."""
    if "records" in spec:
        recs = spec["records"]
        if not isinstance(recs, list) or not all(isinstance(r, dict) and "id" in r for r in recs):
            raise ContentError(f"{where}: 'records' must be a list of mappings with an 'id'")
        return [Record(str(r["id"]), str(r.get("text", "")), r.get("expected")) for r in recs], str(spec.get("source", ""))
    require(spec, where, "dataset", "id_column", "ids", "text_column")
    got, citation = _records_from_data(spec["dataset"], spec["id_column"], tuple(spec["ids"]), spec["text_column"],
                                       spec.get("expected_column"), tuple(sorted((spec.get("expected_map") or {}).items())))
    return list(got), citation


# --- what is sent, and the checks of what comes back ----------------------------------------------------

def messages(prompt: str, text: str) -> list[dict]:
    """The learner's prompt as the system message, the record fenced in the user message: an example the
    learner puts in the prompt can never be mistaken for the record."""
    msgs = [{"role": "system", "content": prompt}]
    msgs.append({"role": "user", "content": f"```\n{text}\n```" if text else "Go ahead."})
    return msgs


def norm(value: Any) -> str:
    """A reply or label compared as a person would: case, surrounding spaces, quotes and a final stop ignored."""
    return re.sub(r"\s+", " ", str(value)).strip().strip("\"'`").strip().rstrip(".").strip().casefold()


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    counts: bool = True  # False: shown to the learner but not part of "the output is usable"


def _parse_json(reply: str):
    text = reply.strip()
    m = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.S | re.I)
    if m:
        text = m.group(1)
    try:
        return json.loads(text), None
    except ValueError as err:
        return None, str(err)


def squash(text: str) -> str:
    return " ".join(str(text).split())


def is_quote(value: Any, record: str) -> bool:
    """A JSON field that must quote the record: null (nothing to quote), or its words exactly as the record has
    them (spacing and surrounding quotes aside)."""
    if value is None or norm(value) in ("", "none", "null"):
        return True
    return isinstance(value, str) and squash(value).strip("\"'“”‘’ ") in squash(record)


def check_output(output: dict, reply: str, expected: Any = None, record: str = "") -> list[Check]:
    """The checks of one reply to `record` against the task's output spec (`kind`: label, json or text)."""
    kind = output.get("kind", "text")
    reply = reply if isinstance(reply, str) else ""
    checks: list[Check] = []
    if kind == "label":
        allowed = list(output.get("labels", [])) + ([output["unsure"]] if output.get("unsure") else [])
        ok = norm(reply) in {norm(a) for a in allowed}
        checks.append(Check("is one of the allowed answers", ok,
                            "" if ok else f"the reply is {reply[:80]!r}, not exactly one of the labels"))
        if expected is not None:
            same = norm(reply) == norm(expected)
            checks.append(Check("matches the expected answer", same, "" if same else f"expected {expected!r}", False))
    elif kind == "json":
        data, err = _parse_json(reply)
        keys = list(output.get("keys", []))
        if not isinstance(data, dict):
            checks.append(Check("is a JSON object", False, f"not JSON ({err})" if err else "JSON, but not an object"))
            return checks
        checks.append(Check("is a JSON object", True))
        extra, missing = [k for k in data if k not in keys], [k for k in keys if k not in data]
        ok = not extra and not missing
        checks.append(Check("has exactly the fields asked for", ok,
                            "" if ok else "; ".join(filter(None, [missing and f"missing {missing}",
                                                                   extra and f"not asked for {extra}"]))))
        for key, values in (output.get("allowed") or {}).items():
            if key in data and data[key] is not None:
                good = norm(data[key]) in {norm(v) for v in values}
                checks.append(Check(f"'{key}' is one of its allowed values", good,
                                    "" if good else f"got {str(data[key])[:60]!r}"))
        for key in output.get("quotes") or []:
            if key in data:
                good = is_quote(data[key], record)
                checks.append(Check(f"'{key}' is quoted word for word from the record (or null)", good,
                                    "" if good else f"{str(data[key])[:80]!r} is not in the record as written"))
        for key, limit in (output.get("max_words") or {}).items():
            if key in data and data[key] is not None:
                n = len(str(data[key]).split())
                checks.append(Check(f"'{key}' has at most {limit} words", n <= limit, "" if n <= limit else f"{n} words"))
        if isinstance(expected, dict):
            wrong = [k for k, v in expected.items() if v is not None and norm(data.get(k, "")) != norm(v)]
            checks.append(Check("matches the expected answer", not wrong,
                                "" if not wrong else ", ".join(f"{k}: expected {expected[k]!r}" for k in wrong), False))
    return checks


def usable(checks: list[Check]) -> bool:
    return all(c.ok for c in checks if c.counts)
