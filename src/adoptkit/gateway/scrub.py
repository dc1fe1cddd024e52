"""Secrets out of text that a learner or the usage log will see: an upstream's error message can quote
the request's headers, a connection error names the URL (with any credentials in it), and a provider's
400 can quote the input. `secrets()` removes keys and credentials; the app also runs the PII redactor
over upstream text before it leaves (app.py)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_PATTERNS = [
    # header lines or JSON fields naming a credential, whatever follows up to the end of the value
    (re.compile(r"(?i)\b(authorization|proxy-authorization|api[-_ ]?key|x-api-key|ocp-apim-subscription-key|"
                r"cookie|set-cookie|password|passwd|secret|token|access[-_]token)\b(\s*[\"']?\s*[:=]\s*[\"']?)"
                r"(?:(?:bearer|basic|token)\s+)?[^\s\"',;&}]+"), r"\1\2[redacted]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
    (re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_-]{8,}"), "[redacted key]"),
    (re.compile(r"\bak-[0-9a-f]{12}-[A-Za-z0-9_-]{8,}"), "[redacted key]"),  # a gateway key
    (re.compile(r"(?i)\b(AKIA|ASIA)[A-Z0-9]{16}\b"), "[redacted key]"),
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^/\s:@]+(?::[^/\s@]*)?@"), r"\1[redacted]@"),  # user:pass@ in URLs
    (re.compile(r"(?i)([?&](?:api[-_]?key|key|token|access_token|sig|signature|code|password)=)[^&\s\"']+"),
     r"\1[redacted]"),
]


def secrets(text: str, known: tuple[str, ...] = ()) -> str:
    """`text` without credentials: `known` values (the upstream's key) wherever they appear, then the
    shapes of keys, tokens, auth headers and URL credentials."""
    for value in known:
        if value and len(value) >= 4:
            text = text.replace(value, "[redacted key]")
    for rx, rep in _PATTERNS:
        text = rx.sub(rep, text)
    return text


def display_url(url: str) -> str:
    """A URL fit to show: no user, password, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return "(unparseable URL)"
