"""The built book, opened in a real browser: glued numbers, rendered widgets, and no third-party request.

Uses fixtures from conftest.py: `built_site` (Path to `_build/html`) and `sales_glue` (glue name ->
the text expected on the page). The site is served by `http.server` on 127.0.0.1 and opened in Debian's
chromium through plain Playwright (never `playwright install`: no browser download).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SALES_PAGE = "book/roles/sales/crm-automation.html"  # relative to _build/html
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Every name but ours fails to resolve: a CDN dependency shows up as a broken page *and* as a
    # recorded request, and Chromium's own Google look-ups never leave the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (Debian: apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def site_url(built_site: Path):
    """Serve the built site on a free loopback port; stop the server (by its pid) afterwards."""
    # Port 0: the server picks a free port itself and prints it, so there is no pick-then-bind race.
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(built_site)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 43567 (http://...) ..."
        if " port " not in line:
            pytest.fail(f"http.server did not start for {built_site}: {line!r}")
        port = int(line.split(" port ")[1].split()[0])
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def sales_visit(site_url: str):
    """Open the sales chapter once; give the tests its page and every URL it requested."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
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
