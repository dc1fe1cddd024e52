"""Every page of the built book, opened in a real browser: what a reader would see go wrong.

For each HTML page of the site (`built_site`, served on 127.0.0.1, Debian's chromium): no error in the
console and no uncaught script error; no request to any host but this one; every image with alt text
that describes it (not empty, not a file name); no "-0" and no number in scientific notation in a table;
no asterisk of a name taken for emphasis (O*NET shown as "ONET").
Each page is checked separately and every problem is reported with its page.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser import launch, needs_chromium, serve

from adoptkit.site.extension import alt_problem

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
NEGATIVE_ZERO = re.compile(r"^[-−]0(?:[.,]0+)?%?$")
SCIENTIFIC = re.compile(r"\b\d(?:\.\d+)?e[-+]\d+\b", re.I)


def pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if not p.relative_to(site).parts[0].startswith("_"))


@pytest.fixture(scope="module")
def visits(built_site: Path) -> dict[str, dict]:
    """Each page loaded once: its console errors, the foreign requests, images' alt texts, table cells."""
    from playwright.sync_api import sync_playwright

    found = {}
    with serve(built_site) as url, sync_playwright() as pw:
        browser = launch(pw)
        try:
            for name in pages(built_site):
                seen = {"errors": [], "requests": []}
                page = browser.new_page()
                page.on("console", lambda m, seen=seen: m.type == "error" and seen["errors"].append(m.text))
                page.on("pageerror", lambda e, seen=seen: seen["errors"].append(f"uncaught: {e}"))
                page.on("request", lambda r, seen=seen: seen["requests"].append(r.url))
                response = page.goto(url + name, wait_until="networkidle")
                seen["status"] = response.status if response else None
                seen["images"] = page.eval_on_selector_all(
                    "img", "els => els.map(e => [e.getAttribute('alt'), e.getAttribute('src') || ''])")
                seen["cells"] = page.eval_on_selector_all("table td, table th",
                                                          "els => els.map(e => e.innerText.trim())")
                seen["text"] = page.inner_text("body")
                found[name] = seen
                page.close()
        finally:
            browser.close()
    return found


def test_every_page_of_the_site_is_checked(built_site, visits):
    assert len(visits) >= 30 and "book/intro.html" in visits, sorted(visits)  # the whole book, not a few pages
    broken = {name: v["status"] for name, v in visits.items() if v["status"] != 200}
    assert not broken, broken


def test_no_page_logs_a_console_error(visits):
    errors = {name: v["errors"] for name, v in visits.items() if v["errors"]}
    assert not errors, "\n".join(f"{name}: {e}" for name, es in errors.items() for e in es)


def test_no_page_asks_another_host_for_anything(visits):
    foreign = {name: sorted({u for u in v["requests"] if urlsplit(u).scheme not in ("data", "blob")
                             and urlsplit(u).hostname not in LOCAL_HOSTS})
               for name, v in visits.items()}
    foreign = {name: urls for name, urls in foreign.items() if urls}
    assert not foreign, foreign


def test_every_image_says_what_it_shows(visits):
    images = [(name, alt, src) for name, v in visits.items() for alt, src in v["images"]]
    assert len(images) >= 10, "the book's figures are missing"  # charts on the framework and role pages
    bad = [f"{name}: {src} {alt_problem(alt, src)}" for name, alt, src in images if alt_problem(alt, src)]
    assert not bad, "\n".join(bad)


def test_no_table_shows_minus_zero_or_scientific_notation(visits):
    bad = [f"{name}: {cell!r}" for name, v in visits.items() for cell in v["cells"]
           if NEGATIVE_ZERO.match(cell) or SCIENTIFIC.search(cell)]
    assert not bad, "\n".join(bad)


def test_no_asterisk_in_a_name_is_taken_for_emphasis(visits):
    # Markdown reads the two asterisks of "O*NET ... O*NET" as emphasis: the reader sees "ONET" in italics.
    bad = sorted(name for name, v in visits.items() if re.search(r"\bONET\b", v["text"]))
    assert not bad, f"pages showing ONET (write O\\*NET in Markdown): {bad}"
