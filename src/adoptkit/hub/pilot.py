"""The pilot hub on one machine: render `deploy/pilot/jupyterhub_config.py` from `_config.yml`, check
what it needs, and run it.

The rendered file is plain JupyterHub configuration with the settings written in as literals, so an
administrator can read exactly what runs; paths inside the course folder are written relative to the
file, so a rendering of the defaults can be committed and works from any clone.
"""

from __future__ import annotations

import os
import pprint
import shutil
import socket
import subprocess
import sys
import textwrap
from importlib.resources import files
from pathlib import Path
from string import Template

from .. import settings as settings_mod
from .. import tools
from ..settings import Settings
from . import wiring

DEFAULT_OUT = "deploy/pilot/jupyterhub_config.py"
CHP_VERSION = "5.3.0"
CHP_PREFIX = ".cache/chp"  # the default hub.proxy_command lives under it
CHP_INSTALL = f"npm install --prefix {CHP_PREFIX} configurable-http-proxy@{CHP_VERSION}"
ROLES = ("common", "learner", "instructor")
# LocalProcessSpawner's own env_keep (JupyterHub 6.1.1); setting the list replaces it, so repeat it.
_SPAWNER_ENV_KEEP = ["CONDA_DEFAULT_ENV", "CONDA_ROOT", "JUPYTERHUB_SINGLEUSER_APP", "LANG", "LC_ALL",
                     "LD_LIBRARY_PATH", "PATH", "PYTHONPATH", "VIRTUAL_ENV"]


class HubError(RuntimeError):
    """The hub cannot start as configured; the message says what to fix."""


def out_path(settings: Settings, out: str | os.PathLike | None = None) -> Path:
    return Path(os.path.abspath(out)) if out else _lexical(settings, DEFAULT_OUT)


def _lexical(settings: Settings, value: str | os.PathLike) -> Path:
    """A setting's path made absolute without following links, so that the rendering is the same
    whether or not what it names exists yet (a link such as node_modules/.bin stays a link)."""
    return Path(os.path.normpath(os.path.join(os.path.abspath(settings.root), os.fspath(value))))


def _path_expr(settings: Settings, value: str | os.PathLike) -> str:
    """A setting's path as Python source: under ROOT when it lies in the course folder, else absolute."""
    p, root = _lexical(settings, value), Path(os.path.abspath(settings.root))
    try:
        rel = p.relative_to(root).as_posix()
        return "ROOT" if rel == "." else f"ROOT / {rel!r}"
    except ValueError:
        return f"Path({str(p)!r})"


def _command_expr(settings: Settings, value: str) -> str:
    """A command given as a path (resolved like other paths) or as a name found on PATH."""
    return f"str({_path_expr(settings, value)})" if ("/" in value or os.sep in value) else repr(value)


def _set_literal(names) -> str:
    return "{" + ", ".join(map(repr, sorted(names))) + "}" if names else "set()"


def _groups(settings: Settings) -> dict[str, dict[str, list[str]]]:
    hub = settings.hub
    in_cohorts = {u for members in hub.cohorts.values() for u in members}
    groups = {"instructors": {"users": sorted(hub.instructors)},
              "learners": {"users": sorted(set(hub.learners) | in_cohorts)}}
    groups.update({wiring.cohort_group(settings, name): {"users": sorted(members)}
                   for name, members in hub.cohorts.items()})
    return groups


def render(settings: Settings, out: Path, source: Path | None = None) -> str:
    hub = settings.hub
    out = Path(os.path.abspath(out))
    config = _lexical(settings, source or settings_mod.CONFIG_NAME)
    groups = _groups(settings)
    args = ["--allow-root"]  # the pilot hub often runs as root; a Jupyter server refuses root without it
    if hub.idle_timeout:
        args += [f"--ServerApp.shutdown_no_activity_timeout={hub.idle_timeout}",
                 f"--MappingKernelManager.cull_idle_timeout={hub.idle_timeout}"]
    values = {
        "source": os.path.relpath(config, out.parent),
        "config": _path_expr(settings, str(config)),
        "root": repr(Path(os.path.relpath(os.path.abspath(settings.root), out.parent)).as_posix()),
        "data_dir": _path_expr(settings, hub.data_dir),
        "exchange_dir": _path_expr(settings, hub.exchange_dir),
        "data_cache": _path_expr(settings, settings.data.cache),
        "course_dir": _path_expr(settings, hub.course_dir),
        "nbgrader_config": _path_expr(settings, hub.nbgrader_config),
        "jupyter_config": _path_expr(settings, hub.jupyter_config),
        "extra_config": _path_expr(settings, hub.extra_config) if hub.extra_config else "None",
        "proxy_command": _command_expr(settings, hub.proxy_command),
        "ip": hub.ip, "port": hub.port, "hub_port": hub.hub_port, "proxy_api_port": hub.proxy_api_port,
        "authenticator": repr("generic-oauth" if hub.oidc else LTI_AUTHENTICATOR if hub.lti else hub.authenticator),
        "oidc": _oidc_block(settings),
        "lti": _lti_block(settings),
        "lms_service": _lms_service_block(settings),
        "admins": _set_literal(hub.admins),
        "allowed": _set_literal(set(groups["instructors"]["users"]) | set(groups["learners"]["users"])),
        "load_groups": ("# Groups come from the identity provider or the LMS at each login (manage_groups, above)."
                        if hub.oidc or hub.lti
                        else f"c.JupyterHub.load_groups = {pprint.pformat(groups, width=100, sort_dicts=False)}"),
        "server_args": repr(args),
        "env_keep": repr(_SPAWNER_ENV_KEEP + [k for k in wiring.SERVER_ENV_KEEP if k not in _SPAWNER_ENV_KEEP]),
        "learner_environment": "\n".join(f"    {k!r}: {v!r}," for k, v in wiring.learner_environment(settings).items()),
        "service": repr(wiring.GATEWAY_SERVICE), "service_name": wiring.GATEWAY_SERVICE,
        "gateway_url": repr(wiring.gateway_url(settings)),
        "gateway_args": repr(wiring.gateway_args(settings)),
        "gateway_env_keep": repr(wiring.gateway_env_keep(settings)),
        "server_token_scopes": repr(wiring.SERVER_TOKEN_SCOPES),
    }
    template = files("adoptkit.hub").joinpath("jupyterhub_config.tmpl").read_text(encoding="utf-8")
    return Template(template).substitute(values)


def _oidc_block(settings: Settings) -> str:
    """Single sign-on: the provider's settings as literals; its endpoints are read when the hub starts."""
    oidc = settings.hub.oidc
    if oidc is None:
        return ""
    from .sso import callback_url

    fields = pprint.pformat(oidc.model_dump(), width=100, sort_dicts=False)
    return (f"if c.JupyterHub.authenticator_class == \"generic-oauth\":  # OpenID Connect (adoptkit.hub.sso)\n"
            f"    from adoptkit.hub.sso import generic_oauth\n"
            f"    from adoptkit.settings import OidcSettings\n\n"
            f"    OIDC = OidcSettings(**{textwrap.indent(fields, '    ').lstrip()})\n"
            f"    for key, value in generic_oauth(OIDC, {callback_url(settings)!r}, "
            f"{settings.gateway.hub.cohort_group_prefix!r}).items():\n"
            f"        setattr(c.GenericOAuthenticator, key, value)\n")


LTI_AUTHENTICATOR = "adoptkit.lms.lti.CourseLTI13Authenticator"
LAUNCH_DB = "lti-launches.db"  # in the hub's data folder: who launched what from the LMS (adoptkit.lms.lti)


def _lti_block(settings: Settings) -> str:
    """LTI 1.3 launches from the organisation's LMS (adoptkit.lms.lti), the platform's values as literals."""
    if settings.hub.lti is None:
        return ""
    from ..lms.lti import authenticator_config

    fields = {**authenticator_config(settings), "launch_db": "@LAUNCH_DB@", "course_config": "@COURSE_CONFIG@"}
    body = (pprint.pformat(fields, width=100, sort_dicts=False).replace("'@COURSE_CONFIG@'", "str(COURSE_CONFIG)")
            .replace("'@LAUNCH_DB@'", f"str(DATA / {LAUNCH_DB!r})"))
    return (f"if c.JupyterHub.authenticator_class == {LTI_AUTHENTICATOR!r}:  # LTI 1.3 (adoptkit.lms.lti)\n"
            f"    for key, value in {textwrap.indent(body, '    ').lstrip()}.items():\n"
            f"        setattr(c.CourseLTI13Authenticator, key, value)\n")


def _lms_service_block(settings: Settings) -> str:
    """The `lms` service (adoptkit.lms.service): the tool's keyset for LTI, learners' scores for SCORM."""
    if settings.hub.lti is None and not settings.lms.scorm_origins:
        return ""
    port = settings.lms.service_port
    return textwrap.dedent(f"""
        # The learning platform's service (adoptkit.lms.service): the LTI tool's public keyset, and a
        # learner's own graded score for a SCORM package (sent only to the origins in lms.scorm_origins).
        c.JupyterHub.services.append({{
            "name": "lms",
            "url": "http://127.0.0.1:{port}",
            "command": [sys.executable, "-m", "adoptkit.lms.service", "127.0.0.1", "{port}"],
            "cwd": str(ROOT),
            "environment": {{**({{"ADOPTKIT_CONFIG": str(CONFIG)}} if CONFIG.is_file() else {{}}),
                            **{{k: os.environ[k] for k in ("ADOPTKIT_LTI_KEY",) if k in os.environ}}}},
            "display": False,
            "oauth_no_confirm": True,
        }})
        c.JupyterHub.load_roles[0]["scopes"].append("access:services!service=lms")
        """)


def nbgrader_config(config_file: str | os.PathLike, course_root: str | os.PathLike | None = None):
    """The course's nbgrader config (a traitlets Config), loaded as instructors' servers load it."""
    from traitlets.config import PyFileConfigLoader

    config_file = Path(config_file)
    saved = os.environ.get("ADOPTKIT_COURSE_ROOT")
    os.environ["ADOPTKIT_COURSE_ROOT"] = str(course_root or config_file.parent.parent)
    try:
        return PyFileConfigLoader(config_file.name, str(config_file.parent)).load_config()
    finally:
        if saved is None:
            os.environ.pop("ADOPTKIT_COURSE_ROOT")
        else:
            os.environ["ADOPTKIT_COURSE_ROOT"] = saved


def course_directory_config(config_file: str | os.PathLike, course_root: str | os.PathLike | None = None) -> dict:
    """The `CourseDirectory` section of the course's nbgrader config."""
    return dict(nbgrader_config(config_file, course_root).CourseDirectory)


def write(settings: Settings, out: Path, source: Path | None = None) -> bool:
    """Write the rendered config; True when the file changed."""
    text = render(settings, out, source)
    if out.is_file() and out.read_text(encoding="utf-8") == text:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return True


def install_proxy(root: Path) -> Path:
    """Install JupyterHub's proxy (configurable-http-proxy, from the npm registry) under the course folder,
    where the default `hub.proxy_command` points; a no-op when it is there. Returns the command's path."""
    exe = Path(root) / CHP_PREFIX / "node_modules" / ".bin" / "configurable-http-proxy"
    if exe.is_file():
        return exe
    npm = tools.find("npm")
    proc = subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix",
                           str(Path(root) / CHP_PREFIX), f"configurable-http-proxy@{CHP_VERSION}"],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not exe.is_file():
        raise HubError(f"`{CHP_INSTALL}` failed (exit {proc.returncode}); npm said:\n"
                       f"{(proc.stderr or proc.stdout).strip()[-2000:]}\nIt needs the npm registry: run it where "
                       "the registry is reachable, or point hub.proxy_command at an installed proxy.")
    return exe


def _port_free(host: str, port: int) -> bool:
    """Whether a server could listen on the port now. Like the hub, the proxy and the gateway, the probe
    sets SO_REUSEADDR: without it, the connections a stopped hub leaves in TIME_WAIT (about a minute
    on Linux) would count as "in use", and a restart right after a stop would be refused."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def preflight(settings: Settings) -> list[str]:
    """Everything the hub would trip over, as messages that say what to do (empty: ready)."""
    hub, problems = settings.hub, []
    chp = hub.proxy_command
    if ("/" in chp and not settings.path(chp).is_file()) or ("/" not in chp and not shutil.which(chp)):
        problems.append(f"configurable-http-proxy not found at {chp!r} (hub.proxy_command). Install it from "
                        f"the course folder with `adoptkit hub install-proxy` (that is `{CHP_INSTALL}`), or "
                        "point hub.proxy_command at yours.")
    if hub.lti:
        from ..lms import lti

        if not lti.key_path(settings).is_file():
            problems.append(f"LTI grade passback needs the tool's private key at {lti.key_path(settings)}: make it "
                            "with `adoptkit lti keygen` and give the platform its public key (book/deploy.md).")
    if hub.oidc and not os.environ.get("OAUTH_CLIENT_SECRET"):
        problems.append("single sign-on needs the client secret the identity provider gave for this hub: set "
                        "OAUTH_CLIENT_SECRET in the hub's environment (never in _config.yml).")
    if hub.authenticator == "shared-password" and not (
            os.environ.get("ADOPTKIT_HUB_PASSWORD") or os.environ.get("ADOPTKIT_HUB_ADMIN_PASSWORD")):
        problems.append("nobody could log in: set ADOPTKIT_HUB_PASSWORD (8+ characters, for learners and "
                        "instructors) and, for the admins in hub.admins, ADOPTKIT_HUB_ADMIN_PASSWORD (32+ "
                        "characters), or set hub.authenticator to your organisation's single sign-on.")
    for key in ("course_dir", "nbgrader_config", "jupyter_config", "extra_config"):
        value = getattr(hub, key)
        if value and not settings.path(value).exists():
            problems.append(f"hub.{key} = {value!r}: {settings.path(value)} does not exist.")
    jc = settings.path(hub.jupyter_config)
    if jc.is_dir() and (missing := [r for r in ROLES if not (jc / r).is_dir()]):
        problems.append(f"hub.jupyter_config = {hub.jupyter_config!r} lacks {missing}: point it at the kit's "
                        "deploy/jupyter folder.")
    if os.geteuid() == 0:
        problems += _learner_accounts_ready()
    for what, host, port in (("hub.port", hub.ip, hub.port), ("hub.hub_port", "127.0.0.1", hub.hub_port),
                             ("hub.proxy_api_port", "127.0.0.1", hub.proxy_api_port),
                             ("sandbox.port (the gateway)", settings.sandbox.host, settings.sandbox.port),
                             *((("lms.service_port", "127.0.0.1", settings.lms.service_port),)
                               if _lms_service_block(settings) else ())):
        if not _port_free(host, port):
            problems.append(f"{what}: {host}:{port} is in use (another hub or sandbox running?). Stop it, "
                            "or choose another port in _config.yml.")
    return problems


def _learner_accounts_ready() -> list[str]:
    """Run as root, the hub makes each learner an account: it needs useradd."""
    if shutil.which("useradd") or Path("/usr/sbin/useradd").exists():
        return []
    return ["useradd is missing (Debian: apt-get install passwd): run as root, the hub makes each learner "
            "an account of their own with it."]


def learner_private_paths(settings: Settings) -> list[Path]:
    """What learners must not read, though it lies in the course folder they reach: the exercises'
    sources (solutions and hidden tests), nbgrader's working folders (everyone's submissions, grades and
    feedback) and SQLite databases (the gradebook, the gateway's keys and usage log)."""
    course = settings.path(settings.hub.course_dir)
    cd = course_directory_config(settings.path(settings.hub.nbgrader_config), course)
    root = Path(cd.get("root", course))
    tops = set()
    for key in ("source_directory", "submitted_directory", "autograded_directory", "feedback_directory",
                "solution_directory", "source_with_tests_directory"):
        if key in cd and not os.path.isabs(cd[key]):
            tops.add(root / Path(cd[key]).parts[0])
    paths = sorted(p for p in tops if p != root)
    for url in (cd.get("db_url", ""), settings.gateway.db_url):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            db = Path(url.removeprefix("sqlite:///"))
            paths.append(db if db.is_absolute() else settings.root / db)
    return paths


def protect(settings: Settings) -> list[str]:
    """Close `learner_private_paths` to other accounts (databases are made if missing, so they are
    never created readable); returns what changed."""
    changed = []
    for path in learner_private_paths(settings):
        if path.suffix in (".db", ".sqlite"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
        if not path.exists():
            continue
        mode = os.stat(path).st_mode & 0o7777
        if mode & 0o007:
            os.chmod(path, mode & ~0o007)
            changed.append(f"{path}: closed to learners' accounts ({oct(mode)} -> {oct(mode & ~0o007)})")
    return changed


def start(settings: Settings, out: Path, source: Path | None = None) -> None:
    """Render, check, then become JupyterHub (same pid: Ctrl-C or SIGTERM stops the hub and all it started)."""
    if problems := preflight(settings):
        raise HubError("The hub cannot start:\n" + "\n".join(f"  - {p}" for p in problems))
    write(settings, out, source)
    if os.geteuid() == 0:  # learners get their own accounts: the course's private parts must be private
        for line in protect(settings):
            print(f"[adoptkit hub] {line}")
    data = settings.path(settings.hub.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    os.chdir(data)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "jupyterhub", "-f", str(out)])
