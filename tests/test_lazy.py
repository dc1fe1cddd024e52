"""adoptkit.lazy: the `adoptkit` command does not pay for rfc3987_syntax's grammar at start-up, and what
uses it (jsonschema's "iri" formats) behaves as before."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("rfc3987_syntax")

PROBE = """
import sys
import adoptkit.cli
import nbformat, jsonschema  # as every command that reads a notebook does
print("grammar built at start-up" if "lark" in sys.modules else "deferred")
from jsonschema import Draft202012Validator, FormatChecker
v = Draft202012Validator({"type": "string", "format": "iri"}, format_checker=FormatChecker())
print(sorted(x for x in ("https://example.com/a", "http://ex ample.com/%zz") if v.is_valid(x)))
from rfc3987_syntax import syntax_helpers  # a submodule still imports
print(syntax_helpers.__name__, "lark" in sys.modules)
"""


def test_the_grammar_is_built_on_first_use_only():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "deferred"
    assert lines[1] == "['https://example.com/a']"  # the IRI check ran, on the real module
    assert lines[2] == "rfc3987_syntax.syntax_helpers True"
