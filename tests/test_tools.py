"""The programs the kit starts are found from the running interpreter, never only from PATH."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from adoptkit import tools


def test_tools_are_found_beside_the_interpreter_without_path(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    for name in ("jupyter-book", "jupyterhub", "jupyterhub-singleuser", "adoptkit"):
        assert Path(tools.find(name)).parent == Path(sys.executable).parent


def test_a_missing_tool_says_what_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(tools.ToolMissing, match=r"`configurable-http-proxy` is not installed.*adoptkit hub install-proxy"):
        tools.find("configurable-http-proxy", also="/nonexistent/chp")

