"""Learners' JupyterLab leaves out nbgrader's instructor tools; instructors keep them.

The hub puts `deploy/jupyter/common` and the user's role folder on the server's JUPYTER_CONFIG_PATH
(deploy/jupyter/README.md). Here JupyterLab's own page-config code (jupyterlab_server, what the /lab page
hands the browser) reads that path for each role, and the plugin names are checked against the nbgrader
lab extension actually installed, so a renamed plugin cannot leave a tool showing unnoticed. The pilot hub
test (tests/test_hub_pilot.py) checks the same through a running hub, and the formgrader's 404 for learners.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "jupyter"
# The instructor's tools: the Formgrader panel, the Create Assignment toolbar, the course list.
INSTRUCTOR_TOOLS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                    "@jupyter/nbgrader:course-list"}
# What a learner needs: the assignment list (fetch, submit), Validate, and the menu that opens the list.
LEARNER_TOOLS = {"@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:validate-assignment",
                 "@jupyter/nbgrader:menu"}

PAGE_CONFIG = """
import json
from jupyter_core.paths import jupyter_path
from jupyterlab_server.config import get_page_config
disabled = get_page_config(jupyter_path("labextensions"))["disabledExtensions"]
if isinstance(disabled, dict):  # a mapping {name: true} inside, a list by the time it reaches the page
    disabled = [k for k, v in disabled.items() if v]
print(json.dumps(sorted(disabled)))
"""


def disabled_for(role: str) -> set[str]:
    """The plugins JupyterLab disables for a server with this role's config path (as the hub sets it)."""
    env = {**os.environ, "JUPYTER_CONFIG_PATH": os.pathsep.join([str(CONFIG / "common"), str(CONFIG / role)])}
    env.pop("JUPYTER_CONFIG_DIR", None)
    proc = subprocess.run([sys.executable, "-c", PAGE_CONFIG], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout))


def installed_nbgrader_plugins() -> set[str]:
    from jupyter_core.paths import jupyter_path

    found = set()
    for base in jupyter_path("labextensions"):
        for js in Path(base, "@jupyter", "nbgrader", "static").glob("*.js"):
            found |= set(re.findall(r'"(@jupyter/nbgrader:[a-z-]+)"', js.read_text(errors="replace")))
    if not found:
        pytest.fail("nbgrader's JupyterLab extension is not installed in this environment (pip install nbgrader)")
    return found


def test_the_tools_named_are_the_installed_extensions_plugins():
    assert INSTRUCTOR_TOOLS | LEARNER_TOOLS <= installed_nbgrader_plugins()


def test_learners_lab_leaves_out_exactly_the_instructors_tools():
    nbgrader = {p for p in disabled_for("learner") if p.startswith("@jupyter/nbgrader:")}
    assert nbgrader == INSTRUCTOR_TOOLS  # and keeps the assignment list and Validate


def test_instructors_lab_keeps_every_nbgrader_tool():
    assert not {p for p in disabled_for("instructor") if p.startswith("@jupyter/nbgrader:")}
