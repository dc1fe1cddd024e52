"""The authoring commands (`adoptkit new`, `check`, `slides`, `facilitator`, `mentor`), registered by cli.py."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import settings as settings_mod
from .names import AuthoringError


def _fail(message: str, code: int = 1) -> None:
    click.secho(str(message), fg="red", err=True)
    sys.exit(code)


def course_root() -> Path:
    """The course folder: where the `_config.yml` with an `adoptkit:` section is (ADOPTKIT_CONFIG wins)."""
    config = settings_mod.find_config()
    if config is None or not Path(config).is_file():
        _fail("no course here: run the command inside the course's folder (the one with _config.yml and _toc.yml), "
              "or set ADOPTKIT_CONFIG to its _config.yml", 2)
    return Path(config).resolve().parent


# --- new --------------------------------------------------------------------------------------------------

@click.group("new")
def new() -> None:
    """Scaffold a path, a chapter or an exercise that follows the house conventions (and add it to _toc.yml)."""


def _do(make) -> None:
    from . import scaffold

    root = course_root()
    try:
        plan = make(root)
        scaffold.apply(root, plan)
    except AuthoringError as err:
        _fail(err)
    for line in scaffold.describe(root, plan):
        click.echo(line)


dataset_option = click.option("--dataset", default=None,
                              help="the catalog dataset the page starts from (default: the first made for this role)")
title_option = click.option("--title", default=None, help="the page's title (default: from the name)")


@new.command("path")
@click.argument("name")
@title_option
@dataset_option
def new_path(name: str, title: str | None, dataset: str | None) -> None:
    """A role path NAME: book/roles/NAME/index.md, its quiz and its teach-back, under "Role paths"."""
    from . import scaffold

    _do(lambda root: scaffold.plan_path(root, name, title, dataset))


@new.command("chapter")
@click.argument("path")
@click.argument("name")
@title_option
@dataset_option
def new_chapter(path: str, name: str, title: str | None, dataset: str | None) -> None:
    """A chapter NAME of PATH: book/roles/PATH/NAME.md, listed on the path's page and in _toc.yml."""
    from . import scaffold

    _do(lambda root: scaffold.plan_chapter(root, path, name, title, dataset))


@new.command("exercise")
@click.argument("name")
@click.option("--path", "path", required=True, help="the role path the exercise belongs to")
@click.option("--no-code", is_flag=True, help="the widget kind: prompts, checks and decisions (content/NAME.yml)")
@title_option
@dataset_option
def new_exercise(name: str, path: str, no_code: bool, title: str | None, dataset: str | None) -> None:
    """A graded exercise PATH-NAME: an nbgrader source with hidden tests and declared wrong answers."""
    from . import scaffold

    _do(lambda root: scaffold.plan_exercise(root, name, path, no_code, title, dataset))


# --- check ------------------------------------------------------------------------------------------------

@click.command("check")
@click.option("--allow", "allow", type=click.Path(dir_okay=False), default=None,
              help="the allow-list of justified exceptions (default: check-allow.yml at the course root)")
@click.option("--run", "run", is_flag=True,
              help="also run every declared wrong answer and check its test fails (slower: a kernel per answer)")
@click.option("--rules", "list_rules", is_flag=True, help="list the rules and what each finds, then stop")
def check_cmd(allow: str | None, run: bool, list_rules: bool) -> None:
    """Lint the course as an author would: every finding as FILE:LINE: RULE: MESSAGE; exit 1 if any."""
    from collections import Counter

    from .check import RULES, check

    if list_rules:
        for rule, what in RULES.items():
            click.echo(f"{rule:15} {what}")
        return
    root = course_root()
    try:
        found = check(root, Path(allow) if allow else None, run=run,
                      echo=(lambda line: click.echo(f"... {line}", err=True)) if run else None)
    except AuthoringError as err:
        _fail(err, 2)
    for f in found:
        click.echo(str(f))
    counts = Counter(f.rule for f in found)
    click.echo(f"{len(found)} finding(s)" + (": " + ", ".join(f"{r} {n}" for r, n in sorted(counts.items()))
                                             if counts else ": the course passes the authoring lint"), err=True)
    sys.exit(1 if found else 0)


# --- slides ------------------------------------------------------------------------------------------------

@click.command("slides")
@click.argument("path")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="default _build/slides/PATH")
@click.option("--serve", is_flag=True, help="then serve the decks on 127.0.0.1 until Ctrl-C")
@click.option("--port", type=int, default=0, show_default=True, help="with --serve (0: a free port)")
def slides_cmd(path: str, out: str | None, serve: bool, port: int) -> None:
    """Reveal.js decks for PATH's chapters and its facilitator guide, for a live session (offline, no code)."""
    from ..measure.cohort import gradebook_url
    from . import slides

    root = course_root()
    try:
        s = settings_mod.load(root / "_config.yml")
        index, warnings = slides.build(root, path, Path(out) if out else None, db_url=gradebook_url(s),
                                       min_group=s.measure.min_group_size,
                                       echo=lambda line: click.echo(f"... {line}", err=True))
    except (AuthoringError, settings_mod.SettingsError) as err:
        _fail(err)
    for w in warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)
    click.echo(f"wrote {index.parent} ({len(list(index.parent.glob('*.slides.html')))} deck(s)); open {index}")
    if serve:
        _serve(index.parent, port)


def _serve(folder: Path, port: int) -> None:
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    with ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        click.echo(f"serving http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            click.echo("stopped")


# --- mentor -------------------------------------------------------------------------------------------------

@click.group("mentor")
def mentor() -> None:
    """A mentor's view of their mentees (who mentors whom: adoptkit.engage.mentors in _config.yml)."""


@mentor.command("view")
@click.argument("mentor_id", metavar="MENTOR")
@click.option("--learner", default=None, help="one of your mentees only")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), default=None, help="also write an HTML page")
def mentor_view(mentor_id: str, learner: str | None, html_out: str | None) -> None:
    """Per mentee: work completed, levels before and after, last sandbox use, teach-back, reviews owed, next step."""
    from ..adoption_cli import _errors
    from ..measure import cohort
    from . import mentor as mt

    def go():
        s = settings_mod.load(course_root() / "_config.yml")
        mt.mentees(s, mentor_id, learner)  # who may see what, before any record is read
        url = cohort.gradebook_url(s)
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
            raise mt.MentorError(f"nothing is graded yet (no gradebook at {url.removeprefix('sqlite:///')}): the "
                                 f"view fills in once your mentees' work is graded (adoptkit grade ASSIGNMENT)")
        return s, mt.view(cohort.load(s), s, mentor_id, learner)

    try:
        s, v = go()
    except (mt.MentorError, *_errors()) as err:
        _fail(err)
    click.echo(mt.text(v, s))
    if html_out:
        out = Path(html_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(mt.page(v, s), encoding="utf-8")
        click.echo(f"wrote {out}")


def register(main: click.Group) -> None:
    main.add_command(new)
    main.add_command(check_cmd)
    main.add_command(slides_cmd)
    main.add_command(mentor)
