"""Run the gateway: in the foreground (`adoptkit sandbox serve`) or in a background thread of the
current process (what `adoptkit.llm.client()` does when nothing is listening), so a notebook never
leaves a server behind when its kernel ends."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import uvicorn

from ..settings import Settings, current
from .app import create_app
from .redact import RedactionFailed, describe


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are
    # TCP; with proto 0 every kept-alive response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def serve(host: str = "127.0.0.1", port: int = 8765, require_keys: bool | None = None,
          settings: Settings | None = None, log_level: str = "warning") -> None:
    """Serve until interrupted. Port 0 picks a free port; the first line printed names the URL."""
    settings = settings or current()
    keys = settings.gateway.require_keys if require_keys is None else require_keys
    if not keys and not is_loopback(host):
        raise ValueError(f"refusing to serve without keys on {host}: an open gateway (require_keys false) is for "
                         "127.0.0.1 only. Issue keys (`adoptkit sandbox keys issue`) or bind to 127.0.0.1.")
    app = create_app(settings, require_keys=keys)
    gw = app.state.gateway
    if gw.redactor is not None:
        try:
            gw.redactor.warm()  # load Presidio and the name model now, not on a learner's first request
        except RedactionFailed as err:
            raise ValueError(f"PII redaction cannot start, so the gateway will not serve: {err}") from None
    sock = _bind(host, port)
    sock.listen(2048)  # connections wait in the backlog from now on, so the URL printed below is usable at once
    bound = sock.getsockname()[1]
    mode = "keys required" if keys else "open: no keys (loopback only)"
    print(f"adoptkit sandbox gateway on http://{host}:{bound}/v1 ({mode})", flush=True)
    print(f"  {describe(settings.gateway.redaction)}", flush=True)
    print(f"  database: {gw.engine.url.render_as_string(hide_password=True)} "
          f"({'budgets shared by every replica' if gw.budget_in_thread else 'one process: budgets in memory'})",
          flush=True)
    config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])


def _warm(redactor) -> None:
    try:
        redactor.warm()
    except RedactionFailed as err:  # requests will be refused with a 503 that says why
        print(f"adoptkit: PII redaction cannot start: {err}", flush=True)


class BackgroundServer:
    """The gateway in open mode on a free loopback port, in a daemon thread (one learner's kernel)."""

    def __init__(self, app=None, host: str = "127.0.0.1", settings: Settings | None = None):
        sock = _bind(host, 0)
        self.host, self.port = host, sock.getsockname()[1]
        self._sock = sock
        self.app = app or create_app(settings, require_keys=False)
        gw = getattr(self.app.state, "gateway", None)
        if gw is not None and gw.redactor is not None:  # Presidio loads while the notebook goes on
            threading.Thread(target=_warm, args=(gw.redactor,), daemon=True).start()
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout: float = 10.0) -> "BackgroundServer":
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()
        gw = getattr(self.app.state, "gateway", None)
        if gw is not None:
            gw.usage.close()
