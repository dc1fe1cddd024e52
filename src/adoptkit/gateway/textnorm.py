"""Text as a detector should see it, with a map back to the text as the learner wrote it.

Personal data copied from a web page, an office document or a chat arrives in forms that pattern
matchers miss: full-width digits and "＠" (Unicode compatibility forms), digits of other scripts, zero-width spaces, soft hyphens,
byte-order marks and bidi marks inside an email or a card number, no-break and thin spaces between
digit groups, en dashes, escapes (`\\u0040`, `&#64;`, `%40`). `normalise()` undoes all of these and
keeps, for every character of the result, the span of the original it came from, so a finding in the
normalised text replaces exactly the original characters (invisible ones included).

`fold_digit_runs()` is a second view for numbers only: digit groups separated by line breaks,
" - ", underscores or several spaces get one space between them, and digits written one at a time
("4 1 1 1 ...") are joined, so a phone matcher sees the number it was meant to be.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Escapes of a character inside text: JSON/Python \uXXXX and \xXX, HTML numeric and named "@" entities,
# and a URL-encoded "@". Decoded before anything else (the decoded character is normalised in turn).
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\x([0-9A-Fa-f]{2})|&#(\d{1,7});|&#[xX]([0-9A-Fa-f]{1,6});|(&commat;)|(%40)")
_ESCAPE_HINT = ("\\u", "\\x", "&#", "&commat;", "%40")
# Characters that render as nothing (or as a join) and only ever split a token: Unicode "format"
# characters (zero-width space and joiners, soft hyphen, BOM, bidi marks and isolates, tags) and a
# few others of other categories that also show nothing.
_INVISIBLE_EXTRA = {"\u034f", "\u115f", "\u1160", "\u3164", "\uffa0", "\u180e", "\u2800"}


def _is_invisible(ch: str) -> bool:
    return unicodedata.category(ch) == "Cf" or ch in _INVISIBLE_EXTRA or "\ufe00" <= ch <= "\ufe0f"


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """One character's normal form: nothing if invisible; spaces and dashes of every kind as ' ' and
    '-'; otherwise its Unicode compatibility form (NFKC: full-width digits and '＠' become ASCII)."""
    if _is_invisible(ch):
        return ""
    if ch in "\u2028\u2029\x85":
        return "\n"
    cat = unicodedata.category(ch)
    if cat == "Zs":
        return " "
    if cat == "Pd" or ch in "\u2212\u2796":
        return "-"
    if ch in "\u3002\uff61":  # ideographic full stops
        return "."
    if cat == "Nd":  # a digit of any script (Arabic-Indic, Devanagari, ...): NFKC leaves those as they are
        return str(unicodedata.decimal(ch))
    return unicodedata.normalize("NFKC", ch)


@dataclass(frozen=True)
class Normalised:
    """`text`, normalised; `starts[i]`/`ends[i]`: the original span character i came from (None when
    the text needed no change, so the common case costs nothing)."""

    original: str
    text: str
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span behind normalised [start, end)."""
        if self.starts is None:
            return start, end
        if end <= start:
            at = self.starts[start] if start < len(self.starts) else len(self.original)
            return at, at
        return self.starts[start], self.ends[end - 1]


def normalise(text: str) -> Normalised:
    if text.isascii() and not any(h in text for h in _ESCAPE_HINT):
        return Normalised(text, text)
    # escapes first: (original start, original end, decoded character) pieces
    pieces: list[tuple[int, int, str]] = []
    pos = 0
    if any(h in text for h in _ESCAPE_HINT):
        for m in _ESCAPE.finditer(text):
            code = m.group(1) or m.group(2)
            if code:
                ch = chr(int(code, 16))
            elif m.group(3):
                n = int(m.group(3))
                ch = chr(n) if n < 0x110000 else ""
            elif m.group(4):
                n = int(m.group(4), 16)
                ch = chr(n) if n < 0x110000 else ""
            else:
                ch = "@"
            if not ch or 0xD800 <= ord(ch) <= 0xDFFF:
                continue
            pieces += [(i, i + 1, text[i]) for i in range(pos, m.start())]
            pieces.append((m.start(), m.end(), ch))
            pos = m.end()
    pieces += [(i, i + 1, text[i]) for i in range(pos, len(text))]
    out, starts, ends = [], [], []
    for s, e, ch in pieces:
        for c in (ch if ch.isascii() else _fold_char(ch)):
            out.append(c)
            starts.append(s)
            ends.append(e)
    return Normalised(text, "".join(out), tuple(starts), tuple(ends))


# Between two digits: separators a phone matcher does not expect (line breaks, " - ", underscores,
# bars, tabs, several spaces). Dots, slashes, single dashes and single spaces stay: matchers know them,
# and dates are written with them.
_ODD_SEP = re.compile(r"(?<=\d)(?:[ \t]*[\r\n_|][ \t]*|[ \t]+-[ \t]+|\t|[ ]{2,}|[ \t]*[\r\n]+[ \t]*)(?=\d)")
# Digits written one at a time: six or more single digits with one separator between each.
_SPACED = re.compile(r"(?<![\d])\d(?:[ .\-\t\n]\d){5,}(?![\d])")


def fold_digit_runs(text: str) -> tuple[str, list[int]] | None:
    """(folded text, map from folded index to `text` index), or None when nothing needed folding."""
    if not any(c.isdigit() for c in text):
        return None
    cuts: list[tuple[int, int, str]] = []  # spans of `text` to replace, and by what
    for m in _SPACED.finditer(text):
        cuts += [(i, i + 1, "") for i in range(m.start() + 1, m.end(), 2)]
    spaced = {c[0] for c in cuts}
    for m in _ODD_SEP.finditer(text):
        if m.start() not in spaced:
            cuts.append((m.start(), m.end(), " "))
    if not cuts:
        return None
    cuts.sort()
    out, index, pos = [], [], 0
    for s, e, rep in cuts:
        if s < pos:
            continue
        out.append(text[pos:s])
        index += range(pos, s)
        out.append(rep)
        index += [s] * len(rep)
        pos = e
    out.append(text[pos:])
    index += range(pos, len(text))
    index.append(len(text))
    return "".join(out), index
