"""Debian's chromium for the tests that open pages (imported explicitly, like hub_harness).

    from browser import needs_chromium, launch, serve
    pytestmark = [needs_chromium]

Never a downloaded browser build (`playwright install` needs the internet): /usr/bin/chromium, launched
with flags that keep it on the loopback interface, so a page that needs the network shows as broken.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
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

# Installing chromium needs root and Debian's archive, which the test command cannot do for itself;
# .ci/run does it. Anywhere else the browser tests say how to get it.
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent: install Debian's chromium (as root: "
                                  "apt-get install chromium), then run the tests again")


def launch(pw, **kwargs):
    """A headless chromium from a `sync_playwright()` context."""
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, **kwargs)


@contextmanager
def serve(folder: Path):
    """Serve `folder` on a free loopback port; yield its URL; stop the server by its pid."""
    # Port 0: the server picks a free port itself and prints it, so there is no pick-then-bind race.
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 43567 (http://...) ..."
        if " port " not in line:
            pytest.fail(f"http.server did not start for {folder}: {line!r}")
        yield f"http://127.0.0.1:{int(line.split(' port ')[1].split()[0])}/"
    finally:
        server.terminate()
        server.wait(timeout=10)
