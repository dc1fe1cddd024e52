"""What chapters say, checked against what they compute and against each other (issue 20).

Fast tests read the chapters' MyST sources: two chapters that compute one measure must compute it the
same way, and a sentence that describes an output must be tied to it (a glued value or an assertion in a
hidden cell). The slow test reads the built site for numbers meant for a machine, not a reader.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from myst_nb.core.read import read_myst_markdown_notebook

ROOT = Path(__file__).resolve().parents[1]
RFM_CHAPTERS = ["book/roles/sales/crm-automation.md", "book/roles/sales/account-priorities.md"]


def code(chapter: str) -> str:
    """All code cells of a chapter, as one text."""
    nb = read_myst_markdown_notebook((ROOT / chapter).read_text())
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def statement(source: str, start: str) -> str:
    """The statement (or definition) of `source` that begins with `start`, up to the next blank line;
    the name of the table it works on (`rfm`, `accounts`) is replaced by `T`, so two chapters compare."""
    found = re.search(rf"^{re.escape(start)}.*?(?=\n\n|\Z)", source, re.M | re.S)
    assert found, f"no statement starting {start!r}"
    return re.sub(r"\b(rfm|accounts)\b", "T", found.group(0))


@pytest.mark.parametrize("start", [
    'F_BINS = ',                                       # frequency: fixed thresholds, not fifths
    'def fifths(',                                     # recency and spend: fifths by rank
    'RFM_R',                                           # the three scores (below, one per line)
    'SEGMENTS = [',                                    # the segments' rules, in order
    'def segment(',
])
def test_the_two_rfm_chapters_compute_rfm_one_way(start):
    crm, priorities = (code(c) for c in RFM_CHAPTERS)
    if start == "RFM_R":  # the recency count and the three score assignments, wherever they sit
        for name in ('["recency"] = ', '["R"] = ', '["F"] = ', '["M"] = '):
            mine = [re.sub(r"\b(rfm|accounts)\b", "T", line) for line in crm.splitlines() if name in line]
            theirs = [re.sub(r"\b(rfm|accounts)\b", "T", line) for line in priorities.splitlines() if name in line]
            assert mine and mine == theirs, f"the chapters compute {name.strip(' =[]')!r} differently"
        return
    assert statement(crm, start) == statement(priorities, start)


def test_recency_counts_whole_days_as_the_graded_exercise_does():
    """The chapters and `sales-crm` agree: 20 Nov 15:30 is 19 whole days before 10 Dec."""
    for chapter in RFM_CHAPTERS:
        line = next(line for line in code(chapter).splitlines() if '["recency"] = ' in line)
        assert ".dt.normalize()" not in line and line.rstrip().split("#")[0].rstrip().endswith(").dt.days"), line


def test_the_onboarding_chapter_checks_its_fallback_claims_when_it_builds():
    """The sentences about the unanswerable questions are glued or asserted, never typed in."""
    source = (ROOT / "book/roles/hr/onboarding-assistant.md").read_text()
    cells = code("book/roles/hr/onboarding-assistant.md")
    assert "dress code" not in re.sub(r"```\{code-cell\}.*?```", "", source, flags=re.S).lower() or \
        "dress_outcome" in source, "the dress-code sentence must be computed from the output"
    assert re.search(r"^assert .*FALLBACK", cells, re.M), "a hidden cell must assert the fallback the prose teaches"


@pytest.mark.slow
def test_no_page_shows_a_number_in_scientific_notation(built_site):
    """p-values and other figures are for a reader: '2.01e-07' becomes 'less than 1 in a million'."""
    offenders = {}
    for page in sorted(built_site.rglob("*.html")):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        text = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", page.read_text(), flags=re.S)
        found = re.findall(r"(?<![\w.])\d+(?:\.\d+)?[eE]-\d+\b", text)
        if found:
            offenders[page.relative_to(built_site).as_posix()] = found[:3]
    assert not offenders, f"numbers in scientific notation on: {offenders}"
