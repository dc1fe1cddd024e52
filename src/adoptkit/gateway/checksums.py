"""Numbers that carry a checksum, found in any layout: payment cards (Luhn) and IBANs (ISO 7064 mod 97),
plus US Social Security numbers by their structure.

A digit run is a stretch of digit groups with up to three separator characters between groups
(spaces, line breaks, dots, slashes, dashes, " - ", underscores), so "4111.1111.1111.1111",
"4111 / 1111 / ...", "4111\\n1111..." and "4 1 1 1 1 ..." are all one run. A card is any span of whole
groups holding 13-19 digits that starts like a card (2-6) and passes Luhn; an SSN is groups of 3-2-4
digits (or nine single digits) with a valid area, group and serial. IBANs are matched case-insensitively
with or without spaces, at the exact length their country registers, and must pass mod 97.

These run on normalised text (textnorm.py), so full-width digits and invisible characters are already
gone; a finding is (start, end, type) in that text.
"""

from __future__ import annotations

import re

_SEP = r"[ \t\r\n.\-/_]{1,3}"
_RUN = re.compile(rf"(?<![\w.])\d+(?:{_SEP}\d+)+(?![\w])|(?<![\w])\d{{13,19}}(?![\w])")
_GROUP = re.compile(r"\d+")

# ISO 13616 registry: IBAN length per country code.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})[ \-]?(\d{2})", re.I)
_BBAN_GROUP = re.compile(r"[ \-]?([A-Za-z0-9]{1,4})(?![A-Za-z0-9])")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = ord(d) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    iban = iban.upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _ssn_ok(d: str) -> bool:
    area, group, serial = d[:3], d[3:5], d[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def find(text: str) -> list[tuple[int, int, str]]:
    """Cards, IBANs and SSNs in `text`: (start, end, type)."""
    out = []
    if any(c.isdigit() for c in text):
        for run in _RUN.finditer(text):
            groups = [(m.start() + run.start(), m.end() + run.start(), m.group()) for m in _GROUP.finditer(run.group())]
            out += _cards(groups)
            out += _ssns(groups)
        out += _ibans(text)
    return _without_overlaps(out)


def _cards(groups) -> list[tuple[int, int, str]]:
    found, i = [], 0
    while i < len(groups):
        digits, hit = "", None
        for j in range(i, len(groups)):
            digits += groups[j][2]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and digits[0] in "23456" and luhn_ok(digits):
                hit = j  # the longest Luhn-valid span from this group
        if hit is not None:
            found.append((groups[i][0], groups[hit][1], "CREDIT_CARD"))
            i = hit + 1
        else:
            i += 1
    return found


def _ssns(groups) -> list[tuple[int, int, str]]:
    found = []
    sizes = [len(g[2]) for g in groups]
    for i in range(len(groups)):
        if sizes[i:i + 3] == [3, 2, 4]:
            span = groups[i:i + 3]
        elif sizes == [1] * 9:  # nine digits written one at a time, and nothing more
            span = groups[i:i + 9]
        else:
            continue
        if _ssn_ok("".join(g[2] for g in span)):
            found.append((span[0][0], span[-1][1], "US_SSN"))
    return found


def _ibans(text: str) -> list[tuple[int, int, str]]:
    """IBANs written compact ("de89370400440532013000") or in groups of four ("GB82 WEST 1234 ..."),
    in any case; the rest of the account number (BBAN) is at least half digits, so words after
    "at 12" never make one."""
    found = []
    for m in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(m.group(1).upper())
        if not length:
            continue
        need, pos = length - 4, m.end()
        compact = text[pos:pos + need]
        if len(compact) == need and compact.isalnum() and compact.isascii() and (
                pos + need == len(text) or not text[pos + need].isalnum()):
            bban, end = compact, pos + need
        else:
            bban, end = "", pos
            while len(bban) < need and (g := _BBAN_GROUP.match(text, end)):
                if len(g.group(1)) < 4 and len(bban) + len(g.group(1)) != need:
                    break
                bban, end = bban + g.group(1), g.end()
        if len(bban) == need and sum(c.isdigit() for c in bban) * 2 >= need and iban_ok(m.group(1) + m.group(2) + bban):
            found.append((m.start(), end, "IBAN_CODE"))
    return found


def _without_overlaps(found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Longest first where two findings overlap (an IBAN's digits are not also a card)."""
    kept: list[tuple[int, int, str]] = []
    for f in sorted(found, key=lambda f: (f[0] - f[1], f[0])):
        if all(f[1] <= k[0] or f[0] >= k[1] for k in kept):
            kept.append(f)
    return sorted(kept)
