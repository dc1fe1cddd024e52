"""PII redaction before text leaves for a model: Presidio's recognizers behind a cheap pre-filter.

Presidio (offline, with a blank spaCy pipeline: no model download) finds emails, phone numbers
(python-phonenumbers, several regions), payment cards (Luhn-checked), IBANs (checksum), US SSNs, UK
National Insurance numbers, IP addresses, the organisation's own ID patterns and deny-listed names.
It costs milliseconds per text, mostly in the phone matcher, so a pre-filter first finds *candidate
windows*: every '@', every run of six or more digits (separators allowed), every IP-, IBAN- and
org-pattern shape and every deny-listed name. Presidio runs only on those windows (with a margin for
its context words) and only for the types each window may hold. Every Presidio match needs its
candidate (an email has an '@', a phone, card, SSN, NINO or IBAN has six or more digits, ...), so
the pre-filter loses no recall; tests/gateway/test_gateway_redaction.py checks that on the PII corpus
(a six-digit threshold, not seven: python-phonenumbers does match some six-digit numbers).

Each match is replaced by `<TYPE>` (e.g. `<EMAIL_ADDRESS>`); the caller gets the counts by type.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..settings import Redaction

# tldextract (under Presidio's URL recognizer) would fetch the public-suffix list; keep it offline.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

SUPPORTED = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "UK_NINO", "IP_ADDRESS", "PERSON")
MARGIN = 48  # characters either side of a candidate: Presidio's context words, an IBAN's letters

_DIGITS = ("PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "UK_NINO")
# (a substring without which the pattern cannot match, the pattern, the types it may hold); the substring
# test is C-fast and skips the regex on most text
_PREFILTERS: list[tuple[str | None, re.Pattern, tuple[str, ...]]] = [
    ("@", re.compile(r"[^\s@]*@\S*"), ("EMAIL_ADDRESS",)),
    # six or more digits, at most three separator characters between two of them
    (None, re.compile(r"\d(?:[\s().\-/+]{0,3}\d){5,}"), _DIGITS),
    (None, re.compile(r"\b[A-Za-z]{2}\d{2}[ ]?[A-Za-z0-9]{4}"), ("IBAN_CODE",)),
    (".", re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"), ("IP_ADDRESS",)),
    (":", re.compile(r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*"), ("IP_ADDRESS",)),
]


@dataclass
class Redacted:
    text: str
    counts: Counter = field(default_factory=Counter)


def load_names(cfg: Redaction, root: Path) -> list[str]:
    names = list(cfg.deny_names)
    if cfg.deny_names_file:
        path = Path(cfg.deny_names_file)
        path = path if path.is_absolute() else root / path
        try:
            names += path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise ValueError(f"gateway.redaction.deny_names_file: cannot read {path} ({err.strerror})") from None
    return sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=len, reverse=True)


class Redactor:
    def __init__(self, cfg: Redaction, root: Path = Path(".")):
        unknown = [e for e in cfg.entities if e not in SUPPORTED]
        if unknown:
            raise ValueError(f"gateway.redaction.entities: {unknown} not supported; choose from {', '.join(SUPPORTED)} "
                             "(the organisation's own IDs go in gateway.redaction.org_patterns)")
        self.cfg = cfg
        self.names = load_names(cfg, root) if "PERSON" in cfg.entities else []
        self.entities = {e for e in cfg.entities if e != "PERSON" or self.names} | set(cfg.org_patterns)
        self.prefilters = [(need, rx, tuple(t for t in types if t in self.entities)) for need, rx, types in _PREFILTERS]
        self.prefilters += [(None, re.compile(p), (name,)) for name, p in cfg.org_patterns.items()]
        if self.names:
            alternation = "|".join(re.escape(n) for n in self.names)
            self.prefilters.append((None, re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.I), ("PERSON",)))
        self.prefilters = [(need, rx, types) for need, rx, types in self.prefilters if types]
        self._engines = None
        self._lock = threading.Lock()

    # -- Presidio, built once on first need (about a second: spaCy's import) ---------------------------
    def warm(self) -> "Redactor":
        with self._lock:
            if self._engines is None:
                self._engines = _build_engines(self.cfg, self.names)
        return self

    def candidates(self, text: str) -> list[tuple[int, int, set[str]]]:
        """Merged windows (start, end, types) where Presidio should look."""
        spans = []
        for need, rx, types in self.prefilters:
            if need is not None and need not in text:
                continue
            for m in rx.finditer(text):
                spans.append((max(0, m.start() - MARGIN), min(len(text), m.end() + MARGIN), set(types)))
        spans.sort(key=lambda s: s[0])
        merged: list[tuple[int, int, set[str]]] = []
        for start, end, types in spans:
            if merged and start <= merged[-1][1]:
                s0, e0, t0 = merged[-1]
                merged[-1] = (s0, max(e0, end), t0 | types)
            else:
                merged.append((start, end, types))
        return merged

    def analyze(self, text: str, windows=None):
        """Presidio's findings (offsets into `text`), on the candidate windows only.

        The phone matcher (python-phonenumbers, once per region) is most of the cost, so it runs last,
        on the window with every span already identified for certain (a Luhn-valid card, a checksummed
        IBAN, an email, a deny-listed name: score 1.0) masked out: those digits cannot be a phone number
        that wins over them, and the matcher no longer parses them once per region."""
        windows = self.candidates(text) if windows is None else windows
        if not windows:
            return []
        analyzer, _ = self.warm()._engines
        from presidio_analyzer import EntityRecognizer, RecognizerResult

        results = []
        for start, end, types in windows:
            segment = text[start:end]
            # tokens once per window; the masked copy below has the same length, so they fit it too
            tokens = analyzer.nlp_engine.process_text(segment, "en")

            def find(seg: str, entities: list[str]) -> list:
                return analyzer.analyze(seg, language="en", entities=entities, score_threshold=self.cfg.min_score,
                                        nlp_artifacts=tokens)

            found = find(segment, sorted(types - {"PHONE_NUMBER"})) if types - {"PHONE_NUMBER"} else []
            if "PHONE_NUMBER" in types:
                masked = segment
                for r in found:
                    if r.score >= 1.0:
                        masked = masked[:r.start] + "x" * (r.end - r.start) + masked[r.end:]
                # ordered as one analyze() call orders them, so ties between types resolve the same way
                found = EntityRecognizer.remove_duplicates(found + find(masked, ["PHONE_NUMBER"]))
            results += [RecognizerResult(r.entity_type, r.start + start, r.end + start, r.score) for r in found]
        return results

    def analyze_whole(self, text: str):
        """Presidio on the whole text, no pre-filter: the reference the pre-filter must match."""
        analyzer, _ = self.warm()._engines
        return analyzer.analyze(text, language="en", entities=sorted(self.entities), score_threshold=self.cfg.min_score)

    def redact(self, text: str, whole: bool = False) -> Redacted:
        """`text` with every finding replaced by `<TYPE>`; `whole=True` skips the pre-filter (for tests)."""
        if not text or not self.prefilters:
            return Redacted(text)
        results = self.analyze_whole(text) if whole else self.analyze(text)
        if not results:
            return Redacted(text)
        _, anonymizer = self._engines
        out = anonymizer.anonymize(text=text, analyzer_results=results)  # default operator: "<TYPE>"
        return Redacted(out.text, Counter(item.entity_type for item in out.items))


def _build_engines(cfg: Redaction, names: list[str]):
    import spacy
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer import predefined_recognizers as pr
    from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
    from presidio_anonymizer import AnonymizerEngine

    class BlankEnglish(SpacyNlpEngine):
        """spaCy's blank English tokenizer: no model to download. With no lemmatizer, lower-cased
        tokens stand in for lemmas so Presidio's context words ("phone", "SSN", "card") still count."""

        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

        def _doc_to_nlp_artifact(self, doc, language):
            return NlpArtifacts(entities=[], tokens=doc, tokens_indices=[t.idx for t in doc],
                                lemmas=[t.lower_ for t in doc], nlp_engine=self, language=language, scores=[])

    class AnyDomainEmail(pr.EmailRecognizer):
        """Presidio keeps an email only if its domain ends in a public suffix; an organisation's
        internal domains (corp.local, example.internal) are personal data too, so those keep the
        pattern's score instead of being dropped."""

        def validate_result(self, pattern_text: str):
            return True if super().validate_result(pattern_text) else None

    class AllCards(pr.CreditCardRecognizer):
        """Presidio's card pattern misses Mastercard's 2-series (2221-2720) and 17-19 digit cards;
        one more pattern takes 13-19 digits starting 2-6, grouped or not. Luhn still decides."""

        PATTERNS = [*pr.CreditCardRecognizer.PATTERNS,
                    Pattern("All cards (weak)", r"\b[2-6]\d{3}(?:[ -]?\d){9,15}\b", 0.3)]

    nlp = BlankEnglish()
    nlp.load()
    by_entity = {
        "EMAIL_ADDRESS": lambda: AnyDomainEmail(),
        "PHONE_NUMBER": lambda: pr.PhoneRecognizer(supported_regions=tuple(cfg.phone_regions)),
        "CREDIT_CARD": lambda: AllCards(),
        "IBAN_CODE": lambda: pr.IbanRecognizer(),
        "US_SSN": lambda: pr.UsSsnRecognizer(),
        "UK_NINO": lambda: pr.UkNinoRecognizer(),
        "IP_ADDRESS": lambda: pr.IpRecognizer(),
        "PERSON": lambda: PatternRecognizer(supported_entity="PERSON", deny_list=names, name="DenyListNames"),
    }
    recognizers = [by_entity[e]() for e in cfg.entities if e != "PERSON" or names]
    if "PHONE_NUMBER" in cfg.entities:
        # python-phonenumbers keeps only numbers valid in its plan (its strict setting would turn
        # amounts and dates into phones); numbers it does not know, such as the UK's 07700 900xxx range
        # reserved for drama, still look like phones when written the way phones are written.
        recognizers.append(PatternRecognizer(supported_entity="PHONE_NUMBER", name="PhoneShapes", patterns=[
            Pattern("international",
                    r"(?<![\w+])\+\d{1,3}[ .-]?(?:\(0\)[ ]?)?\(?\d{1,4}\)?(?:[ .-]?\d{2,5}){1,4}\b", 0.4),
            Pattern("national trunk 0", r"(?<![\w.,/-])\(?0\d{2,4}\)?[ -]\d{3,4}[ -]?\d{3,4}\b", 0.4),
            Pattern("national trunk 0, no spaces", r"(?<![\w.,/-])0[1-9]\d{9}\b", 0.3),
        ], context=["phone", "call", "mobile", "tel", "telephone", "cell"]))
    recognizers += [PatternRecognizer(supported_entity=name, patterns=[Pattern(name, rx, 1.0)], name=f"Org{name}")
                    for name, rx in cfg.org_patterns.items()]
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"]), AnonymizerEngine()
