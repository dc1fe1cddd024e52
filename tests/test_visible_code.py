"""The marketing, sales and HR paths read as prose with pictures: at most 10% of what a reader sees on each of
their built pages is code (tests/visible_code.py measures it; code in a closed "Show code cell source" toggle
is not seen). The slow test reads the book that tests/conftest.py builds once with -W (`built_site`)."""

from __future__ import annotations

import pytest
from test_book import toc_files
from visible_code import code_share, visible_code

PATHS = ("book/roles/marketing/", "book/roles/sales/", "book/roles/hr/")
MAX_SHARE = 0.10


def page(article: str) -> str:
    return (f"<html><body><nav><pre>navigation code</pre></nav><article class='bd-article'>{article}</article>"
            "<footer>footer text</footer></body></html>")


CELL = ("<div class='cell docutils container'><div class='cell_input docutils container'>"
        "<div class='highlight-ipython3 notranslate'><div class='highlight'><pre>x = load(1)</pre></div></div></div>"
        "<div class='cell_output docutils container'><div class='output stream highlight-myst-ansi'>"
        "<div class='highlight'><pre>printed</pre></div></div></div></div>")
HIDDEN_CELL = ("<div class='cell tag_hide-input docutils container'><details class='admonition hide above-input'>"
               "<summary><p class='collapsed'>Show code</p><p class='expanded'>Hide code</p></summary>"
               "<div class='cell_input docutils container'><div class='highlight-ipython3'><pre>secret = 1</pre>"
               "</div></div></details><div class='cell_output docutils container'><pre>shown</pre></div></div>")


def test_code_counts_only_where_a_reader_sees_it():
    # Prose only; a visible cell's source counts as code, its printed output as text; outside the article nothing.
    assert visible_code(page("<p>Four words of prose.</p>")) == (0, len("Fourwordsofprose."))
    assert visible_code(page(CELL)) == (len("x=load(1)"), len("x=load(1)") + len("printed"))
    # A closed toggle hides its source: only its "Show" label and the output are seen.
    assert visible_code(page(HIDDEN_CELL)) == (0, len("Showcode") + len("shown"))
    # Opened, the same source is seen; scripts, styles and hidden elements never are.
    opened = HIDDEN_CELL.replace("<details class", "<details open class")
    assert visible_code(page(opened))[0] == len("secret=1")
    assert visible_code(page("<script>var a = 1;</script><style>p{}</style><div hidden>x</div>"
                             "<div style='display: none'>y</div><p>z</p>")) == (0, 1)
    # A code block in the prose counts; an inline literal in a sentence is text.
    assert visible_code(page("<div class='highlight-python'><pre>a = 1</pre></div><p>run <code>b</code></p>")) == (
        len("a=1"), len("a=1") + len("runb"))
    assert code_share(page(CELL)) == pytest.approx(9 / 16) and code_share(page("")) == 0.0


@pytest.mark.slow
def test_role_pages_of_the_non_coding_paths_show_at_most_a_tenth_code(built_site):
    pages = [f for f in toc_files() if f.startswith(PATHS)]
    assert len(pages) >= 15, pages  # every page of the three paths, not a few
    shares = {f: code_share((built_site / f"{f}.html").read_text(encoding="utf-8")) for f in pages}
    over = {f: f"{s:.1%}" for f, s in shares.items() if s > MAX_SHARE}
    assert not over, f"more than {MAX_SHARE:.0%} visible code (tag the cells hide-input or remove-input): {over}"
