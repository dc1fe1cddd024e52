"""LTI 1.3: launches from the organisation's LMS into the hub, and grades back through LTI Assignment and
Grade Services (AGS).

The launch (OIDC third-party login, the id_token's signature against the platform's keyset, state, nonce,
the LTI claims) is `jupyterhub-ltiauthenticator`'s LTI13Authenticator; the kit adds, in
`CourseLTI13Authenticator`:
- only the registered deployments may launch; the hub user name is a claim that can be an account name;
- the LMS's roles become hub groups (`instructors` or `learners`), the LMS course a `cohort-<label>`;
- each launch is recorded (`lti-launches.db` in the hub's data folder, closed to learners): who (`sub`),
  which assignment (the link's custom parameter `assignment`), and the AGS line item to score;
- the learner's `lms_user_id` is written into the gradebook, so `adoptkit grade`'s grades CSV carries it;
- the learner lands in the assignment: fetched into their home and opened (`adoptkit.lms.landing`).

Passback (`adoptkit lti passback ASSIGNMENT`, after `adoptkit grade`) posts each learner's score from the
grades CSV to the line item of their launch, with pylti1p3next (the maintained fork of PyLTI1p3): a
client-credentials token request signed with the tool's key, then the score as
`application/vnd.ims.lis.v1.score+json`.
"""

from __future__ import annotations

import csv
import functools
import datetime as dt
import json
import math
import os
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ..settings import LtiSettings, Settings

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
ASSIGNMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class LTIError(RuntimeError):
    """LTI cannot go on as configured; the message says what to fix."""


# -- the tool's key --------------------------------------------------------------------------------------

def key_path(settings: Settings) -> Path:
    env = os.environ.get("ADOPTKIT_LTI_KEY")
    lti = settings.hub.lti
    return Path(env) if env else settings.path(lti.private_key if lti else LtiSettings.model_fields["private_key"].default)


def keygen(path: Path) -> dict:
    """Write a new RSA key for the tool (mode 0600; refuses to overwrite); return its public JWK."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if path.exists():
        raise LTIError(f"{path} exists: the platform knows that key. Delete it yourself if you mean to replace "
                       "it, then register the new public key with the platform.")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return public_jwk(pem.decode())


def read_key(settings: Settings) -> str:
    path = key_path(settings)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise LTIError(f"the tool's private key cannot be read at {path} ({err.strerror}): make one with "
                       "`adoptkit lti keygen` and register its public key with the platform") from None


def public_pem(pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_jwk(pem: str) -> dict:
    """The public half of the tool's key as the JWK the platform checks the tool's signatures with (kid:
    its RFC 7638 thumbprint, as pylti1p3 puts in the token request's header)."""
    from pylti1p3.registration import Registration

    return dict(Registration.get_jwk(public_pem(pem)))


# -- launches --------------------------------------------------------------------------------------------

def launch_db(settings: Settings) -> Path:
    from ..hub.pilot import LAUNCH_DB

    return settings.path(settings.hub.data_dir) / LAUNCH_DB


def _connect(db: Path) -> sqlite3.Connection:
    db.parent.mkdir(parents=True, exist_ok=True)
    if not db.exists():
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))  # never readable by learners' accounts
    conn = sqlite3.connect(db, timeout=30)
    conn.execute("""CREATE TABLE IF NOT EXISTS launches (
        user TEXT NOT NULL, assignment TEXT NOT NULL, sub TEXT NOT NULL, issuer TEXT NOT NULL,
        client_id TEXT NOT NULL, deployment_id TEXT NOT NULL, resource_link TEXT NOT NULL,
        lineitem TEXT, scopes TEXT NOT NULL, launched_at TEXT NOT NULL,
        PRIMARY KEY (user, assignment, issuer, resource_link))""")
    conn.execute("""CREATE TABLE IF NOT EXISTS passbacks (
        user TEXT NOT NULL, assignment TEXT NOT NULL, lineitem TEXT NOT NULL, score REAL, max_score REAL,
        grading TEXT NOT NULL, sent_at TEXT NOT NULL)""")
    return conn


def record_launch(db: Path, user: str, assignment: str, claims: dict) -> None:
    ags = claims.get(AGS_CLAIM) or {}
    with closing(_connect(db)) as conn, conn:
        conn.execute("INSERT OR REPLACE INTO launches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
            user, assignment, claims["sub"], claims["iss"], _audience(claims), claims[LTI + "deployment_id"],
            claims[LTI + "resource_link"]["id"], ags.get("lineitem"), " ".join(ags.get("scope") or []),
            dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))


def _audience(claims: dict) -> str:
    aud = claims["aud"]
    return claims.get("azp") or (aud[0] if isinstance(aud, list) else aud)


def launches(db: Path, assignment: str) -> list[dict]:
    if not db.exists():
        return []
    with closing(_connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(
            "SELECT * FROM launches WHERE assignment = ? ORDER BY launched_at", (assignment,))]


# -- the hub's authenticator ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _authenticator_classes():
    from jupyterhub.utils import url_path_join
    from ltiauthenticator.lti13.auth import LTI13Authenticator
    from ltiauthenticator.lti13.error import LoginError
    from ltiauthenticator.lti13.handlers import LTI13CallbackHandler
    from traitlets import List, Unicode

    from ..hub import accounts
    from ..hub.sso import hub_groups

    class CourseLTI13CallbackHandler(LTI13CallbackHandler):
        def get_next_url(self, user=None):
            # Where the signed launch says (its assignment), not the unsigned login request's target.
            assignment = getattr(self, "_adoptkit_assignment", None)
            if assignment:
                return url_path_join(self.hub.base_url, "user-redirect", "adoptkit", "assignment", quote(assignment))
            return url_path_join(self.hub.base_url, "user-redirect", "lab")

    class CourseLTI13Authenticator(LTI13Authenticator):
        """LTI13Authenticator with the course's rules (module docstring)."""

        callback_handler = CourseLTI13CallbackHandler
        deployment_ids = List(Unicode(), config=True, help="deployments that may launch (empty: any)")
        instructor_roles = List(Unicode(), config=True, help="LTI roles whose holders are instructors")
        cohort_prefix = Unicode("cohort-", config=True)
        launch_db = Unicode(config=True, help="where launches are recorded (for grade passback)")
        course_config = Unicode("", config=True, help="the course's nbgrader config (lms_user_id to the gradebook)")

        async def authenticate(self, handler, data=None):
            claims = data or {}
            deployment = claims.get(LTI + "deployment_id")
            if self.deployment_ids and deployment not in self.deployment_ids:
                raise LoginError(f"deployment {deployment!r} of this platform is not one this course accepts "
                                 "(hub.lti.deployment_ids)")
            name = str(self.get_username(claims)).strip().lower()
            if not accounts.NAME.fullmatch(name):
                raise LoginError(f"the platform sent the user name {name!r} ({self.username_key}), which cannot be "
                                 "an account name here: map a claim that is one (hub.lti.username_claim)")
            roles = claims.get(LTI + "roles") or []
            is_instructor = bool(set(roles) & set(self.instructor_roles))
            context = claims.get(LTI + "context") or {}
            groups = hub_groups({"g": ["instructor" if is_instructor else "learner"],
                                 "c": context.get("label") or context.get("title")},
                                groups_claim="g", instructor_groups=("instructor",), learner_groups=("learner",),
                                cohort_claim="c", cohort_prefix=self.cohort_prefix)
            assignment = (claims.get(LTI + "custom") or {}).get("assignment")
            if assignment is not None and not ASSIGNMENT.fullmatch(str(assignment)):
                raise LoginError(f"the link's custom parameter assignment={assignment!r} is not an assignment name")
            if claims.get(LTI + "message_type") == "LtiResourceLinkRequest":
                if assignment:
                    record_launch(Path(self.launch_db), name, assignment, claims)
                if not is_instructor:
                    self._gradebook_identity(name, claims)
            # Learners land in the assignment; instructors in JupyterLab, in the course folder they work in.
            handler._adoptkit_assignment = None if is_instructor else assignment
            return {"name": name, "groups": groups}

        def _gradebook_identity(self, name: str, claims: dict) -> None:
            """The learner's LMS id (and name, email) in the gradebook, for the grades CSV."""
            if not self.course_config:
                return
            try:
                from nbgrader.api import Gradebook

                from ..hub.pilot import course_directory_config

                cd = course_directory_config(self.course_config)
                url = cd["db_url"]
                if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
                    self.log.info("no gradebook yet (no assignment generated): %s's LMS id is kept in the "
                                  "launch record only", name)
                    return
                with Gradebook(url, cd.get("course_id", "default_course")) as gb:
                    gb.update_or_create_student(name, lms_user_id=claims["sub"],
                                                first_name=claims.get("given_name"),
                                                last_name=claims.get("family_name"), email=claims.get("email"))
            except Exception as err:  # noqa: BLE001 - the gradebook must never stop a learner's login
                self.log.warning("could not write %s's lms_user_id to the gradebook: %s (passback still finds "
                                 "them through the launch record)", name, err)

    return CourseLTI13Authenticator


def __getattr__(name):  # the hub imports the class by path; everyone else never loads ltiauthenticator
    if name == "CourseLTI13Authenticator":
        return _authenticator_classes()
    raise AttributeError(name)


def authenticator_config(settings: Settings) -> dict:
    """The CourseLTI13Authenticator's settings from the platform's registration (the hub's config adds
    where launches are recorded and the course's nbgrader config)."""
    lti = settings.hub.lti
    return {
        "issuer": lti.issuer, "client_id": [lti.client_id], "authorize_url": lti.authorize_url,
        "jwks_endpoint": lti.jwks_url, "username_key": lti.username_claim,
        "deployment_ids": list(lti.deployment_ids), "instructor_roles": list(lti.instructor_roles),
        "cohort_prefix": settings.gateway.hub.cohort_group_prefix,
        "manage_groups": True, "allow_all": True,  # only the platform's signed launches reach a login
    }


# -- passback --------------------------------------------------------------------------------------------

@dataclass
class PassbackReport:
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # with the reason


def _grading_progress(row: dict) -> str:
    if row.get("status") == "failed":
        return "Failed"
    if str(row.get("needs_manual_grade")).lower() == "true" or row.get("status") in ("flagged", "not graded"):
        return "PendingManual"
    return "FullyGraded"


def read_grades(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise LTIError(f"cannot read the grades at {path} ({err.strerror}): run `adoptkit grade ASSIGNMENT` "
                       "first; it writes reports/<assignment>-grades.csv") from None
    need = {"student_id", "lms_user_id", "score", "max_score", "status"}
    if rows and (missing := need - set(rows[0])):
        raise LTIError(f"{path} lacks the column(s) {sorted(missing)}: is it a grades CSV of `adoptkit grade`?")
    for line, row in enumerate(rows, start=2):  # checked before anything is sent: no half-sent run
        try:
            score, top = float(row["score"]), float(row["max_score"])
        except (TypeError, ValueError):
            score = top = math.nan
        if not (math.isfinite(score) and math.isfinite(top) and 0 <= score <= top
                and (top > 0 or row["status"] == "failed")):  # a failed grading sends no score
            raise LTIError(f"{path} line {line} ({row.get('student_id')}): score {row.get('score')!r} of "
                           f"max_score {row.get('max_score')!r} is not a score between 0 and a positive maximum; "
                           "regrade with `adoptkit grade ASSIGNMENT` rather than editing the CSV. Nothing was sent.")
    return rows


def passback(settings: Settings, assignment: str, grades_csv: Path, session=None) -> PassbackReport:
    """Send every learner's score for ASSIGNMENT to the line item of their LTI launch."""
    from pylti1p3.assignments_grades import AssignmentsGradesService
    from pylti1p3.exception import LtiException
    from pylti1p3.grade import Grade
    from pylti1p3.registration import Registration
    from pylti1p3.service_connector import ServiceConnector

    lti = settings.hub.lti
    if lti is None:
        raise LTIError("no LTI platform configured: set hub.authenticator: lti13 and the hub.lti section")
    pem = read_key(settings)
    registration = (Registration().set_issuer(lti.issuer).set_client_id(lti.client_id)
                    .set_auth_token_url(lti.token_url).set_auth_audience(lti.token_audience)
                    .set_tool_private_key(pem).set_tool_public_key(public_pem(pem)))

    class Connector(ServiceConnector):  # one token per scope set for this run, never written anywhere
        _tokens: dict = {}

        def _get_cached_access_token(self, scope_key):
            return self._tokens.get(scope_key)

        def _cache_access_token(self, scope_key, access_token, expires_in):
            self._tokens[scope_key] = access_token

    connector = Connector(registration, requests_session=session)
    by_user = {(r["user"]): r for r in launches(launch_db(settings), assignment)
               if r["issuer"] == lti.issuer and r["client_id"] == lti.client_id}
    report = PassbackReport()
    for row in read_grades(grades_csv):
        user = row["student_id"]
        launch = by_user.get(user)
        if launch is None:
            report.skipped.append(f"{user}: never launched {assignment} from the platform (nothing to score)")
            continue
        if not launch["lineitem"] or SCORE_SCOPE not in launch["scopes"].split():
            report.skipped.append(f"{user}: the platform's launch gave no line item with the score scope "
                                  "(turn on grade passback for this link in the LMS)")
            continue
        user_id = row.get("lms_user_id") or launch["sub"]
        if user_id != launch["sub"]:
            report.skipped.append(f"{user}: the gradebook's lms_user_id {user_id!r} is not the launch's user")
            continue
        progress = _grading_progress(row)
        grade = (Grade().set_user_id(user_id).set_activity_progress("Completed").set_grading_progress(progress)
                 .set_timestamp(dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")))
        if progress != "Failed":
            grade.set_score_given(float(row["score"])).set_score_maximum(float(row["max_score"]))
        ags = AssignmentsGradesService(connector, {"scope": launch["scopes"].split(), "lineitem": launch["lineitem"]})
        try:
            ags.put_grade(grade)
        except LtiException as err:
            raise LTIError(f"the platform refused {user}'s score for {assignment}: {err}. Scores sent before "
                           f"it: {len(report.sent)}; run the command again after fixing the cause.") from None
        with closing(_connect(launch_db(settings))) as conn, conn:
            conn.execute("INSERT INTO passbacks VALUES (?, ?, ?, ?, ?, ?, ?)", (
                user, assignment, launch["lineitem"], float(row["score"]), float(row["max_score"]), progress,
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
        report.sent.append(f"{user}: {row['score']} / {row['max_score']} ({progress})")
    return report
