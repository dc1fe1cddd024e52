"""Every server on the hub, learners' and instructors': the course's tools on the PATH of a terminal."""

import os

from adoptkit.hub.profile import ensure_login_path

c = get_config()  # noqa: F821 (Jupyter's config loader provides it)

for problem in ensure_login_path(os.environ.get("HOME")):
    print(f"[adoptkit] could not put the course's tools on the terminal's PATH: {problem}")
