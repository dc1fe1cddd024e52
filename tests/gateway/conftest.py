"""Real servers on loopback for the gateway tests: the gateway as a subprocess (`adoptkit sandbox serve
--port 0`, stopped by its pid), a recording OpenAI-compatible upstream and a fake JupyterHub API (both
uvicorn/http.server threads in this process, on free ports)."""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openai
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from adoptkit.gateway import db
from adoptkit.gateway.backends import EMBED_DIM, OfflineBackend, embed, embedding_list
from adoptkit.gateway.keys import KeyStore
from adoptkit.gateway.server import BackgroundServer

HERE = Path(__file__).parent
UPSTREAM_KEY = "upstream-secret-for-tests"
CORPUS = json.loads((HERE / "pii_corpus.json").read_text(encoding="utf-8"))


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="session")
def corpus() -> dict:
    """The labelled synthetic PII snippets (see make_pii_corpus.py)."""
    return CORPUS


# ---- the recording upstream ------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.requests: list[dict] = []
        self.events: list[str] = []

    def last(self, path_part: str = "") -> dict:
        return [r for r in self.requests if path_part in r["path"]][-1]


def recording_app(rec: Recorder) -> FastAPI:
    app = FastAPI()
    offline = OfflineBackend()

    def remember(request: Request, body: dict) -> None:
        rec.requests.append({"path": request.url.path, "query": dict(request.query_params),
                             "headers": dict(request.headers), "body": body})

    async def answer_chat(request: Request, body: dict, key_ok: bool):
        remember(request, body)
        if not key_ok:  # like some proxies: the refusal quotes the credentials it was sent
            sent = request.headers.get("authorization") or request.headers.get("api-key")
            return JSONResponse({"error": {"message": f"Incorrect API key provided. Headers: Authorization: {sent}",
                                           "type": "invalid_request_error", "code": "invalid_api_key"}}, status_code=401)
        text = json.dumps(body.get("messages"))
        if "UPSTREAM-FAIL" in text:
            return JSONResponse({"error": {"message": "the model crashed"}}, status_code=500)
        if "UPSTREAM-QUOTES" in text:  # a provider's 400 that quotes personal data and a key back
            return JSONResponse({"error": {"message": "Invalid request for account holder jane.roe@example.com "
                                                      f"(key {UPSTREAM_KEY}, card 4532 0151 1283 0366)"}},
                                status_code=400)
        result = offline.answer(body)
        result.model = body.get("model")
        if body.get("tools"):
            tool = body["tools"][0]["function"]["name"]
            out = result.to_openai()
            out["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": "{\"city\": \"Paris\"}"}}]}
            out["choices"][0]["finish_reason"] = "tool_calls"
            return JSONResponse(out)
        if not body.get("stream"):
            return JSONResponse(result.to_openai())
        slow = "SLOW-STREAM" in text
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def events():
            sent = 0
            try:
                chunks = list(result.chunks())
                if slow:  # a long answer, one piece every 20 ms
                    base = chunks[1]
                    chunks = chunks[:1] + [{**base, "choices": [{"index": 0, "delta": {"content": f"word{i} "},
                                                                  "finish_reason": None}]} for i in range(300)] + chunks[-2:]
                for chunk in chunks:
                    if not chunk["choices"] and not include_usage:
                        continue
                    yield f"data: {json.dumps(chunk)}\n\n"
                    sent += 1
                    if slow:
                        await asyncio.sleep(0.02)
                    if "STREAM-BREAK" in text and sent == 3:
                        raise RuntimeError("the upstream fell over mid-stream")
                yield "data: [DONE]\n\n"
                rec.events.append(f"stream complete after {sent} chunks")
            except BaseException:
                rec.events.append(f"client went away after {sent} chunks")
                raise

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        return await answer_chat(request, body, request.headers.get("authorization") == f"Bearer {UPSTREAM_KEY}")

    @app.post("/openai/deployments/{deployment}/chat/completions")
    async def azure_chat(deployment: str, request: Request):
        body = await request.json()
        ok = request.headers.get("api-key") == UPSTREAM_KEY and "api-version" in request.query_params
        return await answer_chat(request, body, ok)

    @app.post("/admin/secret")
    async def admin(request: Request):  # what a path traversal would reach
        remember(request, {})
        return JSONResponse({"secret": "the organisation's admin endpoint"})

    @app.post("/not-an-api/chat/completions")
    async def html_page(request: Request):  # a misconfigured base_url: a web page, not the API
        from fastapi.responses import HTMLResponse

        return HTMLResponse("<html><body>Welcome</body></html>")

    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        body = await request.json()
        remember(request, body)
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        return embedding_list([embed(t, EMBED_DIM) for t in texts], body["model"], 3 * len(texts),
                              body.get("encoding_format"))

    return app


@pytest.fixture(scope="session")
def upstream():
    rec = Recorder()
    server = BackgroundServer(app=recording_app(rec)).start()
    rec.base = f"http://{server.host}:{server.port}"
    yield rec
    server.stop()


# ---- a fake JupyterHub API ---------------------------------------------------------------------------
HUB_USERS = {"good-token-alice": {"name": "hub-alice", "groups": ["cohort-spring", "staff"]},
             "good-token-bob": {"name": "hub-bob", "groups": []}}


class _Hub(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        token = (self.headers.get("Authorization") or "").removeprefix("token ")
        user = HUB_USERS.get(token)
        if self.path != "/hub/api/user" or user is None:
            self.send_response(403)
            self.end_headers()
            self.wfile.write(b'{"status": 403, "message": "Forbidden"}')
            return
        payload = json.dumps({"kind": "user", **user}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def fake_hub():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hub/api"
    httpd.shutdown()
    httpd.server_close()


# ---- the gateway, as `adoptkit sandbox serve --port 0` ------------------------------------------------
def write_config(folder: Path, upstream_base: str, hub_url: str) -> Path:
    down = closed_port()
    # the MiniLM weights the session fetched into the repository's cache (tests/conftest.py), found from here
    (folder / ".cache").mkdir(exist_ok=True)
    (folder / ".cache" / "models").symlink_to(HERE.parents[1] / ".cache" / "models", target_is_directory=True)
    cfg = folder / "_config.yml"
    cfg.write_text(textwrap.dedent(f"""\
        adoptkit:
          gateway:
            db_url: sqlite:///gateway.db
            max_body_bytes: 300000
            aliases:
              course-default: offline:adoptkit-offline
              course-embed: local:all-MiniLM-L6-v2
              course-hashed: offline:adoptkit-offline-embed
              course-real: rec:echo-1
            upstreams:
              rec: {{kind: openai, base_url: "{upstream_base}/v1", api_key_env: ADOPTKIT_TEST_UPSTREAM_KEY,
                     models: [echo-1, embed-1]}}
              azure: {{kind: azure, base_url: "{upstream_base}", api_key_env: ADOPTKIT_TEST_UPSTREAM_KEY,
                       models: [my-deployment]}}
              down: {{kind: compatible, base_url: "http://127.0.0.1:{down}/v1", models: [m1]}}
              nokey: {{kind: openai, base_url: "{upstream_base}/v1", api_key_env: ADOPTKIT_TEST_UNSET_KEY,
                       models: [m2]}}
              badkey: {{kind: openai, base_url: "{upstream_base}/v1", api_key_env: ADOPTKIT_TEST_WRONG_KEY,
                        models: [m3]}}
              html: {{kind: compatible, base_url: "{upstream_base}/not-an-api", models: [m4]}}
              az: {{kind: azure, base_url: "{upstream_base}", api_key_env: ADOPTKIT_TEST_UPSTREAM_KEY}}
              creds: {{kind: compatible, base_url: "http://alice:s3cret-in-url@127.0.0.1:{down}/v1?key=qs-secret",
                       models: [m5]}}
            limits:
              learner: {{tokens_per_day: 1000000, requests_per_day: 10000, requests_per_minute: 1000}}
              cohorts:
                tight: {{learner: {{requests_per_day: 2}}}}
                shared: {{cohort: {{tokens_per_day: 150}}}}
                minute: {{learner: {{requests_per_minute: 2}}}}
                budget200: {{learner: {{tokens_per_day: 200, requests_per_day: 1000}}}}
            redaction:
              deny_names: {json.dumps(CORPUS["deny_names"])}
              org_patterns: {json.dumps(CORPUS["org_patterns"])}
            policy:
              blocked:
                - name: weapons
                  patterns: ['\\bbuild (?:a|an) (?:bomb|weapon)']
                  message: Weapons are outside the sandbox's purpose.
            hub:
              api_url: "{hub_url}"
        """), encoding="utf-8")
    return cfg


class Gateway:
    def __init__(self, url: str, config: Path, proc: subprocess.Popen, log: Path):
        self.url, self.config, self.proc, self.log = url, config, proc, log
        self.engine = db.connect("sqlite:///gateway.db", config.parent)
        self.keys = KeyStore(self.engine)
        self._n = 0

    def key(self, learner: str | None = None, cohort: str = "general") -> str:
        """A fresh learner (unique name unless given) with a key of their own."""
        self._n += 1
        key, _ = self.keys.issue(learner or f"learner{self._n}-{time.monotonic_ns()}", cohort)
        return key

    def client(self, key: str | None, **kw) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=key or "none", max_retries=0, timeout=20, **kw)

    def aclient(self, key: str | None, **kw) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.url, api_key=key or "none", max_retries=0, timeout=20, **kw)

    def rows(self, learner: str, n: int = 1) -> list[dict]:
        """This learner's usage rows, read from the database as a report would: waits (5 s at most) for
        at least `n`, since the gateway commits rows in a writer thread just after each response."""
        import sqlalchemy as sa

        deadline = time.monotonic() + 5
        u = db.usage
        while True:
            with self.engine.connect() as c:
                rows = [r._asdict() for r in c.execute(sa.select(u).where(u.c.learner == learner).order_by(u.c.id))]
            if len(rows) >= n or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)


def start_gateway(folder: Path, env_extra: dict | None = None, args: tuple = ()) -> tuple[subprocess.Popen, str, Path]:
    env = {k: v for k, v in os.environ.items() if k != "ADOPTKIT_TEST_UNSET_KEY"}
    env.update({"ADOPTKIT_CONFIG": str(folder / "_config.yml"), **(env_extra or {})})
    log = folder / "gateway.log"
    exe = Path(sys.executable).with_name("adoptkit")
    with open(log, "w") as err:
        proc = subprocess.Popen([str(exe), "sandbox", "serve", "--port", "0", *args], env=env,
                                stdout=subprocess.PIPE, stderr=err, text=True)
    deadline = time.monotonic() + 30
    line = ""
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            break
    if "http://" not in line:
        stop(proc)
        raise RuntimeError(f"the gateway did not start: {line!r}; log:\n{log.read_text()}")
    return proc, line.split()[4], log


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()  # this pid only
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stdout:
        proc.stdout.close()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory, upstream, fake_hub):
    folder = tmp_path_factory.mktemp("gateway")
    config = write_config(folder, upstream.base, fake_hub)
    env = {"ADOPTKIT_TEST_UPSTREAM_KEY": UPSTREAM_KEY, "ADOPTKIT_TEST_WRONG_KEY": "not-the-right-key"}
    proc, url, log = start_gateway(folder, env)
    gw = Gateway(url, config, proc, log)
    yield gw
    stop(proc)
    gw.engine.dispose()
