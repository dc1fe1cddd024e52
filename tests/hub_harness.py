"""Run the pilot hub (`adoptkit hub start`) in a test, talk to it as its users do, and leave nothing behind.

Every process the hub starts (proxy, gateway service, single-user servers, kernels) is remembered as
it appears, so it can be stopped by pid even when the hub itself has died.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import requests
import websocket

REPO = Path(__file__).resolve().parents[1]
CHP = REPO / ".cache" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
ADOPTKIT = Path(sys.executable).parent / "adoptkit"


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def hub_keys(ports: dict[str, int], tmp_path: Path) -> str:
    """The `adoptkit.hub` keys every test hub shares (its ports, folders, the course's Jupyter config, the
    proxy, an extra config file), as YAML lines indented under `hub:`."""
    return "\n".join(f"    {line}" for line in (
        f"port: {ports['port']}", f"hub_port: {ports['hub_port']}", f"proxy_api_port: {ports['proxy_api_port']}",
        f"data_dir: {tmp_path / 'hub'}", f"exchange_dir: {tmp_path / 'hub' / 'exchange'}",
        f"jupyter_config: {REPO / 'deploy' / 'jupyter'}", f"proxy_command: {CHP}",
        f"extra_config: {tmp_path / 'extra_config.py'}"))


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class PilotHub:
    def __init__(self, course: Path, env: dict[str, str], url: str, admin_token: str, log: Path,
                 ports: dict[str, int]):
        self.course, self.env, self.url, self.log = course, env, url.rstrip("/"), log
        self.configured_ports = ports  # what _config.yml gives the hub, the proxy's API and the gateway
        self.admin = requests.Session()
        self.admin.headers["Authorization"] = f"token {admin_token}"
        self.proc: subprocess.Popen | None = None
        self.seen: dict[int, tuple[float, str]] = {}  # pid -> (create time, command line)
        self.ports: set[int] = set()

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self, timeout: float = 90) -> None:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([str(ADOPTKIT), "hub", "start"], cwd=self.course, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.remember()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.admin.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    self.remember()
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the hub was not ready after {timeout} s:\n{self.log_tail()}")

    def remember(self) -> None:
        """Note every process under the hub, and the ports they listen on."""
        if self.proc is None:
            return
        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for p in procs:
            try:
                self.seen.setdefault(p.pid, (p.create_time(), " ".join(p.cmdline()[:4])))
                self.ports |= {c.laddr.port for c in p.net_connections("inet") if c.status == psutil.CONN_LISTEN}
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass

    def survivors(self) -> list[str]:
        alive = []
        for pid, (created, cmd) in self.seen.items():
            try:
                if psutil.Process(pid).create_time() == created and psutil.Process(pid).status() != "zombie":
                    alive.append(f"{pid} {cmd}")
            except psutil.NoSuchProcess:
                pass
        return alive

    def stop(self, timeout: float = 40) -> list[str]:
        """Stop the hub as an administrator would (SIGTERM), then kill by pid whatever outlived it.
        Returns what had to be killed (empty when the hub cleaned up after itself)."""
        if self.proc is None:
            return []
        self.remember()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        deadline = time.monotonic() + 10
        while (left := self.survivors()) and time.monotonic() < deadline:
            time.sleep(0.2)
        for entry in left:
            pid = int(entry.split()[0])
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None
        return left

    def log_tail(self, n: int = 60) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(lines[-n:])

    # -- the hub's REST API -------------------------------------------------------------------------
    def api(self, method: str, path: str, **kw):
        r = self.admin.request(method, f"{self.url}/hub/api{path}", timeout=30, **kw)
        if r.status_code >= 400:
            raise AssertionError(f"{method} /hub/api{path} -> {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else None

    def start_servers(self, names: list[str], timeout: float = 90) -> None:
        for name in names:
            self.api("POST", f"/users/{name}/server")
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                server = self.api("GET", f"/users/{name}")["servers"].get("")
                if server and server["ready"]:
                    pending.discard(name)
            time.sleep(0.3)
        self.remember()
        if pending:
            raise AssertionError(f"servers not ready after {timeout} s: {sorted(pending)}\n{self.log_tail()}")

    def server_pid(self, name: str) -> int:
        return self.api("GET", f"/users/{name}")["servers"][""]["state"]["pid"]

    def user(self, name: str) -> UserClient:
        token = self.api("POST", f"/users/{name}/tokens", json={"expires_in": 3600, "note": "test"})["token"]
        return UserClient(self, name, token)


class UserClient:
    """One hub user's own token, used on their own server as their browser would."""

    def __init__(self, hub: PilotHub, name: str, token: str):
        self.hub, self.name, self.token = hub, name, token
        self.base = f"{hub.url}/user/{name}"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"

    def call(self, method: str, path: str, **kw):
        r = self.http.request(method, f"{self.base}{path}", timeout=120, **kw)
        if r.status_code >= 400:
            raise AssertionError(f"{self.name}: {method} {path} -> {r.status_code}: {r.text[:800]}")
        return r.json() if r.content else None

    def status(self, path: str) -> int:
        return self.http.get(f"{self.base}{path}", timeout=30).status_code

    def start_kernel(self, notebook_path: str) -> str:
        session = self.call("POST", "/api/sessions", json={
            "path": notebook_path, "type": "notebook", "name": Path(notebook_path).name,
            "kernel": {"name": "python3"}})
        self.hub.remember()
        return session["kernel"]["id"]

    def run(self, kernel_id: str, code: str, timeout: float = 120) -> str:
        """Execute code in the kernel over its websocket; returns stdout, raises on an error."""
        ws = websocket.create_connection(
            self.base.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels",
            header=[f"Authorization: token {self.token}"], timeout=timeout)
        try:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "username": self.name, "session": uuid.uuid4().hex,
                           "msg_type": "execute_request", "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            out, error = [], None
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out.append(content["text"])
                elif kind == "error":
                    error = f"{content['ename']}: {content['evalue']}"
                elif kind == "status" and content["execution_state"] == "idle":
                    break
            else:
                raise AssertionError(f"{self.name}: the cell did not finish in {timeout} s")
        finally:
            ws.close()
        if error:
            raise AssertionError(f"{self.name}: the cell failed: {error}\n{''.join(out)}")
        return "".join(out)
