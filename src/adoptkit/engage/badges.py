"""Open Badges 3.0 credentials: issued when a learner meets a badge's criteria, signed as a JWT, verifiable.

The credential is an `OpenBadgeCredential` (a W3C Verifiable Credential) shaped to 1EdTech's published JSON
Schema, which is fetched like a dataset (pinned URL + sha256, from a mirror offline) and checked on every
issue and verify. The JWT follows OB 3.0's VC-JWT form: the payload is the credential itself plus the
registered claims iss, jti, sub, nbf (and exp), and the JOSE header carries the issuer's public key (jwk).
Verification trusts the configured key only, never the key inside a token.

The signing key comes from ADOPTKIT_BADGE_KEY (a path to a PEM file) or `engage.badges.key_file`; it is
never committed (`adoptkit badges keygen PATH` makes one outside the repository). Verifiers need only the
public key (`adoptkit badges public-key`); the algorithm is the key's, never the one a token names.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import jwt
import pandas as pd
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ..data.cache import DataError, fetch_file, mirror_dir
from ..data.catalog import DataFile
from ..measure import records
from ..settings import BadgeRule, Settings, current

CONTEXT = ["https://www.w3.org/2018/credentials/v1", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
SCHEMA = DataFile(
    "ob_v3p0_achievementcredential_schema.json",
    "513c2b614bb1598f7ad2617854e06f5aa50bc2588e8efc433972de48635081e7",
    "https://raw.githubusercontent.com/1EdTech/openbadges-specification/"
    "e0fdb03dfe8e710508d690ba6d612d0b913e3ac8/docs/schema/achievementcredential.json",
)
SCHEMA_ID = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
KEY_ENV = "ADOPTKIT_BADGE_KEY"
PUBLIC_KEY_ENV = "ADOPTKIT_BADGE_PUBLIC_KEY"
PLACEHOLDER_ISSUER = "https://example.org/adoptkit"
MAX_TOKEN_BYTES = 1_000_000  # a badge is a few kilobytes; anything this large is not one
MIRROR_ENV = "ADOPTKIT_OPENBADGES_MIRROR"


class BadgeError(ValueError):
    """A badge cannot be issued or does not verify; the message says why."""


# --- the schema ------------------------------------------------------------------------------------

def schema_mirror(settings: Settings) -> Path | None:
    """ADOPTKIT_OPENBADGES_MIRROR, else the setting, else an `openbadges` folder beside the data mirror."""
    if env := os.environ.get(MIRROR_ENV):
        return Path(env)
    if settings.engage.badges.schema_mirror:
        return settings.path(settings.engage.badges.schema_mirror)
    data = mirror_dir(settings)
    return data.parent / "openbadges" if data is not None else None


@lru_cache(maxsize=4)
def _validator(path: str):
    from jsonschema import Draft201909Validator, FormatChecker

    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    return Draft201909Validator(schema, format_checker=FormatChecker())


def schema_problems(credential: dict, settings: Settings | None = None) -> list[str]:
    """Everything in `credential` that 1EdTech's OB 3.0 schema (and the spec's type rules) rejects."""
    s = settings or current()
    try:
        path = fetch_file(SCHEMA, s, mirror=schema_mirror(s))
    except DataError as err:
        raise BadgeError(f"cannot get 1EdTech's Open Badges 3.0 schema to check the credential: {err}\n"
                         f"Offline, point {MIRROR_ENV} at a folder holding {SCHEMA.path} "
                         f"(such as ../shared/openbadges).") from None
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in _validator(str(path)).iter_errors(credential)]
    types = credential.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "VerifiableCredential" not in types or not {"OpenBadgeCredential", "AchievementCredential"} & set(types):
        problems.append("type: must include VerifiableCredential and OpenBadgeCredential")
    return problems


# --- keys --------------------------------------------------------------------------------------------

def keygen(path: str | Path, algorithm: str = "RS256") -> Path:
    """Write a new private key (PEM, readable by the owner only). Keep it out of the repository."""
    key = {"RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
           "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
           "EdDSA": ed25519.Ed25519PrivateKey.generate}[algorithm]()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path = Path(path)
    if path.exists():
        raise BadgeError(f"{path} exists; refusing to overwrite a signing key (badges signed with it would no "
                         f"longer verify). Choose another path.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return path


def load_key(settings: Settings | None = None):
    s = settings or current()
    where = os.environ.get(KEY_ENV) or (str(s.path(s.engage.badges.key_file)) if s.engage.badges.key_file else None)
    if not where:
        raise BadgeError(f"no badge signing key: set {KEY_ENV} to the path of a PEM private key (make one with "
                         f"`adoptkit badges keygen PATH`, outside the repository), or adoptkit.engage.badges.key_file.")
    try:
        return serialization.load_pem_private_key(Path(where).read_bytes(), password=None)
    except FileNotFoundError:
        raise BadgeError(f"badge signing key {where} not found ({KEY_ENV} or engage.badges.key_file)") from None
    except (ValueError, TypeError) as err:
        raise BadgeError(f"{where} is not an unencrypted PEM private key: {err}") from None


def public_pem(settings: Settings | None = None) -> bytes:
    """The issuer's public key (PEM), derived from the signing key: what verifiers need, and all they need."""
    return load_key(settings).public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(path: str | Path):
    """A PEM public key (from `adoptkit badges public-key`); a private key file is refused, never needed here."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise BadgeError(f"cannot read the public key {path}: {err.strerror}") from None
    if b"PRIVATE KEY" in data:
        raise BadgeError(f"{path} holds a private key: verifying needs only the public key (export it with "
                         f"`adoptkit badges public-key`), and the private key should stay with the issuer")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as err:
        raise BadgeError(f"{path} is not a PEM public key ({err}); export the issuer's with "
                         f"`adoptkit badges public-key`") from None
    _algorithm(key)
    return key


def _algorithm(public_key) -> str:
    """The one JWS algorithm this key signs with; a token naming another (e.g. HS256) is refused."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ES256"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    raise BadgeError(f"unsupported key type {type(public_key).__name__}: use an RSA, P-256 or Ed25519 key")


def issuer_warning(settings: Settings | None = None) -> str | None:
    """A warning while the issuer is still the placeholder IRI (badges would name example.org as their issuer)."""
    s = settings or current()
    if s.engage.badges.issuer_id.rstrip("/") == PLACEHOLDER_ISSUER:
        return (f"warning: adoptkit.engage.badges.issuer_id is still the placeholder {PLACEHOLDER_ISSUER}: every "
                f"badge names its issuer by this IRI, so set it to a URL your organisation controls (for example "
                f"https://learning.your-company.com/adoptkit) before issuing badges that people will share.")
    return None


def _jwk(public_key) -> dict:
    algo = {rsa.RSAPublicKey: jwt.algorithms.RSAAlgorithm, ec.EllipticCurvePublicKey: jwt.algorithms.ECAlgorithm,
            ed25519.Ed25519PublicKey: jwt.algorithms.OKPAlgorithm}
    for kind, impl in algo.items():
        if isinstance(public_key, kind):
            return json.loads(impl.to_jwk(public_key))
    raise BadgeError(f"unsupported key type {type(public_key).__name__}")


def read_token(path: str | Path) -> str:
    """A badge file's token: text of at most MAX_TOKEN_BYTES; anything else is a clear error, not a traceback."""
    try:
        data = Path(path).read_bytes()[:MAX_TOKEN_BYTES + 1]
    except OSError as err:
        raise BadgeError(f"cannot read {path}: {err.strerror}") from None
    if len(data) > MAX_TOKEN_BYTES:
        raise BadgeError(f"{path} is over {MAX_TOKEN_BYTES:,} bytes: not a badge (a badge is a .jwt of a few KB)")
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise BadgeError(f"{path} is not a badge: a badge is a signed token (the .jwt file the kit issued), "
                         f"plain text of three dot-separated parts; this file holds binary data") from None
    if text.count(".") != 2:
        raise BadgeError(f"{path} is not a badge: a signed token has three dot-separated parts (the .jwt file "
                         f"the kit issued, not the .json or .html beside it)")
    return text


# --- credentials -------------------------------------------------------------------------------------

def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def credential(rule: BadgeRule, learner: str, name: str, settings: Settings | None = None,
               issued: datetime | None = None) -> dict:
    s = settings or current()
    b = s.engage.badges
    issued = issued or datetime.now(timezone.utc)
    issuer = b.issuer_id.rstrip("/")
    cred = {
        "@context": CONTEXT,
        # The same learner and badge always get the same id: re-issuing replaces, never duplicates.
        "id": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{issuer}/badges/{rule.id}/{learner}')}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": rule.name,
        "issuer": {"id": issuer, "type": ["Profile"], "name": s.organisation.name},
        "issuanceDate": _iso(issued),
        "credentialSubject": {
            "id": f"{issuer}/learners/{quote(learner, safe='')}",
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "identityType": "name", "hashed": False,
                            "identityHash": name}],
            "achievement": {
                "id": f"{issuer}/achievements/{rule.id}",
                "type": ["Achievement"],
                "achievementType": "Badge",
                "name": rule.name,
                "description": rule.description,
                "criteria": {"narrative": criteria_text(rule, s)},
            },
        },
        "credentialSchema": [{"id": SCHEMA_ID, "type": "1EdTechJsonSchemaValidator2019"}],
    }
    if b.valid_days:
        cred["expirationDate"] = _iso(issued + timedelta(days=b.valid_days))
    return cred


def criteria_text(rule: BadgeRule, s: Settings) -> str:
    names = {c.id: c.name for c in s.competency.competencies}
    parts = [f"{names.get(c, c)} at level {lvl} ({s.competency.levels[lvl]}) or above"
             for c, lvl in rule.competencies.items()]
    if rule.min_points is not None:
        parts.append(f"at least {rule.min_points:g} points in graded work")
    if rule.min_streak_days is not None:
        parts.append(f"a streak of {rule.min_streak_days} working days of practice")
    if rule.min_teachbacks_published is not None:
        parts.append(f"{rule.min_teachbacks_published} teach-back lesson(s) published in the course book")
    return "Awarded for " + "; ".join(parts) + "."


def sign(cred: dict, key, algorithm: str, settings: Settings | None = None) -> str:
    problems = schema_problems(cred, settings)
    if problems:
        raise BadgeError("the credential does not meet the Open Badges 3.0 schema:\n  " + "\n  ".join(problems))
    nbf = int(datetime.fromisoformat(cred["issuanceDate"].replace("Z", "+00:00")).timestamp())
    claims = {**cred, "iss": cred["issuer"]["id"], "jti": cred["id"], "sub": cred["credentialSubject"]["id"],
              "nbf": nbf}
    if "expirationDate" in cred:
        claims["exp"] = int(datetime.fromisoformat(cred["expirationDate"].replace("Z", "+00:00")).timestamp())
    return jwt.encode(claims, key, algorithm=algorithm, headers={"typ": "JWT", "jwk": _jwk(key.public_key())})


def verify(token: str, public_key, settings: Settings | None = None) -> dict:
    """The credential, if the token is signed by `public_key`, unexpired and valid OB 3.0; else BadgeError.

    The algorithm comes from the key, never from the token: a token that names another (HS256 "signed" with
    the public key, "none") is refused before any signature check.
    """
    token = token.strip()
    expected = _algorithm(public_key)
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != expected:
            raise BadgeError(f"the token says it is signed with {header.get('alg')!r}, but the issuer's key signs "
                             f"with {expected}: refused (a token cannot choose how it is checked)")
        claims = jwt.decode(token, public_key, algorithms=[expected],
                            options={"require": ["iss", "jti", "sub", "nbf"], "verify_aud": False})
    except BadgeError:
        raise
    except jwt.ExpiredSignatureError:
        raise BadgeError("the badge has expired (its exp claim is in the past)") from None
    except jwt.InvalidSignatureError:
        raise BadgeError("the signature does not match: the badge was altered, or signed by another key") from None
    except jwt.PyJWTError as err:
        raise BadgeError(f"not a valid signed badge: {err}") from None
    except (ValueError, TypeError, KeyError) as err:  # a malformed token that PyJWT does not wrap
        raise BadgeError(f"not a valid signed badge ({err.__class__.__name__})") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise BadgeError("not a valid signed badge: its header or payload is not a JSON object")
    if header.get("jwk") and header["jwk"] != _jwk(public_key):
        raise BadgeError("the token's header names a different key than the issuer's")
    cred = {k: v for k, v in claims.items() if k not in ("iss", "jti", "sub", "nbf", "exp")}
    issuer, subject = cred.get("issuer"), cred.get("credentialSubject")
    mismatch = [claim for claim, value in (("iss", issuer.get("id") if isinstance(issuer, dict) else None),
                                            ("jti", cred.get("id")),
                                            ("sub", subject.get("id") if isinstance(subject, dict) else None))
                if claims[claim] != value]
    if mismatch:
        raise BadgeError(f"the JWT claims {mismatch} do not match the credential inside it")
    problems = schema_problems(cred, settings)
    if problems:
        raise BadgeError("signed, but not a valid Open Badges 3.0 credential:\n  " + "\n  ".join(problems))
    return cred


# --- who earns what ----------------------------------------------------------------------------------

@dataclass
class Award:
    learner: str
    badge: str
    path: Path
    new: bool


def check_rules(s: Settings) -> None:
    known = set(s.competency.ids())
    for i, rule in enumerate(s.engage.badges.awards):
        for comp, level in rule.competencies.items():
            if comp not in known:
                raise BadgeError(f"adoptkit.engage.badges.awards[{i}] ({rule.id}) needs competency {comp!r}, which "
                                 f"is not in adoptkit.competency; known: {sorted(known)}")
            if not 0 <= level <= 4:
                raise BadgeError(f"adoptkit.engage.badges.awards[{i}] ({rule.id}): level {level} for {comp} "
                                 f"is outside 0-4")


def earners(facts: pd.DataFrame, rule: BadgeRule) -> list[str]:
    """Learners (index of `facts`) meeting every criterion of `rule`."""
    ok = pd.Series(True, index=facts.index)
    for comp, level in rule.competencies.items():
        col = f"{comp} post"
        ok &= facts[col].fillna(-1) >= level if col in facts else False
    for col, minimum in (("points", rule.min_points), ("streak", rule.min_streak_days),
                         ("published", rule.min_teachbacks_published)):
        if minimum is not None:
            ok &= facts[col].fillna(0) >= minimum
    return sorted(facts.index[ok])


def issue_all(facts: pd.DataFrame, names: dict[str, str], out_dir: str | Path, settings: Settings | None = None,
              db: str | Path | None = None, pdf: bool = True) -> list[Award]:
    """Issue every badge earned and not yet issued; write FILE.jwt, FILE.json and a certificate per badge."""
    from .certificate import write_certificate

    s = settings or current()
    check_rules(s)
    key = load_key(s)
    out = Path(out_dir)
    awards = []
    with records.connect(db, s) as conn:
        done = set(conn.execute("SELECT learner, badge FROM badge_issued").fetchall())
        for rule in s.engage.badges.awards:
            for learner in earners(facts, rule):
                path = out / learner / f"{rule.id}.jwt"
                if (learner, rule.id) in done and path.exists():
                    awards.append(Award(learner, rule.id, path, new=False))
                    continue
                cred = credential(rule, learner, names.get(learner, learner), s)
                token = sign(cred, key, s.engage.badges.algorithm, s)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(token + "\n", encoding="utf-8")
                path.with_suffix(".json").write_text(json.dumps(cred, indent=2), encoding="utf-8")
                write_certificate(cred, path.with_suffix(".html"), pdf=pdf)
                conn.execute("INSERT OR REPLACE INTO badge_issued VALUES (?, ?, ?, ?, ?)",
                             (learner, rule.id, cred["id"], str(path), records.now()))
                awards.append(Award(learner, rule.id, path, new=True))
    return awards
