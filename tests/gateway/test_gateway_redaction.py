"""PII redaction on a labelled, synthetic corpus (pii_corpus.json, 300+ snippets): recall per type is
printed; payment cards, emails and phone numbers must never reach the upstream, checked on what the
recording upstream actually received through the running gateway."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from adoptkit.gateway.redact import Redactor
from adoptkit.settings import Redaction

NEVER_LEAK = ("CREDIT_CARD", "EMAIL_ADDRESS", "PHONE_NUMBER")
KNOWN_GAPS = ("EMAIL_OBFUSCATED",)  # "jo at example dot com": reported, not claimed


@pytest.fixture(scope="module")
def redactor(corpus):
    return Redactor(Redaction(deny_names=corpus["deny_names"], org_patterns=corpus["org_patterns"])).warm()


def _digits_leaked(value: str, text: str) -> bool:
    """True if seven consecutive digits of a number survive anywhere in `text`, separators ignored."""
    want = re.sub(r"\D", "", value)
    have = re.sub(r"(?<=\d)[\s().\-/+]+(?=\d)", "", text)
    return any(want[i:i + 7] in have for i in range(max(1, len(want) - 6))) if len(want) >= 7 else value in text


def _leaked(entity: dict, text: str) -> bool:
    if entity["type"] in ("CREDIT_CARD", "PHONE_NUMBER", "IBAN_CODE", "US_SSN"):
        return _digits_leaked(entity["value"], text)
    return entity["value"].lower() in text.lower()


def test_corpus_is_big_and_varied(corpus):
    snippets = corpus["snippets"]
    types = Counter(e["type"] for s in snippets for e in s["entities"])
    assert len(snippets) >= 200
    assert all(types[t] >= 8 for t in ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN",
                                       "UK_NINO", "IP_ADDRESS", "PERSON", "EMPLOYEE_ID"))
    assert sum(not s["entities"] for s in snippets) >= 20  # negatives: amounts, dates, order numbers


def test_recall_per_type(corpus, redactor, capsys):
    """An entity counts as found when none of it survives and the learner is told its type."""
    total, found, leaked = Counter(), Counter(), Counter()
    misses = []
    for s in corpus["snippets"]:
        red = redactor.redact(s["text"])
        for e in s["entities"]:
            total[e["type"]] += 1
            gone = not _leaked(e, red.text)
            if gone and red.counts[e["type"]]:
                found[e["type"]] += 1
            elif e["type"] not in KNOWN_GAPS:
                misses.append(f"{e['type']}: {e['value']!r} in {s['text']!r} -> {red.text!r}")
            leaked[e["type"]] += not gone
    lines = [f"{'type':18} {'labelled':>8} {'found':>6} {'recall':>7} {'leaked':>7}"]
    lines += [f"{t:18} {total[t]:8} {found[t]:6} {found[t] / total[t]:7.1%} {leaked[t]:7}" for t in sorted(total)]
    with capsys.disabled():
        print("\nPII recall on tests/gateway/pii_corpus.json (synthetic):\n" + "\n".join(lines))
        if misses:
            print("missed:\n  " + "\n  ".join(misses))
    for t in NEVER_LEAK:
        assert found[t] == total[t] and leaked[t] == 0, t
    for t in total:
        if t not in KNOWN_GAPS:
            assert found[t] / total[t] >= 0.9, (t, found[t], total[t])


def test_prefilter_loses_nothing_presidio_finds(corpus, redactor):
    """Presidio on the pre-filter's windows (and the masked phone pass) finds exactly what Presidio on
    the whole text finds."""
    from adoptkit.gateway.textnorm import normalise

    for s in corpus["snippets"]:
        text = normalise(s["text"]).text
        assert sorted(redactor.presidio(text)) == sorted(redactor.presidio(text, whole=True)), s["text"]


def test_clean_text_skips_presidio(redactor):
    assert redactor.candidates("Classify the sentiment of this review as positive or negative.") == []
    assert redactor.candidates("Total $1,284.50 on 2024-03-15") != []  # digits: Presidio looks, finds nothing
    assert redactor.redact("Total $1,284.50 on 2024-03-15").counts == Counter()


def test_business_numbers_survive_and_luhn_rejects(corpus, redactor):
    for s in corpus["snippets"]:
        if s["entities"]:
            continue
        red = redactor.redact(s["text"])
        if "Luhn" in s.get("note", ""):
            assert "CREDIT_CARD" not in red.counts, s["text"]
        else:
            assert red.text == s["text"], s["text"]


def test_cards_emails_phones_never_reach_the_upstream(corpus, gateway, upstream):
    """Every snippet with a card, an email or a phone number, through the gateway to the upstream."""
    c = gateway.client(gateway.key())
    sent = 0
    for s in corpus["snippets"]:
        risky = [e for e in s["entities"] if e["type"] in NEVER_LEAK]
        if not risky:
            continue
        c.chat.completions.create(model="course-real", messages=[{"role": "user", "content": f"Summarise: {s['text']}"}])
        received = json.dumps(upstream.last("/v1/chat/completions")["body"]["messages"])
        for e in risky:
            assert not _leaked(e, received), (e, received)
        sent += 1
    assert sent >= 150
