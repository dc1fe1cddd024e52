"""The hub's `lms` service (started and stopped by the hub, at /services/lms/):

- `jwks.json`: the tool's public key, where the LMS checks the tool's signed token requests (LTI AGS);
- `scorm/score?path=ROLE&origin=ORIGIN`: a learner's graded score for a role path, for a SCORM package
  opened in the LMS at ORIGIN. The learner is who the hub says (HubOAuth: the hub's login, in a window
  of its own); the page hands their own score, and nothing else, to the package's window with
  postMessage, addressed to ORIGIN, which must be one of `lms.scorm_origins`.

The score of a path is the sum over its graded assignments (`adoptkit.lms.paths.assignments`) of the
learner's gradebook score, over the sum of those assignments' maxima; an assignment in the gradebook
that the learner never submitted counts 0 of its maximum, one not yet in the gradebook does not count.
"""

from __future__ import annotations

import html
import json
import signal

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import ioloop, web

from .. import settings as settings_mod
from . import lti
from .paths import assignments

SERVICE = "lms"


def path_score(settings, role: str, learner: str) -> dict:
    """The learner's graded score on a role path, from the course's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    from ..hub.pilot import course_directory_config

    cd = course_directory_config(settings.path(settings.hub.nbgrader_config), settings.path(settings.hub.course_dir))
    score = maximum = 0.0
    counted, pending = [], []
    with Gradebook(cd["db_url"], cd.get("course_id", "default_course")) as gb:
        known = {a.name: a for a in gb.assignments}
        for name in assignments(settings.root, role):
            if name not in known:
                continue
            maximum += known[name].max_score
            counted.append(name)
            try:
                sub = gb.find_submission(name, learner)
            except MissingEntry:
                continue
            score += max(0.0, sub.score - sum(nb.late_submission_penalty or 0 for nb in sub.notebooks))
            if sub.needs_manual_grade:
                pending.append(name)
    return {"score": round(score, 4), "max": round(maximum, 4), "assignments": counted, "pending_manual": pending}


class JWKSHandler(web.RequestHandler):
    def get(self):
        settings = settings_mod.current()
        try:
            key = lti.public_jwk(lti.read_key(settings))
        except lti.LTIError as err:
            raise web.HTTPError(404, str(err)) from None
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "max-age=300")
        self.finish(json.dumps({"keys": [key]}))


class ScoreHandler(HubOAuthenticated, web.RequestHandler):
    @web.authenticated
    def get(self):
        settings = settings_mod.current()
        role, origin = self.get_argument("path", ""), self.get_argument("origin", "")
        if origin not in settings.lms.scorm_origins:
            raise web.HTTPError(403, f"{origin!r} is not a learning platform this course sends scores to "
                                     "(lms.scorm_origins in _config.yml)")
        if role not in settings.roles:
            raise web.HTTPError(404, f"no role path {role!r}")
        learner = self.get_current_user()["name"]
        message = {"type": "adoptkit-score", "path": role, "learner": learner, **path_score(settings, role, learner)}
        if not message["max"]:
            message["message"] = "Nothing of this path is graded yet: come back after your instructor grades it."
        # In <script>: JSON with "<" escaped cannot close the element, whatever a name holds.
        payload = json.dumps(message).replace("<", "\\u003c")
        self.set_header("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; frame-ancestors 'none'")
        self.finish(f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Your score</title></head>
<body><p id="said">Sending your score ({message['score']:g} of {message['max']:g}) to the course page...</p>
<script>
var msg = {payload};
if (window.opener) {{
  window.opener.postMessage(msg, {json.dumps(origin)});
  document.getElementById("said").textContent = "Your score was sent to the course page. You can close this window.";
}} else {{
  document.getElementById("said").textContent = "Open this page from the course's package in your learning platform.";
}}
</script></body></html>""")


def make_app() -> web.Application:
    import os

    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE}/")
    return web.Application([
        (url_path_join(prefix, "jwks.json"), JWKSHandler),
        (url_path_join(prefix, "scorm/score"), ScoreHandler),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
    ], cookie_secret=os.urandom(32))


def main(host: str, port: int) -> None:
    app = make_app()
    app.listen(port, host)
    loop = ioloop.IOLoop.current()
    # The hub stops its services with SIGINT, then waits: stop at once.
    signal.signal(signal.SIGINT, lambda *_: loop.add_callback_from_signal(loop.stop))
    signal.signal(signal.SIGTERM, lambda *_: loop.add_callback_from_signal(loop.stop))
    loop.start()


if __name__ == "__main__":
    import sys

    main(sys.argv[1], int(sys.argv[2]))
