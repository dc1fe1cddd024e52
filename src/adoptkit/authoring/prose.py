"""Reading prose for the lint: which numbers a sentence states, and whether it gives a source.

The rule for numbers in a chapter that runs code (`glue`), stated once here and in the authors' chapter:
a number in the prose must come from the data through `glue`, unless it is

- a year (1900-2099) or a date;
- a small count, 0 to 10 ("three lessons", "2 options");
- a reference to a part of the course or a thing with a number ("chapter 3", "Part 2", "step 4", "level 3",
  "29 CFR 1607.4"), part of a name ("Open Badges 3.0", "Python 3.11"), a constant in a formula ("× 100"), a
  confidence level ("a 95% confidence interval"), a point value ("2 points") or a time estimate ("about 45
  minutes", "an hour");
- inside quotation marks (an example or a quotation), code, math or a link's address;
- in a paragraph or list item that cites its source (a link, a {cite} role, a footnote, "Source: ...", an
  author and year in brackets, a legal reference), or a sentence that labels itself ("for example", "the
  authors' estimate", "illustrative", "synthetic").

Sections of exercises and of references (`## Exercises`, `## Sources`, `## References`, `## Further reading`)
are not checked: their numbers are parameters a learner sets, or citations.

A claim (`source`) is a sentence with a statistic (a percentage, "3x", "twice as", a currency amount,
"N of M", "N in M", millions) and neither a source, nor glue, nor such a label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUMBER = re.compile(r"(?<![\w.,\-/#@§])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(\s?%|\s?per ?cent\b)?(?![\w/]|\.\d|\()")
REFERENCE = re.compile(
    r"\b(chapters?|sections?|parts?|steps?|questions?|items?|exercises?|levels?|figures?|tables?|modules?|lessons?|"
    r"pages?|versions?|python|rows?|columns?|cells?|stages?|phases?|rounds?|tiers?|rules?|issues?|tasks?|"
    r"requirements?|no\.|nos\.|v|pep|rfc|iso|article|articles|law|act|section|title|chapter|q[1-4]|h[12]|"
    r"week|day|option|criterion|grade|sprint|cohort|wave|group|team|top|cfr|u\.s\.c\.|usc|regulation|directive|"
    r"annex|recital|p\.|pp\.|vol\.|no\.|§|[×*/=+−<>≤≥])\s*$", re.I)
AFTER_OK = re.compile(r"^\s*(?:(?:-|–|to)\s*\d+\s*)?(points?\b|pts\b|minutes?\b|mins?\b|hours?\b|hrs?\b|-?minute\b|-?hour\b|"
                      r"(st|nd|rd|th)\b|\s?(am|pm|a\.m\.|p\.m\.)(?!\w)|%?\s*(confidence|credible|interval)\b|\s*[×*/=]|\s*(CFR|U\.S\.C\.)\b)", re.I)
CITED = re.compile(r"\]\((?:https?:|mailto:|/|\.|#|\{)|<https?://|https?://|\{(?:cite|footcite|cite:\w+)\}|\[\^[\w-]+\]|"
                   r"\b[Ss]ource[s]?:|\bdoi:|\bdoi\.org/|\(source\b|\{doc\}|\{ref\}|"
                   r"\([A-Z][\w'’.-]+(?:\s(?:et al\.|and|&)\s?[\w'’.-]*)?,?\s[^()]*?\b(?:19|20)\d\d[a-z]?\)|"
                   r"[A-Z][\w'’-]+(?: (?:and|&) [A-Z][\w'’-]+| et al\.)? \((?:19|20)\d\d[a-z]?\)|"
                   r"\b\d+ (?:CFR|U\.S\.C\.)|\bArticle \d+|\bRegulation \(EU\)")
LABELLED = re.compile(r"\bfor example\b|\be\.g\.|\bfor instance\b|\billustrat|\bhypothetical\b|\bmade[- ]up\b|"
                      r"\bsynthetic\b|authors?'? estimate|\bnot a measurement\b|\bno source\b|\bunsourced\b|"
                      r"\bsuppose\b|\bimagine\b|\bsay\b,", re.I)
GLUE = re.compile(r"\{glue(?::\w+)?\}`[^`]*`")
ROLE = re.compile(r"\{[\w:.-]+\}`[^`]*`")
CODE = re.compile(r"`[^`\n]*`")
MATH = re.compile(r"\$[^$\n]+\$")
LINK_TARGET = re.compile(r"\]\([^)]*\)|<https?://[^>]*>|https?://\S+")
HTML_TAG = re.compile(r"<[^>\n]+>")
QUOTED = re.compile(r"\"[^\"\n]*\"|“[^”\n]*”|'[^'\n]{3,}'(?!\w)|‘[^’\n]*’")
DATE = re.compile(r"\b(19|20)\d\d-\d\d(-\d\d)?\b|\b\d{1,2} (January|February|March|April|May|June|July|August|"
                  r"September|October|November|December)\b", re.I)
STATISTIC = re.compile(r"\d\s?(%|per ?cent\b)|\b\d+(\.\d+)?\s?(x|×)\s|\b\d+(\.\d+)?\s?times\b|[$£€]\s?\d|"
                       r"\b\d[\d,.]*\s(out\s)?of\s(every\s)?\d|\b\d[\d,.]*\sin\s(every\s)?\d|\b\d[\d,.]*\s?(million|billion|"
                       r"thousand)\b|\btwice as\b|\bthree times\b|\bthe majority of\b|"
                       r"\bmost (employees|companies|organisations|organizations|workers|people|firms)\b", re.I)
LIST_MARKER = re.compile(r"^\s*(\d+[.)]|[-*+])\s+")
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")


@dataclass(frozen=True)
class Number:
    text: str
    offset: int  # in the line


def visible(line: str) -> str:
    """The line as a reader reads it, with code, math, roles and link addresses blanked (same length)."""
    def blank(m: re.Match) -> str:
        return " " * len(m.group(0))

    for pattern in (GLUE, ROLE, CODE, MATH, LINK_TARGET, HTML_TAG):
        line = pattern.sub(blank, line)
    return LIST_MARKER.sub(blank, line, count=1)


def numbers(line: str) -> list[Number]:
    """The numbers in a line of prose that need glue or a source (see the module's rule)."""
    shown = visible(line)
    if TABLE_RULE.match(shown):
        return []
    skip = [m.span() for m in QUOTED.finditer(shown)] + [m.span() for m in DATE.finditer(shown)]
    out = []
    for m in NUMBER.finditer(shown):
        if any(a <= m.start() < b for a, b in skip):
            continue
        whole, frac, pct = m.group(1), m.group(2), m.group(3)
        plain = whole.replace(",", "")
        if not frac and not pct and "," not in whole:
            value = int(plain)
            if value <= 10 or (len(plain) == 4 and 1900 <= value <= 2099):
                continue
        before, after = shown[:m.start()], shown[m.end():]
        if REFERENCE.search(before) or AFTER_OK.match(after):
            continue
        name = re.search(r"([A-Z][\w'-]*)\s+$", before)  # "Open Badges 3.0", "Working Paper 31161": a name
        if name and before[:name.start()].strip() and not before[:name.start()].rstrip().endswith((".", ":", "!", "?")):
            continue
        out.append(Number(m.group(0).strip(), m.start()))
    return out


def paragraphs(text: str) -> list[tuple[int, list[str]]]:
    """(first line index, lines) of each block a reader sees as one: a paragraph, a list item, a heading, a
    table row."""
    out: list[tuple[int, list[str]]] = []
    cur: list[str] = []
    start = 0
    for i, line in enumerate(text.split("\n")):
        new_block = (not line.strip() or LIST_MARKER.match(line) or line.lstrip().startswith(("#", "|", ">"))
                     or (cur and cur[-1].lstrip().startswith(("#", "|"))))
        if new_block and cur:
            out.append((start, cur))
            cur = []
        if line.strip():
            if not cur:
                start = i
            cur.append(line)
    if cur:
        out.append((start, cur))
    return out


def sentences(lines: list[str]) -> list[tuple[int, str]]:
    """(line offset in the block, sentence) for each sentence of a block; a sentence may span lines."""
    out, buf, start = [], [], 0
    for i, line in enumerate(lines):
        if not buf:
            start = i
        parts = re.split(r"(?<=[.!?])[\"”)]?\s+(?=[A-Z“\"(])", line.strip())
        for k, part in enumerate(parts):
            buf.append(part)
            if k < len(parts) - 1 or re.search(r"[.!?][\"”)]?$", part):
                out.append((start, " ".join(buf)))
                buf, start = [], i if k < len(parts) - 1 else i + 1
    if buf:
        out.append((start, " ".join(buf)))
    return out


def cites(sentence: str) -> bool:
    return bool(CITED.search(sentence))


def labelled(sentence: str) -> bool:
    return bool(LABELLED.search(sentence))


def glued(sentence: str) -> bool:
    return bool(GLUE.search(sentence))


CONFIDENCE = re.compile(r"\b\d+(\.\d+)?\s?%\s+(confidence|credible|prediction)?\s*interval\b|"
                        r"\b\d+(\.\d+)?\s?%\s+confidence\b", re.I)


def statistic(sentence: str) -> bool:
    return bool(STATISTIC.search(CONFIDENCE.sub(" ", QUOTED.sub(" ", visible(sentence)))))


EXEMPT_SECTIONS = re.compile(r"^(exercises?|sources?|references?|further reading|bibliography|notes)\b", re.I)
