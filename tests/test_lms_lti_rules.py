"""LTI 1.3 without a hub: the settings, the rendered hub config, the course's launch rules in the
authenticator (deployment, user name, roles to groups, the launch record, the learner's LMS id in the
gradebook), and passback's choices against the platform stand-in (tests/lti_platform.py): who is skipped
and why, what a failed or unfinished grading sends, and a platform that refuses."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import sys
import types
from pathlib import Path

import pytest
from lms_harness import LMSStandIn
from lti_platform import AGS, INSTRUCTOR, LEARNER, LTI, SCOPES, Platform
from traitlets.config import Config, PyFileConfigLoader

from adoptkit import settings
from adoptkit.hub import pilot
from adoptkit.lms import lti

REPO = Path(__file__).resolve().parents[1]
COURSE_FIXTURE = REPO / "tests" / "fixtures" / "delivery" / "course"


def lti_settings(tmp_path: Path, issuer="https://lms.example.com", **more) -> settings.Settings:
    section = {"hub": {"data_dir": str(tmp_path / "hub"), "exchange_dir": str(tmp_path / "exchange"),
                       "jupyter_config": str(REPO / "deploy" / "jupyter"), "authenticator": "lti13",
                       "lti": {"issuer": issuer, "client_id": "tool-1", "deployment_ids": ["dep-1"],
                               "authorize_url": f"{issuer}/auth", "jwks_url": f"{issuer}/jwks",
                               "token_url": f"{issuer}/token", **more}}}
    return settings.parse(section, root=tmp_path)


def test_lti_needs_both_the_authenticator_and_the_platform(tmp_path):
    with pytest.raises(settings.SettingsError, match="LTI 1.3 launches need both"):
        settings.parse({"hub": {"authenticator": "lti13"}})
    with pytest.raises(settings.SettingsError, match="registration of the tool"):
        lti_settings(tmp_path, token_url="ftp://lms/token")


def test_the_rendered_hub_takes_launches_and_serves_the_tools_keyset(tmp_path):
    (tmp_path / "_config.yml").write_text("adoptkit: {}\n")
    s = lti_settings(tmp_path)
    out = tmp_path / "jupyterhub_config.py"
    pilot.write(s, out)
    c = PyFileConfigLoader(out.name, str(out.parent)).load_config()
    assert c.JupyterHub.authenticator_class == "adoptkit.lms.lti.CourseLTI13Authenticator"
    a = c.CourseLTI13Authenticator
    assert (a.issuer, a.client_id, a.deployment_ids) == ("https://lms.example.com", ["tool-1"], ["dep-1"])
    assert a.launch_db == str(tmp_path / "hub" / "lti-launches.db") and a.manage_groups is True
    assert "load_groups" not in c.JupyterHub  # groups come from the LMS at each launch
    service = next(sv for sv in c.JupyterHub.services if sv["name"] == "lms")
    assert service["command"][1:3] == ["-m", "adoptkit.lms.service"] and service["oauth_no_confirm"] is True
    assert "access:services!service=lms" in c.JupyterHub.load_roles[0]["scopes"]
    # Without the tool's key the hub does not start, and says how to make it.
    assert any("adoptkit lti keygen" in p for p in pilot.preflight(s))


def _claims(**over) -> dict:
    claims = {"iss": "https://lms.example.com", "aud": "tool-1", "sub": "u-42", "given_name": "Sam",
              "family_name": "Seller", "email": "sam@example.com",
              LTI + "message_type": "LtiResourceLinkRequest", LTI + "deployment_id": "dep-1",
              LTI + "resource_link": {"id": "link-1"}, LTI + "roles": [LEARNER],
              LTI + "context": {"id": "c-1", "label": "Sales 2026 Q1"},
              LTI + "custom": {"username": "Sam_S", "assignment": "hub-hello"},
              AGS: {"scope": SCOPES, "lineitem": "https://lms.example.com/lineitems/9"}}
    claims.update(over)
    return claims


@pytest.fixture(scope="module")
def empty_gradebook(tmp_path_factory):
    """The course's gradebook as generating an assignment makes it (made once: nbgrader runs `alembic`)."""
    from nbgrader.api import Gradebook

    db = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{path}"  # where nbgrader finds `alembic`
    try:
        Gradebook(f"sqlite:///{db}", "adoptkit").close()
    finally:
        os.environ["PATH"] = path
    return db


@pytest.fixture
def authenticator(tmp_path, empty_gradebook):
    course = tmp_path / "course"
    shutil.copytree(COURSE_FIXTURE, course)
    (course / "_nbgrader").mkdir()
    shutil.copy(empty_gradebook, course / "_nbgrader" / "gradebook.db")
    config = Config()
    for key, value in {**lti.authenticator_config(lti_settings(tmp_path)), "launch_db": str(tmp_path / "launches.db"),
                       "course_config": str(course / "autograders" / "nbgrader_config.py")}.items():
        setattr(config.CourseLTI13Authenticator, key, value)
    return lti.CourseLTI13Authenticator(config=config), course


def _login(auth, claims):
    handler = types.SimpleNamespace()
    return asyncio.run(auth.authenticate(handler, claims)), handler


def test_a_learners_launch_is_recorded_and_their_lms_id_reaches_the_gradebook(authenticator, tmp_path):
    from nbgrader.api import Gradebook

    auth, course = authenticator
    user, handler = _login(auth, _claims())
    assert user == {"name": "sam_s", "groups": ["cohort-sales-2026-q1", "learners"]}
    assert handler._adoptkit_assignment == "hub-hello"  # where the learner lands
    [row] = lti.launches(tmp_path / "launches.db", "hub-hello")
    assert (row["user"], row["sub"], row["lineitem"], row["deployment_id"]) == (
        "sam_s", "u-42", "https://lms.example.com/lineitems/9", "dep-1")
    assert (tmp_path / "launches.db").stat().st_mode & 0o077 == 0  # closed to learners' accounts
    with Gradebook(f"sqlite:///{course / '_nbgrader' / 'gradebook.db'}", "adoptkit") as gb:
        student = gb.find_student("sam_s")
        assert (student.lms_user_id, student.email, student.last_name) == ("u-42", "sam@example.com", "Seller")
    # An instructor is an instructor, and is not made a student.
    user, handler = _login(auth, _claims(sub="u-1", **{LTI + "roles": [INSTRUCTOR],
                                                       LTI + "custom": {"username": "ines", "assignment": "hub-hello"}}))
    assert "instructors" in user["groups"] and "learners" not in user["groups"]
    assert handler._adoptkit_assignment is None  # instructors land in JupyterLab, in the course folder
    with Gradebook(f"sqlite:///{course / '_nbgrader' / 'gradebook.db'}", "adoptkit") as gb:
        assert [s.id for s in gb.students] == ["sam_s"]


@pytest.mark.parametrize("claims, message", [
    (_claims(**{LTI + "deployment_id": "dep-2"}), "not one this course accepts"),
    (_claims(**{LTI + "custom": {"username": "../../root", "assignment": "hub-hello"}}), "cannot be an account name"),
    (_claims(**{LTI + "custom": {"username": "x" * 40, "assignment": "hub-hello"}}), "cannot be an account name"),
    (_claims(**{LTI + "custom": {"username": "sam", "assignment": "../secret"}}), "not an assignment name"),
])
def test_a_launch_the_course_does_not_accept_is_refused(authenticator, tmp_path, claims, message):
    from ltiauthenticator.lti13.error import LoginError

    auth, _ = authenticator
    with pytest.raises(LoginError, match=message):
        _login(auth, claims)
    assert lti.launches(tmp_path / "launches.db", "hub-hello") == []


# -- passback, against the platform stand-in -------------------------------------------------------------

def _grades(path: Path, rows: list[dict]) -> Path:
    cols = ["student_id", "first_name", "last_name", "email", "lms_user_id", "assignment", "score", "max_score",
            "percent", "late_penalty", "needs_manual_grade", "flagged", "status", "missing_notebooks", "submitted_at"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, restval="")
        w.writeheader()
        w.writerows(rows)
    return path


def test_passback_sends_what_is_final_and_skips_what_it_cannot_score(tmp_path):
    (tmp_path / "tool").mkdir()
    with Platform(host="127.0.0.1") as platform, LMSStandIn(tmp_path / "tool") as tool_site:
        s = lti_settings(tmp_path, issuer=platform.url, client_id=platform.client_id,
                         private_key=str(tmp_path / "key.pem"))
        jwk = lti.keygen(tmp_path / "key.pem")
        (tmp_path / "tool" / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
        platform.tool = {"jwks_url": f"{tool_site.url}/jwks.json"}
        platform.users = {n: {"sub": f"u-{n}"} for n in ("ann", "bob", "cat", "dan")}
        item = platform.add_link("link-1", "hub-hello")
        db = lti.launch_db(s)
        base = _claims(iss=platform.url, aud=platform.client_id, **{AGS: {"scope": SCOPES, "lineitem": item}})
        for name in ("ann", "bob", "cat"):
            lti.record_launch(db, name, "hub-hello", {**base, "sub": f"u-{name}"})
        lti.record_launch(db, "dan", "hub-hello", {**base, "sub": "u-dan", AGS: {"scope": SCOPES[:1], "lineitem": item}})
        grades = _grades(tmp_path / "g.csv", [
            {"student_id": "ann", "lms_user_id": "u-ann", "score": 4.5, "max_score": 6, "status": "graded",
             "needs_manual_grade": "False"},
            {"student_id": "bob", "lms_user_id": "", "score": 2, "max_score": 6, "status": "flagged",
             "needs_manual_grade": "False"},
            {"student_id": "cat", "lms_user_id": "u-cat", "score": 0, "max_score": 6, "status": "failed",
             "needs_manual_grade": "True"},
            {"student_id": "dan", "lms_user_id": "u-dan", "score": 6, "max_score": 6, "status": "graded"},
            {"student_id": "eve", "lms_user_id": "", "score": 6, "max_score": 6, "status": "graded"},
        ])
        report = lti.passback(s, "hub-hello", grades)
        assert platform.errors == [], platform.errors
        got = {sc["userId"]: sc for sc in platform.scores}
        assert set(got) == {"u-ann", "u-bob", "u-cat"}
        assert (got["u-ann"]["scoreGiven"], got["u-ann"]["scoreMaximum"], got["u-ann"]["gradingProgress"]) == (4.5, 6.0, "FullyGraded")
        assert got["u-bob"]["gradingProgress"] == "PendingManual"  # flagged: the grader has a look first
        assert got["u-cat"]["gradingProgress"] == "Failed" and "scoreGiven" not in got["u-cat"]
        assert len(platform.token_requests) == 1  # one token for the run
        assert any(line.startswith("dan:") and "score scope" in line for line in report.skipped)
        assert any(line.startswith("eve:") and "never launched" in line for line in report.skipped)

        # The platform refuses a token for a key it does not know: the admin is told, nothing is hidden.
        (tmp_path / "tool" / "jwks.json").write_text(json.dumps({"keys": []}))
        platform.scores.clear()
        with pytest.raises(lti.LTIError, match="refused ann's score"):
            lti.passback(s, "hub-hello", grades)
        assert platform.scores == []

        # A grades CSV with a score that is not one is refused before anything is sent.
        (tmp_path / "tool" / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
        for bad in ({"score": "lots"}, {"score": 7}, {"score": -1}, {"max_score": 0}, {"score": "nan"}):
            rows = [{"student_id": "ann", "lms_user_id": "u-ann", "score": 4.5, "max_score": 6, "status": "graded"},
                    {"student_id": "bob", "lms_user_id": "u-bob", "score": 2, "max_score": 6, "status": "graded",
                     **bad}]
            with pytest.raises(lti.LTIError, match="line 3 \\(bob\\).*Nothing was sent"):
                lti.passback(s, "hub-hello", _grades(tmp_path / "bad.csv", rows))
        assert platform.scores == []


def test_the_tools_key_is_never_overwritten(tmp_path):
    jwk = lti.keygen(tmp_path / "k.pem")
    assert jwk["alg"] == "RS256" and jwk["kid"] and "d" not in jwk
    with pytest.raises(lti.LTIError, match="exists"):
        lti.keygen(tmp_path / "k.pem")
