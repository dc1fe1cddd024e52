"""The built book, opened in a real browser: glued numbers, rendered widgets, and no third-party request.

Uses fixtures from conftest.py: `built_site` (Path to `_build/html`) and `sales_glue` (glue name ->
the text expected on the page). The site is served by `http.server` on 127.0.0.1 and opened in Debian's
chromium through plain Playwright (never `playwright install`: no browser download).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser import launch, needs_chromium, serve

SALES_PAGE = "book/roles/sales/crm-automation.html"  # relative to _build/html
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture(scope="module")
def site_url(built_site: Path):
    """Serve the built site on a free loopback port; stop the server (by its pid) afterwards."""
    with serve(built_site) as url:
        yield url


@pytest.fixture(scope="module")
def sales_visit(site_url: str):
    """Open the sales chapter once; give the tests its page and every URL it requested."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            response = page.goto(site_url + SALES_PAGE, wait_until="networkidle")
            assert response is not None and response.ok, f"{SALES_PAGE} answered {response and response.status}"
            yield page, requests
        finally:
            browser.close()


def test_glued_numbers_are_on_the_page(sales_visit, sales_glue):
    page, _ = sales_visit
    text = page.locator("main").inner_text()
    missing = {name: value for name, value in sales_glue.items() if str(value) not in text}
    assert not missing, f"glued values not shown on {SALES_PAGE} (name: expected text): {missing}"


def test_widgets_render(sales_visit):
    page, _ = sales_visit
    # Each widget output is a <script type="application/vnd.jupyter.widget-view+json"> that the
    # html-manager replaces with a `.widget-subarea` holding the view. No CDN means no view unless the
    # vendored require.js + html-manager loaded, so this is the check that vendoring works.
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]')
    assert views.count() >= 1, f"{SALES_PAGE} has no widget output; the chapter should show at least one"
    rendered = page.locator(".widget-subarea > .jupyter-widgets")
    rendered.first.wait_for(state="visible", timeout=15_000)
    assert rendered.count() == views.count(), f"{rendered.count()} of {views.count()} widgets rendered"


def test_no_request_leaves_the_host(sales_visit):
    _, requests = sales_visit
    assert requests, "the browser recorded no request at all"
    # data:/blob: URLs never touch the network; anything else must be ours.
    foreign = sorted(
        {url for url in requests if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname not in LOCAL_HOSTS}
    )
    assert not foreign, (
        "the page asked other hosts for (vendor these with adoptkit.site.vendor or drop them):\n  "
        + "\n  ".join(foreign)
    )
