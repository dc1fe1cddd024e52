"""The pilot hub's configuration without starting a hub: what `adoptkit hub config` renders, what
JupyterHub makes of it, the per-role hook, nbgrader's per-role configs, the checks before a start."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import types
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from traitlets.config import PyFileConfigLoader

from adoptkit import settings
from adoptkit.cli import main
from adoptkit.hub import pilot, wiring

REPO = Path(__file__).resolve().parents[1]
JUPYTER = REPO / "deploy" / "jupyter"
FIXTURE_CONFIG = REPO / "tests" / "fixtures" / "delivery" / "course" / "autograders" / "nbgrader_config.py"


def hub_settings(tmp_path: Path, **hub) -> settings.Settings:
    section = {"hub": {"data_dir": str(tmp_path / "hub"), "exchange_dir": str(tmp_path / "exchange"),
                       "jupyter_config": str(JUPYTER), **hub}}
    return settings.parse(section, root=tmp_path)


def load_rendered(s: settings.Settings, out: Path):
    pilot.write(s, out)
    return PyFileConfigLoader(out.name, str(out.parent)).load_config()


def fake_spawner(groups: list[str]):
    user = types.SimpleNamespace(name="ann", groups=[types.SimpleNamespace(name=g) for g in groups])
    return types.SimpleNamespace(user=user, environment={"KEEP": "me"}, notebook_dir="", lifecycle_hooks={})


def test_rendered_config_is_what_jupyterhub_loads(tmp_path):
    (tmp_path / "_config.yml").write_text("adoptkit: {}\n")
    s = hub_settings(tmp_path, port=9000, admins=["lead"], instructors=["ines"], learners=["lee"],
                     cohorts={"sales-2026": ["sam", "lee"]})
    c = load_rendered(s, tmp_path / "deploy" / "jupyterhub_config.py")
    assert c.JupyterHub.bind_url == "http://127.0.0.1:9000"
    assert c.Authenticator.admin_users == {"lead"}
    assert c.Authenticator.allowed_users == {"ines", "lee", "sam"}
    assert c.JupyterHub.load_groups == {"instructors": {"users": ["ines"]}, "learners": {"users": ["lee", "sam"]},
                                        "cohort-sales-2026": {"users": ["lee", "sam"]}}
    service = c.JupyterHub.services[0]
    assert service["name"] == wiring.GATEWAY_SERVICE and service["url"] == "http://127.0.0.1:8765"
    assert service["command"][1:] == wiring.gateway_args(s)
    assert c.Spawner.environment["ADOPTKIT_LLM_URL"] == "http://127.0.0.1:8765/v1"
    assert c.Spawner.environment["ADOPTKIT_CONFIG"] == service["environment"]["ADOPTKIT_CONFIG"] == str(
        tmp_path / "_config.yml")
    assert c.Spawner.server_token_scopes == wiring.SERVER_TOKEN_SCOPES
    assert {f"access:services!service={wiring.GATEWAY_SERVICE}", "read:users:groups!user"} <= set(
        c.Spawner.server_token_scopes)
    assert "--ServerApp.shutdown_no_activity_timeout=3600" in c.Spawner.args
    assert not any("KEY" in k for k in c.Spawner.environment), "no key is ever given to a learner's server"
    assert (tmp_path / "exchange").is_dir() and (tmp_path / "hub").is_dir()


def test_per_role_hook_gives_instructors_the_course_and_learners_their_home(tmp_path):
    s = hub_settings(tmp_path, course_dir="course")
    c = load_rendered(s, tmp_path / "jupyterhub_config.py")
    learner, teacher = fake_spawner(["learners", "sales-2026"]), fake_spawner(["instructors"])
    c.Spawner.pre_spawn_hook(learner)
    c.Spawner.pre_spawn_hook(teacher)
    assert learner.environment["ADOPTKIT_HUB_ROLE"] == "learner" and learner.notebook_dir == ""
    assert "ADOPTKIT_COURSE_CONFIG" not in learner.environment and learner.environment["KEEP"] == "me"
    assert teacher.environment["ADOPTKIT_HUB_ROLE"] == "instructor"
    assert teacher.notebook_dir == str(tmp_path / "course")
    assert teacher.environment["ADOPTKIT_COURSE_CONFIG"] == str(tmp_path / "autograders" / "nbgrader_config.py")
    for spawner in (learner, teacher):
        folders = spawner.environment["JUPYTER_CONFIG_PATH"].split(os.pathsep)
        assert [Path(f).name for f in folders] == ["common", spawner.environment["ADOPTKIT_HUB_ROLE"]]
        assert all(Path(f).is_dir() for f in folders)


def test_extra_config_runs_last_with_the_same_c(tmp_path):
    extra = tmp_path / "sso.py"
    extra.write_text("c.JupyterHub.authenticator_class = 'generic-oauth'\nc.JupyterHub.services.append({'name': 'x'})\n")
    c = load_rendered(hub_settings(tmp_path, extra_config=str(extra)), tmp_path / "jupyterhub_config.py")
    assert c.JupyterHub.authenticator_class == "generic-oauth"
    assert [s["name"] for s in c.JupyterHub.services] == [wiring.GATEWAY_SERVICE, "x"]


def test_committed_pilot_config_is_the_rendering_of_the_repository_settings():
    s = settings.load(REPO / "_config.yml") if (REPO / "_config.yml").is_file() else settings.parse(None, root=REPO)
    out = REPO / pilot.DEFAULT_OUT
    assert out.read_text() == pilot.render(s, out), "run `adoptkit hub config` and commit the result"


def test_preflight_names_each_missing_piece_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("ADOPTKIT_HUB_PASSWORD", raising=False)
    monkeypatch.delenv("ADOPTKIT_HUB_ADMIN_PASSWORD", raising=False)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        s = hub_settings(tmp_path, proxy_command="nowhere/chp", hub_port=port, jupyter_config=str(tmp_path))
        found = "\n".join(pilot.preflight(s))
    assert "npm install --prefix .cache/chp configurable-http-proxy@5.3.0" in found
    assert "ADOPTKIT_HUB_PASSWORD" in found
    assert "hub.nbgrader_config = 'autograders/nbgrader_config.py'" in found
    assert "lacks ['common', 'learner', 'instructor']" in found
    assert f"hub.hub_port: 127.0.0.1:{port} is in use" in found


@pytest.fixture
def fresh_settings():
    settings.current.cache_clear()
    yield
    settings.current.cache_clear()


def test_hub_start_refuses_with_the_reasons_and_starts_nothing(tmp_path, monkeypatch, fresh_settings):
    cfg = tmp_path / "_config.yml"
    cfg.write_text(yaml.safe_dump({"adoptkit": {"hub": {"proxy_command": "nowhere/chp"}}}))
    monkeypatch.setenv("ADOPTKIT_CONFIG", str(cfg))
    result = CliRunner().invoke(main, ["hub", "start"])
    assert result.exit_code == 1 and "The hub cannot start" in result.output and "npm install" in result.output
    assert not (tmp_path / "deploy" / "pilot" / "jupyterhub_config.py").exists()
    result = CliRunner().invoke(main, ["hub", "config"])
    assert result.exit_code == 0 and (tmp_path / "deploy" / "pilot" / "jupyterhub_config.py").is_file()
    assert "before `adoptkit hub start`" in result.output


def test_wrong_hub_settings_are_named(tmp_path):
    with pytest.raises(settings.SettingsError, match=r"adoptkit.hub.learners .*nbgrader refuses \+"):
        settings.parse({"hub": {"learners": ["ann+1"]}})
    with pytest.raises(settings.SettingsError, match="ports must differ"):
        settings.parse({"hub": {"port": 8001}})
    with pytest.raises(settings.SettingsError, match="cohort name 'Sales Team'"):
        settings.parse({"hub": {"cohorts": {"Sales Team": ["ann"]}}})


# -- nbgrader's per-role configs (deploy/jupyter/<role>/nbgrader_config.py) ----------------------------

def nbgrader_config(role: str, monkeypatch, **env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return PyFileConfigLoader("nbgrader_config.py", str(JUPYTER / role)).load_config()


def test_learner_is_named_by_the_hub_not_the_os_account(monkeypatch, tmp_path):
    c = nbgrader_config("learner", monkeypatch, ADOPTKIT_EXCHANGE_DIR=str(tmp_path), JUPYTERHUB_USER="lee")
    assert c.CourseDirectory.student_id == "lee" and c.Exchange.root == str(tmp_path)


def test_instructor_gets_the_course_config_and_the_exchange(monkeypatch, tmp_path):
    c = nbgrader_config("instructor", monkeypatch, ADOPTKIT_EXCHANGE_DIR=str(tmp_path / "x"),
                        ADOPTKIT_COURSE_CONFIG=str(FIXTURE_CONFIG), ADOPTKIT_COURSE_ROOT=str(tmp_path))
    assert c.CourseDirectory.root == str(tmp_path) and c.CourseDirectory.source_directory == "exercises"
    assert c.Exchange.root == str(tmp_path / "x") and c.CollectApp.check_owner is False  # one shared account
    c = nbgrader_config("instructor", monkeypatch, ADOPTKIT_LEARNER_ACCOUNTS="own")
    assert c.CollectApp.check_owner is True  # each learner has an account: the owner check means something


def test_instructor_config_refuses_a_missing_course_config(monkeypatch, tmp_path):
    with pytest.raises(FileNotFoundError, match="ADOPTKIT_COURSE_CONFIG"):
        nbgrader_config("instructor", monkeypatch, ADOPTKIT_EXCHANGE_DIR=str(tmp_path),
                        ADOPTKIT_COURSE_CONFIG=str(tmp_path / "missing.py"))


def test_rendering_does_not_depend_on_what_is_installed(tmp_path):
    """The proxy's path is written as configured, whether or not it is installed (or a link) yet."""
    (tmp_path / "_config.yml").write_text("adoptkit: {}\n")
    s = hub_settings(tmp_path)
    out = tmp_path / pilot.DEFAULT_OUT
    before = pilot.render(s, out)
    real = tmp_path / ".cache/chp/node_modules/configurable-http-proxy/bin/configurable-http-proxy"
    real.parent.mkdir(parents=True)
    real.write_text("#!/bin/sh\n")
    (tmp_path / ".cache/chp/node_modules/.bin").mkdir()
    (tmp_path / ".cache/chp/node_modules/.bin/configurable-http-proxy").symlink_to(real)
    assert pilot.render(s, out) == before
    assert "ROOT / '.cache/chp/node_modules/.bin/configurable-http-proxy'" in before
    assert str(tmp_path) not in before, "the committed rendering must hold no path of this machine"


# -- a restart right after a stop ---------------------------------------------------------------------

def test_the_port_probe_ignores_connections_left_in_time_wait():
    """A stopped hub leaves its port's connections in TIME_WAIT for about a minute; a server (which sets
    SO_REUSEADDR) could listen again at once, and so must the probe say."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the hub, the proxy and uvicorn do
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        assert not pilot._port_free("127.0.0.1", port)  # listening: in use
        accepted.close()  # the server's side closes first: the port's connection stays in TIME_WAIT
        client.recv(1)
        client.close()
    with socket.socket() as plain:  # the cause: a bind without SO_REUSEADDR is refused right now
        with pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))
    assert pilot._port_free("127.0.0.1", port)


# -- the course's tools on a terminal's login PATH -------------------------------------------------------

def test_a_login_shell_finds_the_course_tools(tmp_path):
    from adoptkit.hub import profile

    home, bin_dir = tmp_path / "home", tmp_path / "venv" / "bin"
    home.mkdir()
    bin_dir.mkdir(parents=True)
    (bin_dir / "adoptkit").write_text("#!/bin/sh\necho course-adoptkit\n")
    (bin_dir / "adoptkit").chmod(0o755)
    env = {"HOME": str(home), "ADOPTKIT_BIN": str(bin_dir), "PATH": f"{bin_dir}:/usr/bin:/bin"}

    def login(cmd: str) -> str:  # /etc/profile resets PATH in a login shell: the block must put it back
        return subprocess.run(["bash", "-l", "-c", cmd], env=env, capture_output=True, text=True).stdout.strip()

    assert login("command -v adoptkit || echo missing") == "missing"
    assert profile.ensure_login_path(home) == []
    assert login("adoptkit") == "course-adoptkit"
    (home / ".bash_profile").write_text("# the user's own\n")  # bash now skips ~/.profile
    assert login("command -v adoptkit || echo missing") == "missing"
    profile.ensure_login_path(home)
    profile.ensure_login_path(home)
    assert login("adoptkit") == "course-adoptkit"
    assert (home / ".profile").read_text().count(profile.MARK) == (home / ".bash_profile").read_text().count(profile.MARK) == 1
    assert subprocess.run(["sh", "-l", "-c", "adoptkit"], env=env, capture_output=True, text=True).stdout.strip() == "course-adoptkit"
    env.pop("ADOPTKIT_BIN")  # where the hub does not set it (the cluster's image), the block does nothing
    assert str(bin_dir) not in login("echo $PATH").split(":")


def test_a_read_only_profile_does_not_stop_a_server(tmp_path):
    from adoptkit.hub import profile

    (tmp_path / ".profile").mkdir()  # cannot be appended to
    assert profile.ensure_login_path(tmp_path) and profile.ensure_login_path(None) == ["no HOME"]


# -- learners' own accounts -----------------------------------------------------------------------------

def test_an_account_is_never_borrowed_or_made_from_a_bad_name(tmp_path):
    from adoptkit.hub import accounts

    for name in ("root", "postgres" if _has_account("postgres") else "daemon"):
        with pytest.raises(accounts.AccountError, match="already has"):
            accounts.ensure(name, tmp_path / name)
    for name in ("Ann", "ann@example.com", "-x", "a" * 33, "../etc", ""):
        with pytest.raises(accounts.AccountError, match="account names are"):
            accounts.ensure(name, tmp_path / "x")
    assert not (tmp_path / "root").exists()
    with pytest.raises(accounts.AccountError, match="not an account the course made"):
        accounts.remove("root")


def _has_account(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.mark.skipif(os.geteuid() != 0, reason="making accounts needs root")
def test_a_learners_account_and_private_home(tmp_path):
    import pwd

    from adoptkit.hub import accounts

    name = f"akt{os.urandom(3).hex()}"
    home = tmp_path / "home" / name
    home.mkdir(parents=True)
    (home / "left-by-a-shared-pilot.ipynb").write_text("{}")  # an earlier pilot's home, owned by root
    (home / "link").symlink_to("/etc/passwd")
    try:
        pw = accounts.ensure(name, home)
        assert accounts.ensure(name, home) == pw  # the second start finds it
        assert pw.pw_gecos.startswith(accounts.MARK) and pw.pw_uid != 0 and pw.pw_dir == str(home)
        assert (home.stat().st_uid, home.stat().st_mode & 0o777) == (pw.pw_uid, 0o700)
        assert (home / "left-by-a-shared-pilot.ipynb").stat().st_uid == pw.pw_uid
        assert os.stat("/etc/passwd").st_uid == 0  # a link in the home is handed over, not what it points at
        assert (home.parent.stat().st_mode & 0o777) == 0o711
    finally:
        assert accounts.remove(name)
    assert not _has_account(name) and accounts.remove(name) is False


# -- single sign-on -------------------------------------------------------------------------------------

def test_provider_claims_become_hub_groups():
    from adoptkit.hub.sso import hub_groups

    mapping = dict(instructor_groups=("ld-trainers",), learner_groups=("all-staff",), admin_groups=("ld-admins",))
    assert hub_groups({"groups": ["all-staff"], "cohort": "Sales 2026 Q1"}, **mapping) == ["cohort-sales-2026-q1", "learners"]
    assert hub_groups({"groups": ["ld-trainers", "ld-admins", "cohort-emea"]}, **mapping) == [
        "admins", "cohort-emea", "instructors"]
    # Hostile or odd claims give no group and never a crash: not strings, empty cohorts, no claims at all.
    assert hub_groups({"groups": [None, 7, {"x": 1}, "instructors"], "cohort": ["", " ", "../.."]}, **mapping) == []
    assert hub_groups({"groups": "all-staff"}, **mapping) == ["learners"]
    assert hub_groups({}, **mapping) == [] and hub_groups({"groups": ["all-staff"]}, cohort_claim=None) == []


def _discovery(folder: Path, issuer: str) -> None:
    meta = {"issuer": issuer, "authorization_endpoint": f"{issuer}/auth", "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/me"}
    (folder / ".well-known").mkdir(parents=True)
    (folder / ".well-known" / "openid-configuration").write_text(json.dumps(meta))


def test_the_rendered_config_signs_in_with_the_provider(tmp_path):
    from browser import serve

    site = tmp_path / "provider"
    site.mkdir()
    with serve(site) as url:
        issuer = url.rstrip("/")
        _discovery(site, issuer)
        s = hub_settings(tmp_path, authenticator="oidc", port=8100,
                         oidc={"issuer": issuer, "client_id": "hub", "instructor_groups": ["ld-trainers"]})
        c = load_rendered(s, tmp_path / "jupyterhub_config.py")
    g = c.GenericOAuthenticator
    assert c.JupyterHub.authenticator_class == "generic-oauth" and "load_groups" not in c.JupyterHub
    assert (g.authorize_url, g.token_url, g.userdata_url) == (f"{issuer}/auth", f"{issuer}/token", f"{issuer}/me")
    assert g.oauth_callback_url == "http://127.0.0.1:8100/hub/oauth_callback" and g.client_id == "hub"
    assert "client_secret" not in g, "the secret comes from OAUTH_CLIENT_SECRET, never from the file"
    assert g.manage_groups is True and g.allowed_groups == {"instructors", "learners"}
    assert g.auth_state_groups_key({"oauth_user": {"groups": ["ld-trainers"]}}) == ["instructors"]


def test_a_wrong_issuer_is_named(tmp_path):
    from browser import serve

    from adoptkit.hub import sso

    with serve(tmp_path) as url:
        _discovery(tmp_path, "https://someone-else.example.com")
        with pytest.raises(sso.DiscoveryError, match="not an OpenID provider's configuration"):
            sso.discover(url.rstrip("/"))
    with pytest.raises(sso.DiscoveryError, match="could not read"):
        sso.discover(url.rstrip("/"))  # stopped: nothing answers
    with pytest.raises(settings.SettingsError, match="give both or neither"):
        settings.parse({"hub": {"authenticator": "oidc"}})


def test_instructors_servers_let_the_formgrader_be_framed_by_the_hub_only():
    config = json.loads((JUPYTER / "instructor" / "jupyter_server_config.json").read_text())
    assert config["ServerApp"]["tornado_settings"]["headers"]["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert not (JUPYTER / "learner" / "jupyter_server_config.json").read_text().count("Content-Security-Policy")
