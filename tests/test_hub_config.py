"""The pilot hub's configuration without starting a hub: what `adoptkit hub config` renders, what
JupyterHub makes of it, the per-role hook, nbgrader's per-role configs, the checks before a start."""

from __future__ import annotations

import os
import socket
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
    assert c.Exchange.root == str(tmp_path / "x") and c.CollectApp.check_owner is False


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
