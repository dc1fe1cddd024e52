"""Where an LTI launch lands a learner: `<their server>/adoptkit/assignment/<name>` fetches the assignment
from nbgrader's exchange into their home (as the Assignments tab's Fetch button does, once) and opens its
first notebook in JupyterLab. A Jupyter server extension of the learners' servers
(deploy/jupyter/learner/jupyter_server_config.json turns it on)."""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .lti import ASSIGNMENT


class LandingHandler(JupyterHandler):
    @web.authenticated
    def get(self, name: str):
        if not ASSIGNMENT.fullmatch(name):
            raise web.HTTPError(400, f"{name!r} is not an assignment name")
        root = Path(self.settings["server_root_dir"]).expanduser()
        folder = root / name
        if not folder.is_dir():
            manager = self.settings.get("assignment_list_manager")
            if manager is None:
                raise web.HTTPError(500, "nbgrader's assignment list is not enabled on this server")
            course = manager.load_config().CourseDirectory.get("course_id") or None
            listed = manager.list_released_assignments(course_id=course)
            released = {a["assignment_id"]: a["course_id"] for a in listed.get("value", []) if listed.get("success")}
            if name not in released:
                self.set_status(404)
                self.finish(f"<p>The assignment <b>{html.escape(name)}</b> has not been released to you yet. "
                            "Ask your instructor, then open it again from your learning platform.</p>")
                return
            manager.fetch_assignment(released[name], name)
        notebooks = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
        target = f"{name}/{notebooks[0]}" if notebooks else name
        self.redirect(url_path_join(self.base_url, "lab", "tree", quote(target)))


def _jupyter_server_extension_points():
    return [{"module": "adoptkit.lms.landing"}]


def _load_jupyter_server_extension(app):
    app.web_app.add_handlers(".*$", [(url_path_join(app.web_app.settings["base_url"],
                                                    r"adoptkit/assignment/([^/]+)"), LandingHandler)])
