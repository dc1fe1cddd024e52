"""LTI 1.3 end to end, on loopback, run as root: the pilot hub (`hub.authenticator: lti13`) launched from an
LTI platform stand-in (tests/lti_platform.py, which checks the protocol strictly; no LMS installs here).

In chromium a learner clicks the assignment's link in the "LMS" (on `localhost`, another site than the
hub on 127.0.0.1, as an LMS is): third-party login, the OIDC authentication request, the signed id_token
posted back; the learner lands in the assignment, fetched into their own account's home. A replayed
launch, a forged signature and a deployment the course does not accept are refused. The learner submits,
the instructor collects, `adoptkit grade` grades, and `adoptkit lti passback` sends the score through
LTI Assignment and Grade Services (token request with a signed JWT assertion checked against the tool's
keyset served by the hub, then the score POST). In the same browser, a SCORM package scored by the hub
fetches the learner's graded score from the hub's `lms` service, and only for an LMS origin the course
trusts."""

from __future__ import annotations

import csv
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests
from browser import launch, needs_chromium
from hub_harness import CHP, REPO, PilotHub, free_ports, hub_keys
from lms_harness import SCORM_AGAIN, SCORM_AGAIN_SHA256, LMSStandIn, npm_package
from lti_platform import LEARNER, Platform, new_key

from adoptkit.hub import accounts

pytestmark = [pytest.mark.slow, pytest.mark.browser, needs_chromium]

FIXTURE = REPO / "tests" / "fixtures" / "delivery" / "course"
ASSIGNMENT = "sales-hello"
COURSE_ID = "adoptkit"
_RUN = os.urandom(2).hex()
LEARNER_NAME = f"lti{_RUN}"
ADOPTKIT = Path(sys.executable).parent / "adoptkit"


def _course(tmp_path: Path, ports: dict, admin_token: str, platform: Platform, lms_origin: str) -> Path:
    course = tmp_path / "course"
    shutil.copytree(FIXTURE, course)
    (course / "exercises" / "hub-hello").rename(course / "exercises" / ASSIGNMENT)  # an assignment of the sales path
    (course / "_config.yml").write_text(f"""\
title: LTI test course
adoptkit:
  roles: [sales]
  sandbox:
    port: {ports['sandbox']}
  lms:
    service_port: {ports['lms']}
    scorm_origins: [{lms_origin}]
  hub:
{hub_keys(ports, tmp_path)}
    authenticator: lti13
    lti:
      issuer: {platform.url}
      client_id: {platform.client_id}
      deployment_ids: [{platform.deployment_id}]
      authorize_url: {platform.url}/auth
      jwks_url: {platform.url}/jwks
      token_url: {platform.url}/token
""")
    (tmp_path / "extra_config.py").write_text(f"""\
c.JupyterHub.services.append({{"name": "test-admin", "api_token": {admin_token!r}}})
c.JupyterHub.load_roles.append({{"name": "test-admin", "services": ["test-admin"], "scopes": [
    "admin:users", "admin:servers", "tokens", "read:groups"]}})
""")
    return course


def _run(course: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=course, env=env, capture_output=True, text=True, timeout=600)


def _nbgrader(course: Path, env: dict, exchange: Path, *args: str) -> str:
    proc = _run(course, env, sys.executable, "-m", "nbgrader", *args, f"--Exchange.root={exchange}",
                f"--NbGrader.config_file={course / 'autograders' / 'nbgrader_config'}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout + proc.stderr


def _hub_scored_package(lms_site: Path, hub_url: str) -> None:
    """A SCORM 2004 package of the sales path, scored by the hub, unpacked where the stand-in LMS serves it."""
    from adoptkit.lms import scorm
    from adoptkit.lms.paths import Page, RolePath

    site = lms_site / "built"
    (site / "book").mkdir(parents=True)
    (site / "book" / "page.html").write_text("<!DOCTYPE html><html><body><h1>The sales path</h1></body></html>")
    path = RolePath("sales", "The sales path", (Page("book/page", "The sales path"),), assignments=(ASSIGNMENT,))
    zip_path = scorm.build(path, site, lms_site / "zips", "2004", hub_url=hub_url)
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(lms_site / "pkg" / "hub2004")
    runtime = npm_package(SCORM_AGAIN, SCORM_AGAIN_SHA256)
    (lms_site / "scorm-again").mkdir()
    shutil.copy(runtime / "scorm-again.js", lms_site / "scorm-again" / "scorm-again.js")
    shutil.copy(REPO / "tests" / "fixtures" / "lms" / "lms.html", lms_site / "lms.html")


def test_a_launch_from_the_lms_lands_in_the_assignment_and_the_grade_goes_back(tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from adoptkit.hub.pilot import install_proxy

    assert install_proxy(REPO) == CHP
    port, hub_port, proxy_api_port, sandbox, lms_port = free_ports(5)
    ports = {"port": port, "hub_port": hub_port, "proxy_api_port": proxy_api_port, "sandbox": sandbox, "lms": lms_port}
    hub_url = f"http://127.0.0.1:{port}"
    admin_token = os.urandom(16).hex()
    (tmp_path / "lms").mkdir()
    with Platform() as platform, LMSStandIn(tmp_path / "lms") as lms:
        platform.tool = {"login_url": f"{hub_url}/hub/lti13/oauth_login",
                         "redirect_uri": f"{hub_url}/hub/lti13/oauth_callback",
                         "target_link_uri": f"{hub_url}/hub", "jwks_url": f"{hub_url}/services/lms/jwks.json"}
        sub = "lms-user-" + os.urandom(6).hex()  # the platform's opaque id for the learner
        platform.users = {
            "sam": {"sub": sub, "login_hint": "hint-sam", "username": LEARNER_NAME.upper(), "role": LEARNER,
                    "name": "Sam Seller", "email": "sam@example.com"},
            "eve": {"sub": "lms-eve", "login_hint": "hint-eve", "username": "eve; rm -rf /", "role": LEARNER,
                    "name": "Eve Other", "email": "eve@example.com"}}
        lineitem = platform.add_link("link-1", ASSIGNMENT)
        course = _course(tmp_path, ports, admin_token, platform, lms.url)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "ADOPTKIT_LLM", "ADOPTKIT_LTI"))}
        env["ADOPTKIT_CONFIG"] = str(course / "_config.yml")
        # The course's tools on PATH, as in an instructor's terminal (nbgrader runs `alembic` from it).
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

        # The admin makes the tool's key; the hub refuses to start without it, and serves its public half.
        proc = _run(course, env, ADOPTKIT, "lti", "keygen")
        assert proc.returncode == 0, proc.stderr
        jwk = json.loads(proc.stdout.split("\n", 1)[1])
        assert jwk["kty"] == "RSA" and "d" not in jwk and (course / ".cache/lti/tool-key.pem").stat().st_mode & 0o077 == 0
        assert _run(course, env, ADOPTKIT, "lti", "keygen").returncode == 1  # never overwrites the key

        hub = PilotHub(course, env, hub_url, admin_token, tmp_path / "hub.log", ports)
        browser = None
        try:
            hub.start()
            exchange = tmp_path / "hub" / "exchange"
            _nbgrader(course, env, exchange, "generate_assignment", ASSIGNMENT, "--force")
            _nbgrader(course, env, exchange, "release_assignment", ASSIGNMENT, f"--course={COURSE_ID}")
            assert requests.get(f"{hub_url}/services/lms/jwks.json", timeout=10).json() == {"keys": [jwk]}
            _hub_scored_package(tmp_path / "lms", hub_url)

            pw = sync_playwright().start()
            browser = launch(pw)
            page = browser.new_page()  # the learner's browser, for the whole test
            # A deployment the course does not accept is refused by the hub.
            page.goto(f"{platform.url}/launch?user=sam&link=link-1&deployment=rogue")
            page.wait_for_load_state("load")
            assert "/hub/lti13/oauth_callback" in page.url and "not one this course accepts" in page.content()
            # A user name that cannot be an account is refused.
            page.goto(f"{platform.url}/launch?user=eve&link=link-1")
            page.wait_for_load_state("load")
            assert "cannot be an account name" in page.content()
            # The learner's launch: the hub's login, the platform's authentication, the signed token.
            page.goto(f"{platform.url}/launch?user=sam&link=link-1")
            try:
                page.wait_for_url(f"{hub_url}/user/{LEARNER_NAME}/lab/tree/{ASSIGNMENT}/**", timeout=240_000)
            except PlaywrightTimeout:  # say where the launch stopped
                raise AssertionError(f"the launch did not land in the assignment; the browser is at {page.url}; "
                                     f"platform errors {platform.errors}; the hub's log:\n{hub.log_tail()}") from None
            page.locator(".jp-Notebook").first.wait_for(timeout=90_000)
            assert platform.errors == [], platform.errors  # the tool kept to the protocol

            # The same id_token posted again from another browser (a replay) is refused: no state.
            other = browser.new_context().new_page()
            other.set_content(f'<form method="post" action="{hub_url}/hub/lti13/oauth_callback">'
                              f'<input name="id_token" value="{platform.last_id_token}">'
                              '<input name="state" value="x"></form>')
            with other.expect_navigation():
                other.evaluate("document.forms[0].submit()")
            assert "OAuth state missing" in other.content() and "/lab" not in other.url

            # A launch signed with a key that is not in the platform's keyset is refused.
            platform.signing_key = new_key()
            other.goto(f"{platform.url}/launch?user=sam&link=link-1")
            other.wait_for_load_state("load")
            assert "Signature verification failed" in other.content() and "/lab" not in other.url
            platform.signing_key = platform.key

            user = hub.api("GET", f"/users/{LEARNER_NAME}")
            assert set(user["groups"]) == {"learners", "cohort-sales-2026-q1"}, user["groups"]
            assert hub.admin.get(f"{hub_url}/hub/api/users/eve", timeout=10).status_code == 404
            fetched = tmp_path / "hub" / "home" / LEARNER_NAME / ASSIGNMENT / "hub-hello.ipynb"
            assert fetched.is_file() and fetched.stat().st_uid == pwd.getpwnam(LEARNER_NAME).pw_uid

            # The learner answers and submits from their server; the instructor collects and grades.
            learner = hub.user(LEARNER_NAME)
            path = f"/api/contents/{ASSIGNMENT}/hub-hello.ipynb"
            model = learner.call("GET", path)
            answer = next(c for c in model["content"]["cells"] if c["metadata"].get("nbgrader", {}).get("solution"))
            answer["source"] = "def total(amounts):\n    return sum(amounts)\n"
            learner.call("PUT", path, json={"type": "notebook", "format": "json", "content": model["content"]})
            result = learner.call("POST", "/assignments/submit", data={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT})
            assert any(a["status"] == "submitted" for a in result["value"]), result
            _nbgrader(course, env, exchange, "collect", ASSIGNMENT, f"--course={COURSE_ID}")
            graded = _run(course, env, ADOPTKIT, "grade", ASSIGNMENT)
            assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
            with open(course / "_nbgrader" / "reports" / f"{ASSIGNMENT}-grades.csv", newline="") as f:
                rows = list(csv.DictReader(f))
            assert [(r["student_id"], r["lms_user_id"], r["email"]) for r in rows] == [(LEARNER_NAME, sub, "sam@example.com")]
            assert float(rows[0]["score"]) == 1.0 and float(rows[0]["max_score"]) == 1.0

            # Passback: the token request and the score, which the platform checks and records.
            sent = _run(course, env, ADOPTKIT, "lti", "passback", ASSIGNMENT)
            assert sent.returncode == 0, sent.stdout + sent.stderr
            assert "1 score(s) sent, 0 skipped" in sent.stdout, sent.stdout
            assert platform.errors == [], platform.errors
            assert len(platform.scores) == 1
            score = platform.scores[0]
            assert score["lineitem"] == lineitem and score["userId"] == sub
            assert (score["scoreGiven"], score["scoreMaximum"]) == (1.0, 1.0)
            assert (score["activityProgress"], score["gradingProgress"]) == ("Completed", "FullyGraded")
            assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in platform.token_requests[0]["scope"]


            # A SCORM package scored by the hub, in the LMS, in the learner's browser (signed in to the hub
            # by the launch): the learner's own graded score reaches it.
            page.goto(f"{lms.url}/lms.html?version=2004&run=hub&pkg=hub2004")
            sco = page.frame_locator("#sco")
            sco.locator("#pages a", has_text="Your graded score").click()
            with page.expect_popup() as popup:
                sco.locator("#fetch-score").click()
            popup.value.wait_for_load_state("load")
            sco.locator("#result", has_text="Graded score: 1 of 1: passed.").wait_for(timeout=60_000)
            calls = page.evaluate("window.calls")
            got = {e: v for n, e, v in calls if n == "SetValue"}
            assert (got["cmi.score.raw"], got["cmi.score.max"], got["cmi.success_status"]) == ("1", "1", "passed")
            # Another site (an origin the course does not list) gets no score.
            refused = page.goto(f"{hub_url}/services/lms/scorm/score?path=sales&origin=https://evil.example")
            assert refused.status == 403
        finally:
            if browser is not None:
                browser.close()
                pw.stop()
            left = hub.stop()
            accounts.remove(LEARNER_NAME)
    assert left == [], f"processes outlived the hub: {left}"
