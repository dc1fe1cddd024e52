"""`adoptkit package scorm|lti` and `adoptkit lti keygen|passback`: the course in the organisation's LMS."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .. import settings as settings_mod


def _fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


def _settings():
    try:
        return settings_mod.current()
    except settings_mod.SettingsError as err:
        _fail(str(err))


def register(main: click.Group) -> None:
    @main.group()
    def package() -> None:
        """Put the role paths into the organisation's learning platform (book/deploy.md)."""

    @package.command("scorm")
    @click.argument("paths", nargs=-1)
    @click.option("--version", "version", type=click.Choice(["1.2", "2004"]), default="2004", show_default=True,
                  help="SCORM edition (2004 is the 4th edition)")
    @click.option("--site", type=click.Path(file_okay=False), default=None,
                  help="the built book site (default: _build/html; `adoptkit build` makes it)")
    @click.option("--out", type=click.Path(file_okay=False), default=None, help="where to write (default: lms.out)")
    @click.option("--hub-url", default=None, help="the hub's public address (default: lms.hub_url)")
    @click.option("--book-url", default=None, help="the published book, for links outside the path (default: lms.book_url)")
    @click.option("--score", "score", type=click.Choice(["hub", "quiz"]), default=None,
                  help="score from the learner's graded work in the hub, or from the path's quiz "
                       "(default: hub when a hub address is known, else quiz)")
    def scorm(paths, version, site, out, hub_url, book_url, score) -> None:
        """One SCORM zip per role path (PATHS, default: every path), launching into the hub."""
        from .paths import PathError, role_paths
        from .scorm import PackageError, build

        s = _settings()
        try:
            known = role_paths(s.root)
        except PathError as err:
            _fail(str(err))
        unknown = [p for p in paths if p not in known]
        if unknown:
            _fail(f"no role path {', '.join(unknown)} in _toc.yml; the paths are: {', '.join(known)}")
        site_dir = Path(site) if site else s.root / "_build" / "html"
        out_dir = Path(out) if out else s.path(s.lms.out)
        hub_url = hub_url or s.lms.hub_url
        for name in paths or known:
            try:
                zip_path = build(known[name], site_dir, out_dir, version, hub_url, score, book_url or s.lms.book_url,
                                 s.lms.mastery)
            except PackageError as err:
                _fail(f"{name}: {err}")
            source = score or ("hub" if hub_url else "quiz")
            click.echo(f"{zip_path}  (SCORM {version}; score: "
                       f"{'graded work in the hub at ' + hub_url if source == 'hub' else 'the path quiz'})")
        if (score or ("hub" if hub_url else "quiz")) == "hub" and not s.lms.scorm_origins:
            click.secho("note: the hub sends scores only to the LMS origins in lms.scorm_origins; set it before "
                        "learners fetch their scores.", fg="yellow", err=True)

    @package.command("lti")
    @click.option("--hub-url", default=None, help="the hub's public address (default: lms.hub_url)")
    @click.option("--json", "as_json", is_flag=True, help="print JSON")
    def package_lti(hub_url, as_json) -> None:
        """What to enter in the LMS's registration of the tool, and one link per assignment."""
        from ..build import assignments

        s = _settings()
        hub_url = (hub_url or s.lms.hub_url or "").rstrip("/")
        if not hub_url:
            _fail("the hub's public address is needed: --hub-url https://learn.example.com (or lms.hub_url)")
        values = {
            "target link URI (tool URL)": f"{hub_url}/hub",
            "initiate_login_url (OIDC login)": f"{hub_url}/hub/lti13/oauth_login",
            "redirect_uris": [f"{hub_url}/hub/lti13/oauth_callback"],
            "public_keyset_url (JWKS)": f"{hub_url}/services/lms/jwks.json",
            "custom parameters": "username=$User.username (hub.lti.username_claim: custom_username)",
            "services": "IMS LTI Assignment and Grade Services: use this service for grade sync",
            "links": {a: {"custom": f"assignment={a}"} for a in assignments(s.root)},
        }
        if as_json:
            click.echo(json.dumps(values, indent=2))
            return
        for key, value in values.items():
            if key == "links":
                click.echo("links (one per assignment; custom parameter):")
                for a, v in value.items():
                    click.echo(f"  {a:32} {v['custom']}")
            else:
                click.echo(f"{key}: {value}")

    @main.group()
    def lti() -> None:
        """LTI 1.3: the tool's key, and grades back to the LMS (book/deploy.md)."""

    @lti.command("keygen")
    def lti_keygen() -> None:
        """Make the tool's private key (hub.lti.private_key) and print its public JWK for the platform."""
        from .lti import LTIError, key_path, keygen

        s = _settings()
        try:
            jwk = keygen(key_path(s))
        except LTIError as err:
            _fail(str(err))
        click.echo(f"wrote {key_path(s)} (mode 600; never commit it). Its public key, for the platform "
                   "(or let it read /services/lms/jwks.json from the hub):")
        click.echo(json.dumps(jwk, indent=2))

    @lti.command("passback")
    @click.argument("assignment")
    @click.option("--grades", type=click.Path(dir_okay=False), default=None,
                  help="the grades CSV (default: the one `adoptkit grade ASSIGNMENT` wrote)")
    def lti_passback(assignment, grades) -> None:
        """Send each learner's ASSIGNMENT score to the LMS (LTI Assignment and Grade Services)."""
        from .lti import LTIError, passback

        s = _settings()
        path = Path(grades) if grades else _grades_csv(s, assignment)
        try:
            report = passback(s, assignment, path)
        except LTIError as err:
            _fail(str(err))
        for line in report.sent:
            click.echo(f"sent     {line}")
        for line in report.skipped:
            click.echo(f"skipped  {line}")
        click.echo(f"{len(report.sent)} score(s) sent, {len(report.skipped)} skipped")


def _grades_csv(s, assignment: str) -> Path:
    """Where `adoptkit grade` wrote the grades CSV, from the course's nbgrader config."""
    from nbgrader.coursedir import CourseDirectory

    from ..grading.config import Hardening
    from ..grading.kernel import reports_root
    from ..hub.pilot import nbgrader_config

    conf = nbgrader_config(s.path(s.hub.nbgrader_config), s.path(s.hub.course_dir))
    return Path(reports_root(CourseDirectory(config=conf), Hardening(config=conf))) / f"{assignment}-grades.csv"
