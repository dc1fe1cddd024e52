"""The programs the kit starts, found from the running interpreter's environment.

`adoptkit` is usually run as `.venv/bin/adoptkit` without activating the venv, so the venv's `bin/` is
not on PATH: a bare `jupyter-book` would not be found, or worse, another installation's would. Each
tool is looked up beside this interpreter first, then on PATH; a missing one is an error that says
what to install.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

# What to install when a tool is missing, in words a course admin can paste.
INSTALL = {
    "jupyter-book": "pip install -e .   (from the course folder, into the environment that runs adoptkit)",
    "nbgrader": "pip install -e .   (from the course folder, into the environment that runs adoptkit)",
    "jupyterhub": "pip install -e '.[hub]'   (from the course folder)",
    "jupyterhub-singleuser": "pip install -e '.[hub]'   (from the course folder)",
    "configurable-http-proxy": "adoptkit hub install-proxy   (runs npm install --prefix .cache/chp "
                               "configurable-http-proxy@5.3.0; needs Node.js and npm)",
    "npm": "Node.js with npm (Debian: apt-get install nodejs npm)",
}


class ToolMissing(RuntimeError):
    """A program the kit needs is not installed; the message says what to install."""


def bin_dir() -> Path:
    """The folder of this interpreter's console scripts (a venv's bin/, not resolved through symlinks)."""
    return Path(sys.executable).parent


def find(name: str, also: os.PathLike | str | None = None) -> str:
    """The path of tool `name`: at `also` if given and present, beside the interpreter, then on PATH."""
    candidates = [Path(also)] if also else []
    candidates.append(bin_dir() / name)
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which(name)
    if found:
        return found
    where = f" (looked at {candidates[0]}, in {bin_dir()} and on PATH)"
    raise ToolMissing(f"`{name}` is not installed{where}. Install it: {INSTALL.get(name, name)}")
