"""Run the sandbox app: in the foreground (`adoptkit sandbox serve`) or in a background thread of the
current process (what `adoptkit.llm.client()` does when nothing is listening), so a notebook never
leaves a server behind when its kernel ends."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from .app import create_app


def serve(host: str = "127.0.0.1", port: int = 8765, log_level: str = "info") -> None:
    uvicorn.run(create_app(), host=host, port=port, log_level=log_level)


class BackgroundServer:
    """A uvicorn server on a free loopback port, in a daemon thread."""

    def __init__(self, app=None, host: str = "127.0.0.1"):
        sock = socket.socket()
        sock.bind((host, 0))
        self.host, self.port = host, sock.getsockname()[1]
        self._sock = sock
        config = uvicorn.Config(app or create_app(), log_level="warning", lifespan="off")
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
