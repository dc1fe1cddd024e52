"""Every check in a test cell tells the learner what it expected: no bare `assert` (nbgrader's feedback
would show only "AssertionError"), and no `raise AssertionError()` without a message.

CHECKED lists the notebooks held to this today; extend it as the other notebooks are rebuilt. The engineering
assessments' checks come from the templates in autograders/assessments.py; the no-code notebooks' from
adoptkit.widgets.author.
"""

from __future__ import annotations

import ast

import nbformat
import pytest
from nbgrader_harness import ROOT

CHECKED = [
    "engineering-quiz", "engineering-review",
    "engineering-teachback", "hackathon-complaints-sprint", "hr-quiz", "hr-screening", "hr-teachback",
    "marketing-copy", "marketing-quiz", "marketing-teachback", "sales-crm", "sales-quiz", "sales-teachback",
    "sales-nocode", "hr-nocode", "hr-assessment-pre", "hr-assessment-post", "marketing-nocode",
    "marketing-assessment-pre", "marketing-assessment-post", "engineering-assessment-pre", "engineering-assessment-post",
]


def bare_checks(source: str) -> list[str]:
    """The lines of `source` with an assert or AssertionError that carries no message."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        return [f"does not parse: {err}"]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.msg is None:
            found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc
            name = exc.func.id if isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name) else (
                exc.id if isinstance(exc, ast.Name) else None)
            if name == "AssertionError" and not (isinstance(exc, ast.Call) and exc.args):
                found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_the_check_finds_bare_asserts():
    assert bare_checks("assert x == 1\nassert y, 'y must be set'\nraise AssertionError\n") == [
        "line 1: assert x == 1", "line 3: raise AssertionError"]


@pytest.mark.parametrize("assignment", CHECKED)
def test_every_check_has_a_message(assignment):
    problems = []
    for path in sorted((ROOT / "exercises" / assignment).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
                problems += [f"{path.name} {meta.get('grade_id')}: {p}" for p in bare_checks(cell.source)]
    assert not problems, "checks without a message for the learner:\n" + "\n".join(problems)
