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


def block(source: str, start: str) -> str:
    """The statement or definition of `source` that begins with `start`, up to the next blank line."""
    found = re.search(rf"^{re.escape(start)}.*?(?=\n\n|\Z)", source, re.M | re.S)
    assert found, f"no statement starting {start!r}"
    return found.group(0)


def scores(source: str) -> list[str]:
    """The lines that compute recency and the three scores, with the table's name (`rfm`, `accounts`) as T."""
    return [re.sub(r"\b(rfm|accounts)\b", "T", line.split("#")[0].rstrip()) for line in source.splitlines()
            if re.match(r'(rfm|accounts)\["(recency|R|F|M)"\] = ', line)]


@pytest.mark.parametrize("start", ["F_BINS = ", "def fifths(", "SEGMENTS = [", "def segment("])
def test_the_two_rfm_chapters_define_rfm_one_way(start):
    crm, priorities = (code(c) for c in RFM_CHAPTERS)
    assert block(crm, start) == block(priorities, start), f"{RFM_CHAPTERS} define {start.strip()!r} differently"


def test_the_two_rfm_chapters_score_rfm_one_way():
    crm, priorities = (scores(code(c)) for c in RFM_CHAPTERS)
    assert len(crm) == 4 and crm == priorities


def test_recency_counts_whole_days_as_the_graded_exercise_does():
    """The sales-crm exercise's test: 20 Nov 15:30 is 19 whole days before 10 Dec, so no normalising."""
    for chapter in RFM_CHAPTERS:
        (recency,) = [line for line in scores(code(chapter)) if line.startswith('T["recency"]')]
        assert recency == 'T["recency"] = (snapshot - T["last_order"]).dt.days', (chapter, recency)


def test_the_onboarding_chapter_asserts_the_hand_over_it_teaches():
    """Objective 3 ("say I don't know") is shown on a question the build checks gets the fallback, and the
    sentences about the evaluation's unanswerable questions are glued from the output, not typed in."""
    chapter = "book/roles/hr/onboarding-assistant.md"
    source, cells = (ROOT / chapter).read_text(), code(chapter)
    assert re.search(r'^assert parking\["answer"\] == FALLBACK', cells, re.M)
    prose = re.sub(r"```\{code-cell\}.*?```", "", source, flags=re.S)
    for name in ("parking_score", "declined_right", "dress_outcome", "gym_outcome", "wrong_rows"):
        assert f"`{name}" in prose and f'glue("{name}"' in cells, name


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
