"""Helpers shared by the adoption tests (imported explicitly; not a conftest, to stay out of others' way)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import yaml

from adoptkit import settings
from adoptkit.measure import xapi_rules

ROI = {
    "organisation": {"name": "Test Org", "hourly_cost": 50, "currency": "EUR"},
    "roi": {"programme_costs": {"licences": 10000, "facilitation": 15000},
            "tasks_per_week": {"marketing": 8, "sales": 10, "hr": 6, "engineering": 12}, "attribution": 1.0},
}


def book_inputs() -> dict:
    """The `adoptkit:` section for the "Measuring ROI" chapter's worked example: its ASSUMPTIONS block, read from
    the chapter itself, mapped onto the kit's settings (tasks per week are the kit's own input: 10 a role)."""
    a = chapter_assumptions()
    c, b = a["costs"], a["benefits"]
    return {"organisation": {"name": "Book Org", "hourly_cost": a["loaded_hourly_cost"], "currency": a["currency"]},
            "roi": {"course_hours_per_learner": c["learner_hours"], "mentor_hours": c["mentor_hours"],
                    "programme_costs": {k: c[k] for k in ("content_and_facilitation", "platform_and_it", "model_usage")},
                    "weeks_per_year": b["working_weeks"], "attribution": b["attribution"],
                    "cost_per_error": b["cost_per_error"],
                    "tasks_per_week": {"marketing": 10, "sales": 10, "hr": 10, "engineering": 10}}}


CHAPTER = Path(__file__).resolve().parents[1] / "book" / "measuring-roi.md"


def _chapter_cells() -> list[str]:
    import re

    cells = re.findall(r"```\{code-cell\} ipython3\n(.*?)```", CHAPTER.read_text(encoding="utf-8"), re.S)
    # a cell's options come as ":key: value" lines or as a YAML block between "---" lines: neither is code
    return [re.sub(r"\A---\n.*?\n---\n", "", c, flags=re.S) for c in cells]


def chapter_assumptions() -> dict:
    cell = next(c for c in _chapter_cells() if "ASSUMPTIONS = yaml.safe_load" in c)
    ns: dict = {}
    exec(cell, ns)
    return ns["ASSUMPTIONS"]


def chapter_method() -> dict:
    """The chapter's own functions (cost_items, benefit_items, roi), taken from its code cells, not copied."""
    import ast

    ns: dict = {}
    for cell in _chapter_cells():
        tree = ast.parse("\n".join(line for line in cell.splitlines() if not line.startswith(":")))
        defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in ("cost_items", "benefit_items",
                                                                                       "roi")]
        if defs:
            exec(compile(ast.Module(body=defs, type_ignores=[]), str(CHAPTER), "exec"), ns)
    return ns


ADOPTKIT = str(Path(sys.executable).with_name("adoptkit"))


def run_adoptkit(root: Path, section: dict, *args: str, env: dict | None = None, timeout: int = 180):
    """`adoptkit ARGS` as its own process in the course folder `root`, with this `adoptkit:` section."""
    import yaml

    (root / "_config.yml").write_text(yaml.safe_dump({"title": "course", "adoptkit": section}))
    return subprocess.run([ADOPTKIT, *args], cwd=root, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "ADOPTKIT_CONFIG": str(root / "_config.yml"), **(env or {})})


def config(tmp_path: Path, section: dict | None = None) -> settings.Settings:
    """Write a _config.yml with this `adoptkit:` section into tmp_path and load it."""
    path = tmp_path / "_config.yml"
    path.write_text(yaml.safe_dump({"title": "test", "adoptkit": section or {}}), encoding="utf-8")
    return settings.load(path)


# --- local stand-ins for the organisation's LRS and chat webhook (servers on 127.0.0.1, stopped after) ---

class LRSHandler(BaseHTTPRequestHandler):
    """A minimal LRS that checks the xAPI REST protocol, keeps one statement per id and applies voiding."""

    @classmethod
    def valid(cls, verb: str = "completed") -> list[dict]:
        """The statements with this verb that are not voided (what an LRS's consumers see)."""
        return [st for sid, st in cls.store.items() if sid not in cls.voided and st["verb"]["id"].endswith(verb)]
    store: dict = {}
    voided: set = set()
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
            if st["verb"]["id"] == xapi_rules.VOIDED:  # xAPI 1.0.3 Data 2.3.2: void a statement the LRS holds
                target = cls.store.get(st["object"]["id"])
                if target is None or target["verb"]["id"] == xapi_rules.VOIDED:
                    return self._reply(400, b'{"error": "a voiding statement must target a non-voiding statement '
                                            b'the LRS holds"}')
        for st in batch:
            cls.store[st["id"]] = st
            if st["verb"]["id"] == xapi_rules.VOIDED:
                cls.voided.add(st["object"]["id"])
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
