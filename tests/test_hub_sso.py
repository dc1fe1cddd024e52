"""Single sign-on end to end, on loopback: the pilot hub (`hub.authenticator: oidc`) against a real OpenID
provider, panva's certified `oidc-provider` from the npm registry (installed by this test under the
git-ignored .cache/, started by it and stopped by pid). In chromium a learner signs in through the
provider's login form (a wrong password first), lands in JupyterLab under their own account, and the
gateway knows their cohort from the provider's claim; someone in no course group is refused."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import requests
from browser import launch, needs_chromium
from hub_harness import CHP, REPO, PilotHub, free_ports, hub_keys

from adoptkit import tools
from adoptkit.hub import accounts, wiring

pytestmark = [pytest.mark.slow, pytest.mark.browser, needs_chromium]

OIDC_PROVIDER = "oidc-provider@9.13.3"  # panva's, OpenID Certified; pinned
PROVIDER_DIR = REPO / ".cache" / "oidc-provider"
FIXTURE = REPO / "tests" / "fixtures" / "delivery" / "course"
_RUN = os.urandom(2).hex()
LEARNER, OUTSIDER = f"sso{_RUN}", f"out{_RUN}"
CLIENT_SECRET = os.urandom(16).hex()


def install_provider() -> Path:
    """npm install the pinned provider once; copy the test's provider script beside its node_modules."""
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        proc = subprocess.run([tools.find("npm"), "install", "--silent", "--no-audit", "--no-fund", "--prefix",
                               str(PROVIDER_DIR), OIDC_PROVIDER], capture_output=True, text=True)
        assert proc.returncode == 0, f"npm install {OIDC_PROVIDER} failed: {proc.stderr[-2000:]}"
    version = json.loads((PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").read_text())["version"]
    assert version == OIDC_PROVIDER.split("@")[1], f"{PROVIDER_DIR} holds oidc-provider {version}: delete it"
    shutil.copy(REPO / "tests" / "oidc_provider.mjs", PROVIDER_DIR / "oidc_provider.mjs")
    return PROVIDER_DIR / "oidc_provider.mjs"


@pytest.fixture
def provider(tmp_path):
    script = install_provider()
    port = free_ports(1)[0]
    issuer = f"http://127.0.0.1:{port}"
    config = {"issuer": issuer, "port": port, "cookie_key": os.urandom(16).hex(), "accounts": {
        LEARNER: {"password": "learner-password", "claims": {
            "preferred_username": LEARNER, "name": "Sam Seller", "groups": ["all-staff", "emea-sales"],
            "cohort": "Sales 2026 Q1"}},
        OUTSIDER: {"password": "outsider-password", "claims": {
            "preferred_username": OUTSIDER, "groups": ["contractors"]}}}}
    proc = None

    def start(callback: str):
        nonlocal proc
        config["client"] = {"client_id": "adoptkit-hub", "client_secret": CLIENT_SECRET, "redirect_uris": [callback]}
        (tmp_path / "provider.json").write_text(json.dumps(config))
        proc = subprocess.Popen([tools.find("node"), str(script), str(tmp_path / "provider.json")], cwd=script.parent,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        said = []  # it warns first (an in-memory store, development keys, Node 20): fine for a test
        while not (said and said[-1].startswith("listening")) and (line := proc.stdout.readline()):
            said.append(line)
        assert said and said[-1].startswith("listening"), f"the provider did not start: {''.join(said)[-2000:]}"
        assert requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()["issuer"] == issuer
        return issuer

    try:
        yield start
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)


def _course(tmp_path: Path, ports: dict[str, int], admin_token: str, issuer: str) -> Path:
    course = tmp_path / "course"
    shutil.copytree(FIXTURE, course)
    (course / "_config.yml").write_text(f"""\
title: SSO test course
adoptkit:
  sandbox:
    port: {ports['sandbox']}
  hub:
{hub_keys(ports, tmp_path)}
    authenticator: oidc
    oidc:
      issuer: {issuer}
      client_id: adoptkit-hub
      learner_groups: [all-staff]
      instructor_groups: [ld-trainers]
      cohort_claim: cohort
""")
    (tmp_path / "extra_config.py").write_text(f"""\
c.JupyterHub.services.append({{"name": "test-admin", "api_token": {admin_token!r}}})
c.JupyterHub.load_roles.append({{"name": "test-admin", "services": ["test-admin"], "scopes": [
    "admin:users", "admin:servers", "tokens", "read:groups"]}})
""")
    return course


def test_a_learner_signs_in_with_the_organisations_provider(tmp_path, provider):
    from playwright.sync_api import sync_playwright

    from adoptkit.hub.pilot import install_proxy

    assert install_proxy(REPO) == CHP
    port, hub_port, proxy_api_port, sandbox = free_ports(4)
    ports = {"port": port, "hub_port": hub_port, "proxy_api_port": proxy_api_port, "sandbox": sandbox}
    hub_url = f"http://127.0.0.1:{port}"
    issuer = provider(f"{hub_url}/hub/oauth_callback")
    admin_token = os.urandom(16).hex()
    course = _course(tmp_path, ports, admin_token, issuer)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "ADOPTKIT_LLM", "OAUTH"))}
    env.update(ADOPTKIT_CONFIG=str(course / "_config.yml"), OAUTH_CLIENT_SECRET=CLIENT_SECRET)
    hub = PilotHub(course, env, hub_url, admin_token, tmp_path / "hub.log", ports)
    try:
        hub.start()
        with sync_playwright() as pw:
            browser = launch(pw)
            try:
                page = browser.new_page()
                page.goto(f"{hub_url}/hub/login")
                page.locator("a.btn-jupyter", has_text="Sign in").click()
                page.wait_for_url(f"{issuer}/interaction/**")
                # A wrong password is refused by the provider, which stays on its form.
                page.fill("#login", LEARNER)
                page.fill("#password", "not-the-password")
                page.click("#submit")
                assert page.locator("#error").inner_text() == "Wrong login or password."
                page.fill("#login", LEARNER)
                page.fill("#password", "learner-password")
                page.click("#submit")
                page.wait_for_url(f"{hub_url}/user/{LEARNER}/lab**", timeout=90_000)
                page.locator(".jp-LauncherCard").first.wait_for(timeout=60_000)

                # Someone the provider knows but in no course group is refused by the hub.
                other = browser.new_context().new_page()
                other.goto(f"{hub_url}/hub/login")
                other.locator("a.btn-jupyter", has_text="Sign in").click()
                other.fill("#login", OUTSIDER)
                other.fill("#password", "outsider-password")
                other.click("#submit")
                other.wait_for_load_state("load")
                assert f"/user/{OUTSIDER}" not in other.url and "403" in other.content(), other.url
            finally:
                browser.close()

        # The provider's groups and cohort claim became hub groups; the learner has an account of their own.
        user = hub.api("GET", f"/users/{LEARNER}")
        assert set(user["groups"]) == {"learners", "cohort-sales-2026-q1"}, user["groups"]
        assert hub.admin.get(f"{hub_url}/hub/api/users/{OUTSIDER}", timeout=10).status_code == 404
        server_pid = hub.server_pid(LEARNER)
        assert psutil.Process(server_pid).uids().real == pwd.getpwnam(LEARNER).pw_uid

        # The gateway knows the learner's cohort: it exchanges their hub token for a key in that cohort.
        token = hub.api("POST", f"/users/{LEARNER}/tokens", json={"expires_in": 600, "scopes": [
            "read:users:groups!user", f"access:services!service={wiring.GATEWAY_SERVICE}"]})["token"]
        gateway = f"http://127.0.0.1:{sandbox}"
        got = requests.post(f"{gateway}/v1/hub/exchange", json={"hub_token": token}, timeout=30).json()
        assert (got["learner"], got["cohort"]) == (LEARNER, "sales-2026-q1"), got
    finally:
        left = hub.stop()
        accounts.remove(LEARNER)
        accounts.remove(OUTSIDER)
    assert left == [], f"processes outlived the hub: {left}"
