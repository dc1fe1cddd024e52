"""An LTI 1.3 platform stand-in for the tests (never in the product): no LMS installs here, so this plays
one on loopback and checks the tool's side of the protocol strictly (LTI 1.3 Core, 1EdTech Security
Framework 1.0, LTI AGS 2.0). Every violation is answered with an error and recorded in `errors`.

- GET  /launch?user=&link=         a learner clicks a link: third-party initiated login to the tool
- GET  /auth                       the OIDC authentication request: scope, response_type, response_mode,
                                   prompt, client_id, redirect_uri, login_hint, lti_message_hint, state,
                                   nonce (once only); answers with an auto-posted form: id_token (RS256, kid)
                                   and state
- GET  /jwks                       the platform's keyset
- POST /token                      client credentials with a JWT assertion, checked against the tool's
                                   keyset (fetched from the tool): iss = sub = client_id, aud, exp, iat,
                                   jti once only; scopes granted only from those the tool was given
- POST /lineitems/<id>/scores      AGS score: bearer token with the score scope, media type
                                   application/vnd.ims.lis.v1.score+json, the score's fields and values
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
          "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
          "https://purl.imsglobal.org/spec/lti-ags/scope/score"]
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


class Platform:
    def __init__(self, host: str = "localhost"):
        self.key = new_key()  # in its keyset (/jwks)
        self.signing_key = self.key  # what it signs id_tokens with: a test may forge with another
        self.kid = secrets.token_hex(8)
        self.errors: list[str] = []
        self.scores: list[dict] = []
        self.token_requests: list[dict] = []
        self.launches: dict[str, dict] = {}  # lti_message_hint -> launch
        self.nonces: set[str] = set()
        self.jtis: set[str] = set()
        self.tokens: dict[str, list[str]] = {}
        self.users: dict[str, dict] = {}  # login_hint -> the person
        self.links: dict[str, dict] = {}  # resource link id -> {assignment, lineitem}
        self.client_id = "adoptkit-tool-" + secrets.token_hex(4)
        self.deployment_id = "deployment-1"
        self.tool: dict = {}  # login_url, redirect_uri, jwks_url: what the admin registered
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                url = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                try:
                    if url.path == "/launch":
                        return self._redirect(platform.initiate(q["user"], q["link"], q.get("deployment")))
                    if url.path == "/auth":
                        return self._html(platform.authenticate(q))
                    if url.path == "/jwks":
                        return self._json({"keys": [platform.public_jwk()]})
                except Refused as err:
                    return self._error(400, str(err))
                self._error(404, "no such page")

            def do_POST(self):  # noqa: N802
                url = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    if url.path == "/token":
                        return self._json(platform.token(self.headers, body))
                    if url.path.startswith("/lineitems/") and url.path.endswith("/scores"):
                        platform.score(url.path.removesuffix("/scores"), self.headers, body)
                        self.send_response(204)
                        self.end_headers()
                        return
                except Refused as err:
                    return self._error(err.status, str(err))
                self._error(404, "no such endpoint")

            def _redirect(self, location):
                self.send_response(302)
                self.send_header("Location", location)
                self.end_headers()

            def _html(self, text):
                self._send(200, "text/html; charset=utf-8", text.encode())

            def _json(self, data):
                self._send(200, "application/json", json.dumps(data).encode())

            def _error(self, status, message):
                platform.errors.append(message)
                self._send(status, "text/plain; charset=utf-8", message.encode())

            def _send(self, status, kind, data):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"  # the issuer
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- life cycle --------------------------------------------------------------------------------------
    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def public_jwk(self) -> dict:
        return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key())),
                "kid": self.kid, "alg": "RS256", "use": "sig"}

    def add_link(self, link_id: str, assignment: str) -> str:
        lineitem = f"{self.url}/lineitems/{link_id}"
        self.links[link_id] = {"assignment": assignment, "lineitem": lineitem}
        return lineitem

    # -- the launch ---------------------------------------------------------------------------------------
    def initiate(self, user: str, link: str, deployment: str | None = None) -> str:
        hint = secrets.token_urlsafe(12)
        self.launches[hint] = {"user": user, "link": link, "deployment": deployment or self.deployment_id}
        return f"{self.tool['login_url']}?" + urlencode({
            "iss": self.url, "login_hint": self.users[user]["login_hint"], "lti_message_hint": hint,
            "target_link_uri": self.tool["target_link_uri"], "client_id": self.client_id,
            "lti_deployment_id": deployment or self.deployment_id})

    def authenticate(self, q: dict) -> str:
        want = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
                "client_id": self.client_id, "redirect_uri": self.tool["redirect_uri"]}
        for key, value in want.items():
            if q.get(key) != value:
                raise Refused(f"authentication request: {key}={q.get(key)!r}, expected {value!r}")
        for key in ("state", "nonce", "login_hint", "lti_message_hint"):
            if not q.get(key):
                raise Refused(f"authentication request without {key}")
        launch = self.launches.pop(q["lti_message_hint"], None)
        if launch is None:
            raise Refused("authentication request: unknown or reused lti_message_hint")
        person = self.users[launch["user"]]
        if q["login_hint"] != person["login_hint"]:
            raise Refused("authentication request: login_hint is not the one sent at login initiation")
        if q["nonce"] in self.nonces:
            raise Refused("authentication request: a nonce used before")
        self.nonces.add(q["nonce"])
        link = self.links[launch["link"]]
        now = int(time.time())
        claims = {
            "iss": self.url, "aud": self.client_id, "sub": person["sub"], "iat": now, "exp": now + 300,
            "nonce": q["nonce"], "name": person["name"], "given_name": person["name"].split()[0],
            "family_name": person["name"].split()[-1], "email": person["email"],
            LTI + "message_type": "LtiResourceLinkRequest", LTI + "version": "1.3.0",
            LTI + "deployment_id": launch["deployment"], LTI + "target_link_uri": self.tool["target_link_uri"],
            LTI + "resource_link": {"id": launch["link"], "title": link["assignment"]},
            LTI + "roles": [person["role"]],
            LTI + "context": {"id": "course-7", "label": "Sales 2026 Q1", "title": "AI for sales"},
            LTI + "custom": {"username": person["username"], "assignment": link["assignment"]},
            AGS: {"scope": SCOPES, "lineitems": f"{self.url}/lineitems", "lineitem": link["lineitem"]},
        }
        token = jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.kid})
        self.last_id_token = token
        return (f'<!DOCTYPE html><html><body><form id="f" method="post" action="{html.escape(q["redirect_uri"])}">'
                f'<input type="hidden" name="id_token" value="{token}">'
                f'<input type="hidden" name="state" value="{html.escape(q["state"])}"></form>'
                '<script>document.getElementById("f").submit();</script></body></html>')

    # -- services ----------------------------------------------------------------------------------------
    def token(self, headers, body: bytes) -> dict:
        if headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
            raise Refused("token request: not a form")
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        self.token_requests.append(form)
        if form.get("grant_type") != "client_credentials":
            raise Refused(f"token request: grant_type={form.get('grant_type')!r}")
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            raise Refused("token request: client_assertion_type")
        assertion = form.get("client_assertion", "")
        with urllib.request.urlopen(self.tool["jwks_url"], timeout=10) as r:  # the tool's keyset, over HTTP
            keys = json.load(r)["keys"]
        kid = jwt.get_unverified_header(assertion).get("kid")
        match = [k for k in keys if k.get("kid") == kid]
        if not match:
            raise Refused(f"token request: no key {kid!r} in the tool's keyset", 401)
        try:
            claims = jwt.decode(assertion, jwt.PyJWK(match[0]).key, algorithms=["RS256"],
                                audience=f"{self.url}/token", issuer=self.client_id,
                                options={"require": ["exp", "iat", "jti", "sub"]})
        except jwt.PyJWTError as err:
            raise Refused(f"token request: client assertion refused ({err})", 401) from None
        if claims["sub"] != self.client_id or claims["jti"] in self.jtis:
            raise Refused("token request: sub is not the client id, or the jti was used before", 401)
        self.jtis.add(claims["jti"])
        asked = form.get("scope", "").split()
        if not asked or set(asked) - set(SCOPES):
            raise Refused(f"token request: scopes {asked} are not the ones granted to the tool")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = asked
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": " ".join(asked)}

    def score(self, lineitem_path: str, headers, body: bytes) -> None:
        auth = headers.get("Authorization", "")
        scopes = self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if scopes is None:
            raise Refused("score: no valid bearer token", 401)
        if SCOPES[2] not in scopes:
            raise Refused("score: the token lacks the score scope", 403)
        if headers.get("Content-Type") != SCORE_TYPE:
            raise Refused(f"score: Content-Type {headers.get('Content-Type')!r}, expected {SCORE_TYPE}", 415)
        lineitem = self.url + lineitem_path
        if lineitem not in {link["lineitem"] for link in self.links.values()}:
            raise Refused(f"score: no line item {lineitem}", 404)
        s = json.loads(body)
        subs = {u["sub"] for u in self.users.values()}
        if s.get("userId") not in subs:
            raise Refused(f"score: userId {s.get('userId')!r} is no user of this platform")
        if s.get("activityProgress") not in ("Initialized", "Started", "InProgress", "Submitted", "Completed"):
            raise Refused(f"score: activityProgress {s.get('activityProgress')!r}")
        if s.get("gradingProgress") not in ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"):
            raise Refused(f"score: gradingProgress {s.get('gradingProgress')!r}")
        try:
            stamp = datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            raise Refused(f"score: timestamp {s.get('timestamp')!r} is not ISO 8601") from None
        if stamp.tzinfo is None:
            raise Refused("score: timestamp without a time zone")
        if "scoreGiven" in s:
            if not (isinstance(s["scoreGiven"], (int, float)) and isinstance(s.get("scoreMaximum"), (int, float))
                    and 0 <= s["scoreGiven"] and s["scoreMaximum"] > 0):
                raise Refused("score: scoreGiven needs a numeric scoreMaximum > 0")
        self.scores.append({"lineitem": lineitem, **s})


class Refused(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
