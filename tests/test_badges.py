import base64
import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from adoptkit import settings as settings_mod
from adoptkit.cli import main
from adoptkit.engage import badges
from adoptkit.engage.certificate import write_certificate

from _adoption import config


@pytest.fixture
def signer(tmp_path, monkeypatch):
    key_path = badges.keygen(tmp_path / "keys" / "badge.pem")
    monkeypatch.setenv(badges.KEY_ENV, str(key_path))
    s = config(tmp_path, {"organisation": {"name": "Test Org"},
                          "engage": {"badges": {"issuer_id": "https://badges.example.org"}}})
    return s, badges.load_key(s)


def _tamper(token, change):
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    change(claims)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return ".".join([head, forged, sig])


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_signed_badge_verifies_and_is_valid_open_badges_3(tmp_path, algorithm):
    s = config(tmp_path)
    path = badges.keygen(tmp_path / f"{algorithm}.pem", algorithm)
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    cred = badges.credential(s.engage.badges.awards[1], "ana", "Ana Lopez", s)
    assert badges.schema_problems(cred, s) == []
    token = badges.sign(cred, key, algorithm, s)
    got = badges.verify(token, key.public_key(), s)
    assert got == cred
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == algorithm and header["typ"] == "JWT" and "jwk" in header


def test_tampered_or_foreign_badges_fail(signer, tmp_path):
    s, key = signer
    cred = badges.credential(s.engage.badges.awards[0], "ana", "Ana Lopez", s)
    token = badges.sign(cred, key, "RS256", s)
    renamed = _tamper(token, lambda c: c["credentialSubject"]["identifier"][0].update(identityHash="Mallory"))
    with pytest.raises(badges.BadgeError, match="signature does not match"):
        badges.verify(renamed, key.public_key(), s)
    other = serialization.load_pem_private_key(badges.keygen(tmp_path / "other.pem").read_bytes(), None)
    with pytest.raises(badges.BadgeError, match="signature does not match"):
        badges.verify(badges.sign(cred, other, "RS256", s), key.public_key(), s)
    with pytest.raises(badges.BadgeError, match="not a valid signed badge"):
        badges.verify("not.a.jwt", key.public_key(), s)


def test_expired_and_schema_invalid_badges_fail(signer):
    s, key = signer
    rule = s.engage.badges.awards[0]
    old = badges.credential(rule, "ana", "Ana", s, issued=datetime.now(timezone.utc) - timedelta(days=400))
    old["expirationDate"] = (datetime.now(timezone.utc) - timedelta(days=35)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(badges.BadgeError, match="expired"):
        badges.verify(badges.sign(old, key, "RS256", s), key.public_key(), s)
    broken = badges.credential(rule, "ana", "Ana", s)
    del broken["credentialSubject"]["achievement"]["criteria"]
    with pytest.raises(badges.BadgeError, match="criteria"):
        badges.sign(broken, key, "RS256", s)
    assert any("VerifiableCredential" in p for p in badges.schema_problems({**broken, "type": ["Nope"]}, s))


def test_missing_key_and_bad_rules_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.delenv(badges.KEY_ENV, raising=False)
    s = config(tmp_path)
    with pytest.raises(badges.BadgeError, match="ADOPTKIT_BADGE_KEY.*keygen"):
        badges.load_key(s)
    with pytest.raises(badges.BadgeError, match="refusing to overwrite"):
        badges.keygen(badges.keygen(tmp_path / "k.pem"))
    bad = config(tmp_path, {"engage": {"badges": {"awards": [
        {"id": "x", "name": "X", "description": "d", "competencies": {"telepathy": 3}}]}}})
    with pytest.raises(badges.BadgeError, match=r"awards\[0\].*telepathy"):
        badges.check_rules(bad)


def test_issue_all_awards_only_earners_once(signer, tmp_path):
    s, _ = signer
    facts = pd.DataFrame({
        "prompting post": [4, 3, 2], "grounding post": [3, 3, 4], "evaluating post": [3, 4, 4],
        "privacy post": [3, 1, None], "points": [40, 30, 20], "streak": [0, 0, 0], "published": [1, 0, 0],
    }, index=["ana", "ben", "cy"])
    names = {"ana": "Ana Lopez", "ben": "Ben Berg", "cy": "Cy Costa"}
    db = tmp_path / "records.db"
    awards = badges.issue_all(facts, names, tmp_path / "out", s, db=db, pdf=False)
    got = sorted((a.learner, a.badge) for a in awards)
    assert got == [("ana", "ai-practitioner"), ("ana", "ai-teacher"), ("ana", "safe-ai-user"),
                   ("ben", "ai-practitioner")]
    again = badges.issue_all(facts, names, tmp_path / "out", s, db=db, pdf=False)
    assert not any(a.new for a in again) and len(again) == 4
    token = (tmp_path / "out" / "ben" / "ai-practitioner.jwt").read_text()
    assert badges.verify(token, badges.load_key(s).public_key(), s)["credentialSubject"]["identifier"][0][
        "identityHash"] == "Ben Berg"
    page = (tmp_path / "out" / "ben" / "ai-practitioner.html").read_text()
    assert "Ben Berg" in page and "AI Practitioner" in page


def test_certificate_pdf_when_weasyprint_runs(signer, tmp_path):
    s, _ = signer
    cred = badges.credential(s.engage.badges.awards[0], "ana", "Ana <Lopez>", s)
    html_path, pdf_path, why = write_certificate(cred, tmp_path / "cert.html")
    assert "Ana &lt;Lopez&gt;" in html_path.read_text()  # escaped
    if pdf_path is None:
        pytest.skip(f"WeasyPrint cannot run here: {why}")
    assert pdf_path.read_bytes()[:5] == b"%PDF-"


def test_cli_verify_accepts_the_real_badge_and_rejects_a_tampered_one(signer, tmp_path, monkeypatch):
    s, key = signer
    monkeypatch.setenv("ADOPTKIT_CONFIG", str(tmp_path / "_config.yml"))
    settings_mod.current.cache_clear()
    token = badges.sign(badges.credential(s.engage.badges.awards[0], "ana", "Ana", s), key, "RS256", s)
    (tmp_path / "ok.jwt").write_text(token)
    (tmp_path / "bad.jwt").write_text(_tamper(token, lambda c: c.update(name="Something else")))
    try:
        ok = CliRunner().invoke(main, ["badges", "verify", str(tmp_path / "ok.jwt")])
        bad = CliRunner().invoke(main, ["badges", "verify", str(tmp_path / "bad.jwt")])
    finally:
        settings_mod.current.cache_clear()
    assert ok.exit_code == 0 and "valid: 'AI Practitioner' awarded to Ana" in ok.output
    assert bad.exit_code == 1 and "signature does not match" in bad.output
