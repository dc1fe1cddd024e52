"""xAPI against a real LRS: ralph (`ralph-malph` 5.1, openfun), in its own venv, on loopback.

ralph pins an older FastAPI than the kit's stack, so it lives in `.cache/ralph-venv` (git-ignored), installed
from PyPI the first time (a few minutes; later runs reuse it). Its filesystem backend writes with the
operation type CREATE by default, which refuses a second write to its one file ("already exists"), so only
the first POST would succeed; the same backend class with APPEND (ralph's own operation type for adding
records to a file) accepts every write. It is registered through ralph's documented extension point, an
entry point in the `ralph.backends.lrs` group, from a folder on the server's PYTHONPATH (nothing is added
to ralph's venv). The server is started by this module on 127.0.0.1 and stopped by its pid.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from adoptkit import settings
from adoptkit.measure import simulate, xapi_rules

from _adoption import ROI, run_adoptkit
from test_xapi import regrade

ROOT = Path(__file__).resolve().parents[1]
RALPH = ["ralph-malph[lrs]==5.1.0", "requests"]  # ralph 5.1's API imports requests (OIDC) but does not require it
VENV = ROOT / ".cache" / "ralph-venv"
READY = VENV / ".adoptkit-installed"  # written once the install finished, so a broken half-install is redone
USER, PASSWORD = "adoptkit-test", "not-a-real-secret"

PLUGIN = '''
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend


class AppendFSLRSBackend(FSLRSBackend):
    """ralph's filesystem LRS backend, appending each write to its file instead of creating the file."""

    name = "fs_append"
    default_operation_type = BaseOperationType.APPEND
'''

@pytest.fixture(scope="session")
def ralph_python() -> Path:
    """The ralph venv's Python, installed from PyPI when missing (its time is printed for the record)."""
    python = VENV / "bin" / "python"
    if not READY.exists():
        shutil.rmtree(VENV, ignore_errors=True)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
        pip = subprocess.run([str(python), "-m", "pip", "install", "-q", *RALPH], capture_output=True, text=True,
                             timeout=1800)
        if pip.returncode:
            pytest.fail(f"installing {' '.join(RALPH)} into {VENV} failed:\n{pip.stderr[-3000:]}")
        READY.write_text(f"{' '.join(RALPH)} installed in {time.monotonic() - started:.0f} s\n")
        print(f"\n{READY.read_text().strip()}")
    return python


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _auth_header() -> dict:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-Experience-API-Version": "1.0.3"}


@pytest.fixture
def ralph(ralph_python, tmp_path):
    """A ralph LRS on 127.0.0.1: (its xAPI endpoint, the file its backend writes); stopped by pid after."""
    plugin = tmp_path / "plugin"
    (plugin / "adoptkit_ralph_append-0.dist-info").mkdir(parents=True)
    (plugin / "adoptkit_ralph_append.py").write_text(PLUGIN)
    (plugin / "adoptkit_ralph_append-0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: adoptkit-ralph-append\nVersion: 0\n")
    (plugin / "adoptkit_ralph_append-0.dist-info" / "entry_points.txt").write_text(
        "[ralph.backends.lrs]\nfs_append = adoptkit_ralph_append:AppendFSLRSBackend\n")
    hashed = subprocess.run([str(ralph_python), "-c", "import bcrypt, sys; print(bcrypt.hashpw(sys.argv[1].encode(), "
                             "bcrypt.gensalt()).decode())", PASSWORD], capture_output=True, text=True, check=True,
                            timeout=60).stdout.strip()
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps([{"username": USER, "hash": hashed, "scopes": ["all"],
                                 "agent": {"mbox": "mailto:lrs-test@example.org"}}]))
    store = tmp_path / "lrs"
    store.mkdir()
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(plugin), "RALPH_APP_DIR": str(tmp_path / "app"),
           "RALPH_AUTH_FILE": str(auth), "RALPH_RUNSERVER_BACKEND": "fs_append",
           "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(store)}
    log = open(tmp_path / "ralph.log", "w")
    server = subprocess.Popen([str(ralph_python), "-m", "uvicorn", "ralph.api:app", "--host", "127.0.0.1", "--port",
                               str(port)], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/__heartbeat__", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ralph did not start: {(tmp_path / 'ralph.log').read_text()[-3000:]}")
            time.sleep(0.3)
        yield f"{base}/xAPI/", store / "fs_lrs.jsonl"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)
        log.close()


def stored(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def get_statement(endpoint: str, sid: str, voided: bool = False) -> int:
    key = "voidedStatementId" if voided else "statementId"
    req = urllib.request.Request(f"{endpoint}statements?{key}={sid}", headers=_auth_header())
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def test_ralph_takes_every_statement_once_and_a_regrade_voids_the_earlier_one(ralph, tmp_path):
    endpoint, store = ralph
    root = tmp_path / "course"
    c = simulate.cohort(10, 400, seed=12, settings=settings.parse(ROI, root=tmp_path))
    section = {**ROI, **simulate.write_records(c, root), "xapi": {"endpoint": endpoint, "batch_size": 5}}
    env = {"ADOPTKIT_LRS_USER": USER, "ADOPTKIT_LRS_PASSWORD": PASSWORD}
    r = run_adoptkit(root, section, "xapi", "send", env=env)
    submissions = c.scores.groupby(["learner", "assignment"]).ngroups
    assert r.returncode == 0 and f"sent {submissions} statement(s) in {-(-submissions // 5)} batch(es)" in r.stdout, r.stdout + r.stderr
    first = stored(store)
    assert len(first) == submissions and len({st["id"] for st in first}) == submissions  # several writes taken
    assert get_statement(endpoint, first[0]["id"]) == 200

    learner, assignment = c.scores[["learner", "assignment"]].iloc[0]
    old = next(st for st in first if st["actor"]["account"]["name"] == learner and st["object"]["id"].endswith(assignment))
    regrade(section, learner, assignment, 1.0)
    r = run_adoptkit(root, section, "xapi", "send", env=env)
    assert r.returncode == 0 and "sent 2 statement(s)" in r.stdout, r.stdout + r.stderr
    now = stored(store)
    voids = [st for st in now if st["verb"]["id"] == xapi_rules.VOIDED]
    assert len(voids) == 1 and voids[0]["object"] == {"objectType": "StatementRef", "id": old["id"]}
    valid = [st for st in now if st["verb"]["id"].endswith("/completed") and st["id"] not in {old["id"]}]
    mine = [st for st in valid if st["actor"]["account"]["name"] == learner and st["object"]["id"].endswith(assignment)]
    assert len(valid) == submissions and len(mine) == 1
    assert mine[0]["result"]["score"]["raw"] == old["result"]["score"]["raw"] + 1
    assert get_statement(endpoint, mine[0]["id"]) == 200

    # Nothing new: nothing sent. With the kit's ledger of sent ids lost, a resend duplicates nothing in ralph.
    r = run_adoptkit(root, section, "xapi", "send", env=env)
    assert r.returncode == 0 and "sent 0 statement(s)" in r.stdout
    with sqlite3.connect(root / "_nbgrader" / "adoptkit-records.db") as conn:
        conn.execute("DELETE FROM xapi_sent")
    r = run_adoptkit(root, section, "xapi", "send", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len({st["id"] for st in stored(store)}) == len(now)
