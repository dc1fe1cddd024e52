"""The `adoptkit` command: one entry point for L&D leads, instructors and graders."""

from __future__ import annotations

import sys

import click

from . import settings as settings_mod


def _fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="adoptkit")
def main() -> None:
    """adoptkit: corporate AI training that sticks (book, graded exercises, sandbox, adoption)."""


@main.group()
def config() -> None:
    """Check the kit's settings in _config.yml."""


@config.command("check")
def config_check() -> None:
    """Validate the `adoptkit:` section and print the settings in force."""
    try:
        s = settings_mod.load()
    except settings_mod.SettingsError as err:
        _fail(str(err))
    click.echo(f"config: {settings_mod.find_config() or '(none found: defaults)'}")
    click.echo(s.model_dump_json(indent=2, exclude={"root"}))


@main.group()
def data() -> None:
    """The dataset catalog: list, fetch and verify real business data."""


@data.command("list")
def data_list() -> None:
    """Every dataset with its licence, roles and cache state."""
    from .data import DATASETS, verify

    for d in DATASETS.values():
        state = "package" if d.package_loader else ("cached" if not verify(d) else "not cached")
        click.echo(f"{d.name:18} {state:10} {'real' if d.real else 'synthetic':9} {d.licence}")
        click.echo(f"{'':18} roles: {', '.join(d.roles)}; {d.suits}")


@data.command("fetch")
@click.argument("names", nargs=-1)
def data_fetch(names: tuple[str, ...]) -> None:
    """Fetch (mirror or upstream) and verify NAMES, or every dataset."""
    from .data import DATASETS, DataError, fetch

    failed = 0
    for name in names or DATASETS:
        try:
            paths = fetch(name)
            click.echo(f"ok   {name} ({len(paths)} file(s))")
        except (DataError, KeyError) as err:
            failed += 1
            click.secho(f"FAIL {name}: {err}", fg="red", err=True)
    if failed:
        sys.exit(1)


@data.command("verify")
@click.argument("names", nargs=-1)
def data_verify(names: tuple[str, ...]) -> None:
    """Check the cached files against their pinned sha256 (fetches nothing)."""
    from .data import DATASETS, verify

    bad = 0
    for name in names or DATASETS:
        problems = verify(name)
        bad += bool(problems)
        click.echo(f"{'ok  ' if not problems else 'BAD '} {name}" + "".join(f"\n     {p}" for p in problems))
    if bad:
        sys.exit(1)


@main.group()
def sandbox() -> None:
    """The sandbox: an OpenAI-compatible endpoint for safe experimentation."""


@sandbox.command("serve")
@click.option("--host", default=None, help="interface to listen on (default from config: 127.0.0.1)")
@click.option("--port", type=int, default=None, help="port (default from config: 8765)")
def sandbox_serve(host: str | None, port: int | None) -> None:
    """Serve /v1/models and /v1/chat/completions until interrupted."""
    from .gateway import serve

    s = settings_mod.current()
    serve(host or s.sandbox.host, port if port is not None else s.sandbox.port)


@main.command()
@click.option("--skip-book", is_flag=True, help="only fetch data and release the exercises")
def build(skip_book: bool) -> None:
    """The main job: fetch and verify the data, build the book offline, release the exercises."""
    from .build import run

    try:
        run(skip_book=skip_book)
    except RuntimeError as err:
        _fail(str(err))


@main.command()
@click.argument("assignment")
@click.option("--course-config", type=click.Path(dir_okay=False), default=None,
              help="nbgrader config (default: autograders/nbgrader_config.py of the project)")
@click.option("-j", "--workers", type=click.IntRange(min=1), default=None, help="parallel workers (default: one per core)")
@click.option("--force", is_flag=True, help="regrade every learner, not only what is left")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT", help="grade on a Dask cluster")
@click.option("--no-feedback", is_flag=True, help="skip generating feedback")
def grade(assignment: str, course_config: str | None, workers: int | None, force: bool, scheduler: str | None,
          no_feedback: bool) -> None:
    """Autograde every learner's ASSIGNMENT with nbgrader, in parallel and hardened; then feedback and CSVs.

    Exits 0 when all is graded cleanly, 1 when something needs the grader's attention (flagged or failed
    notebooks), 2 when it cannot start, 130 when interrupted (rerun to continue).
    """
    from .grading.console import grade_command

    sys.exit(grade_command(assignment, course_config, workers, force, scheduler, not no_feedback))


if __name__ == "__main__":
    main()
