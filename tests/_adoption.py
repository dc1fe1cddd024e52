"""Helpers shared by the adoption tests (imported explicitly; not a conftest, to stay out of others' way)."""

from __future__ import annotations

import base64
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import yaml

from adoptkit import settings
from adoptkit.measure import xapi_rules

ROI = {
    "organisation": {"name": "Test Org", "hourly_cost": 50, "currency": "EUR"},
    "roi": {"programme_costs": {"licences": 10000, "facilitation": 15000},
            "tasks_per_week": {"marketing": 8, "sales": 10, "hr": 6, "engineering": 12}},
}


def config(tmp_path: Path, section: dict | None = None) -> settings.Settings:
    """Write a _config.yml with this `adoptkit:` section into tmp_path and load it."""
    path = tmp_path / "_config.yml"
    path.write_text(yaml.safe_dump({"title": "test", "adoptkit": section or {}}), encoding="utf-8")
    return settings.load(path)


# --- local stand-ins for the organisation's LRS and chat webhook (servers on 127.0.0.1, stopped after) ---

class LRSHandler(BaseHTTPRequestHandler):
    """A minimal LRS that checks the xAPI REST protocol and keeps one statement per id."""
    store: dict = {}
    posts: list = []
    fail_first: int = 0
    user, password = "lrs-user", "s3cret"

    def _reply(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        cls = type(self)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        cls.posts.append(len(json.loads(body)))
        if self.path != "/xapi/statements":
            return self._reply(404, b'{"error": "not found"}')
        if self.headers.get("X-Experience-API-Version", "")[:4] != "1.0.":
            return self._reply(400, b'{"error": "missing or wrong X-Experience-API-Version"}')
        expected = "Basic " + base64.b64encode(f"{cls.user}:{cls.password}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self._reply(401, b'{"error": "unauthorised"}')
        if self.headers.get("Content-Type") != "application/json":
            return self._reply(400, b'{"error": "content type"}')
        if cls.fail_first > 0:
            cls.fail_first -= 1
            return self._reply(503, b'{"error": "busy"}')
        batch = json.loads(body)
        if not isinstance(batch, list) or any(xapi_rules.problems(st) for st in batch):
            return self._reply(400, b'{"error": "invalid statement"}')
        for st in batch:
            if st["id"] in cls.store and cls.store[st["id"]] != st:
                return self._reply(409, json.dumps({"error": f"conflict {st['id']}"}).encode())
        for st in batch:
            cls.store[st["id"]] = st
        self._reply(200, json.dumps([st["id"] for st in batch]).encode())

    def log_message(self, *a):
        pass


class WebhookReceiver(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"ok" if type(self).status == 200 else b"invalid_payload")

    def log_message(self, *a):
        pass
