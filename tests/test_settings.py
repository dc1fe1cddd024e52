from pathlib import Path

import pytest

from adoptkit import settings


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "_config.yml"
    p.write_text("title: t\n" + body)
    return p


def test_defaults_without_section(tmp_path):
    s = settings.load(write(tmp_path, ""))
    assert s.llm.endpoint == "local" and s.roles == ["marketing", "sales", "hr", "engineering", "support", "leaders"]


def test_values_are_read_and_paths_resolve_against_the_config(tmp_path):
    s = settings.load(write(tmp_path, "adoptkit:\n  llm:\n    endpoint: http://10.0.0.5:8000/v1/\n  data:\n    cache: c\n"))
    assert s.llm.endpoint == "http://10.0.0.5:8000/v1"
    assert s.path(s.data.cache) == (tmp_path / "c").resolve()


@pytest.mark.parametrize(
    "body, key, value, allowed",
    [
        ("adoptkit:\n  llm:\n    endpoint: ftp://x\n", "adoptkit.llm.endpoint", "'ftp://x'", "http(s) URL"),
        ("adoptkit:\n  roles: [sales, astronauts]\n", "adoptkit.roles", "astronauts", "allowed: marketing"),
        ("adoptkit:\n  sandbox:\n    port: 99999\n", "adoptkit.sandbox.port", "99999", "less than or equal to 65535"),
        ("adoptkit:\n  llm:\n    endpont: local\n", "adoptkit.llm.endpont", "'local'", "not a setting"),
        ("adoptkit:\n  data:\n    overrides:\n      crm: {path: a.csv, url: 'sqlite:///x'}\n",
         "adoptkit.data.overrides.crm", "a.csv", "exactly one of"),
    ],
)
def test_wrong_value_names_key_value_and_what_is_allowed(tmp_path, body, key, value, allowed):
    with pytest.raises(settings.SettingsError) as err:
        settings.load(write(tmp_path, body))
    msg = str(err.value)
    assert key in msg and value in msg and allowed in msg


def test_broken_yaml_and_wrong_section_type(tmp_path):
    with pytest.raises(settings.SettingsError, match="not valid YAML"):
        settings.load(write(tmp_path, "adoptkit: [\n"))
    with pytest.raises(settings.SettingsError, match="must be a mapping"):
        settings.load(write(tmp_path, "adoptkit: 3\n"))


def test_find_config_walks_up_to_the_file_with_an_adoptkit_section(tmp_path, monkeypatch):
    monkeypatch.delenv("ADOPTKIT_CONFIG", raising=False)
    cfg = write(tmp_path, "adoptkit:\n  organisation:\n    name: Acme\n")
    deep = tmp_path / "book" / "roles" / "sales"
    deep.mkdir(parents=True)
    (tmp_path / "book" / "_config.yml").write_text("title: not the kit's\n")
    assert settings.find_config(deep) == cfg


def test_config_check_gives_a_verdict_a_summary_and_every_setting_on_request(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from adoptkit.cli import main

    cfg = write(tmp_path, "adoptkit:\n  organisation:\n    name: Acme\n  roles: [sales, hr]\n")
    monkeypatch.setenv("ADOPTKIT_CONFIG", str(cfg))
    ok = CliRunner().invoke(main, ["config", "check"])
    lines = ok.output.splitlines()
    assert ok.exit_code == 0 and lines[0] == f"valid: {cfg}", ok.output
    assert "Acme" in ok.output and "sales, hr" in ok.output and len(lines) < 20  # a summary, not the dump
    assert '"organisation"' not in ok.output and "--show" in lines[-1]
    shown = CliRunner().invoke(main, ["config", "check", "--show"])
    assert shown.exit_code == 0 and '"organisation"' in shown.output and '"Acme"' in shown.output

    cfg.write_text("title: t\nadoptkit:\n  sandbox:\n    port: 99999\n")
    bad = CliRunner().invoke(main, ["config", "check"])
    assert bad.exit_code == 1 and "valid:" not in bad.output.replace("invalid:", "")
    assert f"invalid: {cfg}" in bad.output and "adoptkit.sandbox.port" in bad.output and "99999" in bad.output
