"""The offline model: a deterministic stand-in for an LLM, honest about being one.

It does the task shapes the course relies on, by rules, with no weights and no network:
pick one of the labels a prompt lists, fill a JSON object whose keys a prompt names, extract
emails/phones/dates/amounts, summarise extractively, and answer from given context by picking its
most relevant sentences (also as a JSON field named like "evidence" or "quote": a word-for-word quote). Anything else gets a short, clearly labelled stand-in reply.
"""

from __future__ import annotations

import json
import re
from collections import Counter

MODEL_ID = "adoptkit-offline"
DESCRIPTION = "adoptkit offline stand-in: deterministic rules, not a real LLM"

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+|\d+")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_STOP = set("""a an and are as at be been but by can could did do does for from had has have he her his i if in
into is it its me my no not of on or our she so than that the their them then there these they this to
too us was we were what when which who will with would you your please text following answer only one
reply respond return given below above label labels category categories classify""".split())

PATTERNS = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "phone": re.compile(r"(?<!\w)(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\d{2,4})[\s.-]\d{3,4}[\s.-]\d{3,4}(?!\w)"),
    "date": re.compile(r"\b(?:\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{1,2}[-/]\d{1,2}[-/]\d{2,4}|"
                       r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}(?:, \d{4})?)\b"),
    "amount": re.compile(r"(?:[$€£]\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d{2})?\s?(?:USD|EUR|GBP|dollars)\b)"),
}
_KEY_KIND = [("email", "email"), ("phone", "phone"), ("date", "date"), ("amount", "amount"),
             ("price", "amount"), ("total", "amount"), ("value", "amount"), ("cost", "amount")]
_POSITIVE = set("good great excellent happy thanks thank love pleased resolved helpful satisfied quick easy".split())
_NEGATIVE = set("""bad poor angry upset unhappy terrible awful never wrong error fraud late unfair refuse refused
denied complaint dispute disputed harass harassment threat frustrated problem issue charged not""".split())


def count_tokens(text: str) -> int:
    """A rough token count (words and punctuation); the offline model's usage figures use it."""
    return len(_TOKEN.findall(text or ""))


def _words(text: str) -> list[str]:
    return [w.lower()[:6] for w in _WORD.findall(text) if w.lower() not in _STOP]


def _content(message: dict) -> str:
    c = message.get("content") or ""
    if isinstance(c, list):  # content parts
        return "\n".join(p.get("text", "") for p in c if isinstance(p, dict))
    return str(c)


def _split_data(text: str) -> tuple[str, str]:
    """(instruction, data): data is what sits in a fence, quotes or after a 'Text:'-style label."""
    for pat in (r"```(?:\w+)?\n?(.*?)```", r'"""(.*?)"""', r"<(\w+)>(.*?)</\1>"):
        m = re.search(pat, text, re.S)
        if m:
            data = m.group(m.lastindex)
            return text.replace(m.group(0), " "), data.strip()
    m = re.search(r"(?:^|(?<=[.?!]\s))\s*(?:text|email|note|notes|complaint|message|review|document|context|"
                  r"input|data|ticket|customer note)\s*:\s*", text, re.I | re.M)
    if m:
        return text[: m.start()], text[m.end():].strip()
    paras = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    m = re.match(r"([^\n:]{3,200}):\s+(\S.{40,})$", text.strip(), re.S)
    if len(paras) == 1 and m:  # "Summarise this: <text>"
        return m.group(1), m.group(2).strip()
    if len(paras) > 1:  # instruction first, then the material
        return paras[0], "\n\n".join(paras[1:]).strip()
    return text, text


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(re.sub(r"\s+", " ", text)) if s.strip()]


def summarise(text: str, n: int = 2) -> str:
    sents = _sentences(text)
    if len(sents) <= n:
        return " ".join(sents)
    freq = Counter(_words(text))
    scored = sorted(range(len(sents)), key=lambda i: -sum(freq[w] for w in set(_words(sents[i]))) / (1 + len(_words(sents[i])) ** 0.5))
    return " ".join(sents[i] for i in sorted(scored[:n]))


def _sentiment(text: str) -> str:
    ws = [w.lower() for w in _WORD.findall(text)]
    score = sum(w in _POSITIVE for w in ws) - sum(w in _NEGATIVE for w in ws)
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def choose(labels: list[str], text: str) -> str:
    """The label whose words overlap the text most; sentiment labels by a small lexicon; ties: first."""
    low = {lab.lower() for lab in labels}
    if {"positive", "negative"} <= low:
        want = _sentiment(text)
        for lab in labels:
            if lab.lower() == want:
                return lab
    words = Counter(_words(text))
    best = max(labels, key=lambda lab: (sum(words[w] for w in set(_words(lab))) / (len(set(_words(lab))) or 1) ** 0.5,
                                       -labels.index(lab)))
    return best


def _labels(instruction: str) -> list[str] | None:
    # Every "one of: ..." / "labels: ..." in turn: "reply with the label only" in a system prompt must not
    # hide the list that follows it.
    for m in re.finditer(r"(?:one of|labels?|categor(?:y|ies)|classes|options|choose from)\s*(?:\(|:|\[)?\s*(.+)",
                         instruction, re.I):
        tail = re.split(r"\n|\.\s|\?", m.group(1))[0]
        # "one of these labels: A, B" names its list after the colon (the words before it are not a label)
        tail = re.sub(r"^[^:\"'`]{0,40}:\s*", "", tail)
        quoted = re.findall(r'["\'`]([^"\'`]{1,60})["\'`]', tail)
        items = quoted or [t.strip(" .[]()") for t in re.split(r",|\bor\b|\|", tail)]
        items = [i for i in items if i and len(i) <= 60]
        if len(items) >= 2:
            return items
    return None


def _keys(instruction: str, schema: dict | None) -> list[str]:
    if schema and isinstance(schema.get("properties"), dict):
        return list(schema["properties"])
    m = re.search(r"\{[^{}]*\}", instruction)
    if m:
        keys = re.findall(r'["\']?([A-Za-z_][\w ]{0,40}?)["\']?\s*:', m.group(0))
        if keys:
            return keys
    m = re.search(r"(?:keys?|fields?|properties)\s*[:\-]?\s*(.+)", instruction, re.I)
    if m:
        # the list ends with its sentence, or where a colon or semicolon starts the fields' details
        tail = re.split(r"\.\s|[:;]", m.group(1).split("\n")[0])[0]
        keys = re.findall(r'["\'`]([A-Za-z_][\w ]{0,40})["\'`]', tail) or \
            [k.strip(" .") for k in re.split(r",|\band\b", tail) if re.fullmatch(r"\s*[A-Za-z_]\w*\s*\.?", k)]
        return keys
    return []


def _allowed_values(instruction: str, key: str) -> list[str] | None:
    m = re.search(rf"{re.escape(key)}[\"'`]?\s*(?:\(|:|-|is|must be)?\s*(?:one of|either)\s*:?\s*([^\n;)]+)",
                  instruction, re.I)
    if not m:
        return None
    tail = re.split(r"\.\s", m.group(1))[0]  # the list ends with its sentence (an example may follow)
    quoted = re.findall(r'["\'`]([^"\'`]{1,60})["\'`]', tail)
    items = quoted or [t.strip(" .[]") for t in re.split(r",|\bor\b|\|", tail)]
    return [i for i in items if i] or None


def quote(instruction: str, data: str) -> str | None:
    """The sentence of `data` sharing the most words with the instruction, word for word; None if none shares one."""
    asked = set(_words(instruction))
    sentences = [s for line in data.splitlines() for s in _sentences(line)]  # a line ends a sentence too (a CV)
    best = max(sentences, key=lambda s: len(asked & set(_words(s))), default=None)
    return best if best and asked & set(_words(best)) else None


def fill_json(instruction: str, data: str, schema: dict | None = None) -> dict:
    out: dict = {}
    for key in _keys(instruction, schema):
        low = key.lower()
        enum = None
        if schema:
            enum = (schema.get("properties", {}).get(key) or {}).get("enum")
        enum = enum or _allowed_values(instruction, key)
        kind = next((k for frag, k in _KEY_KIND if frag in low), None)
        if enum:
            out[key] = choose([str(e) for e in enum], data)
        elif kind:
            found = PATTERNS[kind].findall(data)
            out[key] = found[0] if found else None
        elif "evidence" in low or "quote" in low:
            out[key] = quote(instruction, data)
        elif "sentiment" in low or "tone" in low:
            out[key] = _sentiment(data)
        elif any(f in low for f in ("summary", "description", "issue", "problem", "reason", "request")):
            out[key] = summarise(data, 1) or None
        else:
            out[key] = None  # honest: the rules cannot fill it
    return out


def answer(messages: list[dict], response_format: dict | None = None) -> str:
    """The offline model's reply to a chat: the content string of one assistant message."""
    system = "\n".join(_content(m) for m in messages if m.get("role") == "system")
    users = [_content(m) for m in messages if m.get("role") == "user"]
    user = users[-1] if users else ""
    instruction, data = _split_data(user)
    instruction = f"{system}\n{instruction}"
    rf_type = (response_format or {}).get("type")
    schema = ((response_format or {}).get("json_schema") or {}).get("schema")

    if rf_type in ("json_object", "json_schema") or re.search(r"\bJSON\b", instruction):
        return json.dumps(fill_json(instruction, data, schema))
    if labels := _labels(instruction):
        return choose(labels, data)
    if re.search(r"summar|tl;?dr|in (?:one|1|two|2|three|3) sentences?", instruction, re.I):
        m = re.search(r"\b(one|1|two|2|three|3) sentences?", instruction, re.I)
        n = {"one": 1, "two": 2, "three": 3}.get(m.group(1).lower(), int(m.group(1)) if m and m.group(1).isdigit() else 2) if m else 2
        return summarise(data, n)
    if m := re.search(r"\bextract\b.*?\b(emails?|phones?|phone numbers?|dates?|amounts?)", instruction, re.I):
        kind = next(k for k in PATTERNS if m.group(1).lower().startswith(k[:4]))
        return "\n".join(dict.fromkeys(PATTERNS[kind].findall(data))) or "(none found)"
    if data is not user or len(data) > 400:  # a question about given context: its most relevant sentences
        q = set(_words(instruction))
        sents = _sentences(data)
        ranked = sorted(sents, key=lambda s: -len(q & set(_words(s))))
        if ranked and q & set(_words(ranked[0])):
            return " ".join(s for s in sents if s in ranked[:2])
    return ("[offline stand-in model] I can classify into listed labels, fill JSON with named keys, extract "
            "emails, phones, dates and amounts, summarise, and quote the most relevant sentences of given "
            "context. For open-ended writing, ask your instructor to configure a real model.")
