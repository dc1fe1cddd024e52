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

# Run apart from the tests' interpreter, so no Jupyter path it has already read or cached leaks in.
PAGE_CONFIG = """
import json, os, sys
from jupyter_core.paths import jupyter_path
from jupyterlab_server.config import get_page_config
out = {}
for role, path in json.loads(sys.argv[1]).items():
    os.environ["JUPYTER_CONFIG_PATH"] = path  # read again by every call
    disabled = get_page_config(jupyter_path("labextensions"))["disabledExtensions"]
    if isinstance(disabled, dict):  # a mapping {name: true} inside, a list by the time it reaches the page
        disabled = [k for k, v in disabled.items() if v]
    out[role] = sorted(disabled)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def disabled() -> dict[str, set[str]]:
    """Per role, the plugins JupyterLab disables for a server with that role's config path (as the hub sets it)."""
    paths = {role: os.pathsep.join([str(CONFIG / "common"), str(CONFIG / role)]) for role in ("learner", "instructor")}
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_CONFIG_DIR", "JUPYTER_CONFIG_PATH")}
    proc = subprocess.run([sys.executable, "-c", PAGE_CONFIG, json.dumps(paths)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {role: set(names) for role, names in json.loads(proc.stdout).items()}


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


def test_learners_lab_leaves_out_exactly_the_instructors_tools(disabled):
    nbgrader = {p for p in disabled["learner"] if p.startswith("@jupyter/nbgrader:")}
    assert nbgrader == INSTRUCTOR_TOOLS  # and keeps the assignment list and Validate


def test_instructors_lab_keeps_every_nbgrader_tool(disabled):
    assert not {p for p in disabled["instructor"] if p.startswith("@jupyter/nbgrader:")}
