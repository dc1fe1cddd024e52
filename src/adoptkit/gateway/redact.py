"""PII redaction before text leaves for a model.

For each text, in order:

1. normalise (textnorm.py): Unicode compatibility form (full-width digits and "＠"), invisible
   characters removed (zero-width, soft hyphen, BOM, bidi marks), every kind of space and dash folded,
   escapes decoded; each character keeps the span of the original it came from;
2. checksummed numbers (checksums.py): payment cards (Luhn) and IBANs (mod 97) in any layout, SSNs by
   structure; these spans are certain and are masked for the next step;
3. Presidio's recognizers on candidate windows only (a cheap pre-filter finds every '@', run of six or
   more digits, IP shape and organisation pattern): emails, phone numbers (python-phonenumbers, several
   regions), SSNs, UK National Insurance numbers, IP addresses, the organisation's own patterns; the
   phone recognizer also sees the digits with odd separators folded ("4 1 5 5 5 ...", line breaks);
4. names: the deny-list, and the offline named-entity model (ner.py), whose names are then looked for
   in every string of the same request.

Overlapping findings become one span (so nothing half-survives), labelled by the most certain type, and
the ORIGINAL characters of that span (invisible ones included) are replaced by `<TYPE>`. The counts by
type are what the learner is told.

Fail closed: any error in an analyzer raises RedactionFailed; the gateway then refuses the request
(503) rather than forward unchecked text. Work is bounded: `redact_many` takes a deadline in CPU
seconds of the working thread (`time.thread_time()`) and raises RedactionTooSlow once it is passed
(checked between windows, model calls and texts).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ..settings import Redaction
from . import checksums, ner
from .textnorm import Normalised, fold_digit_runs, normalise

# tldextract (under Presidio's URL recognizer) would fetch the public-suffix list; keep it offline.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

SUPPORTED = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "UK_NINO", "IP_ADDRESS", "PERSON")
CHECKSUMMED = ("CREDIT_CARD", "IBAN_CODE", "US_SSN")
PRESIDIO = ("EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "UK_NINO", "IP_ADDRESS")
# Which label a merged span keeps when findings overlap: the most certain first.
PRIORITY = ("CREDIT_CARD", "IBAN_CODE", "EMAIL_ADDRESS", "US_SSN", "UK_NINO", "IP_ADDRESS", "PHONE_NUMBER")
MARGIN = 48  # characters either side of a candidate: Presidio's context words
WINDOW = 4_000  # longest text Presidio sees at once (a merged window is cut with overlap)
CACHE_CHARS = 4_000  # texts up to this length keep their findings in a small cache (system prompts, history)

_DIGITS = ("PHONE_NUMBER", "US_SSN", "UK_NINO")
_PREFILTERS: list[tuple[str | None, re.Pattern, tuple[str, ...]]] = [
    ("@", re.compile(r"[^\s@]*@\S*"), ("EMAIL_ADDRESS",)),
    # six or more digits, at most three separator characters between two of them
    (None, re.compile(r"\d(?:[\s().\-/+]{0,3}\d){5,}"), _DIGITS),
    (".", re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"), ("IP_ADDRESS",)),
    (":", re.compile(r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*"), ("IP_ADDRESS",)),
]


class RedactionFailed(RuntimeError):
    """An analyzer failed: the text could not be checked, so it must not leave."""


class RedactionTooSlow(RuntimeError):
    """The per-request time for checking text ran out."""


@dataclass
class Redacted:
    text: str
    counts: Counter = field(default_factory=Counter)


Finding = tuple[int, int, str]  # (start, end, type) in the normalised text


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


def describe(cfg: Redaction) -> str:
    """What is and is not detected, in one paragraph (the serve banner and /v1/redact say it)."""
    if not cfg.enabled:
        return "PII redaction is OFF (gateway.redaction.enabled: false): text leaves as the learner wrote it."
    kinds = {"EMAIL_ADDRESS": "emails", "PHONE_NUMBER": "phone numbers", "CREDIT_CARD": "payment cards (Luhn)",
             "IBAN_CODE": "IBANs (mod 97)", "US_SSN": "US SSNs", "UK_NINO": "UK NI numbers",
             "IP_ADDRESS": "IP addresses"}
    on = [kinds[e] for e in cfg.entities if e in kinds] + [f"{n} (organisation pattern)" for n in cfg.org_patterns]
    names = ("people's names (most, not all: an offline model, en_core_web_sm 3.8, the US Census name lists "
             "and the deny-list)" if "PERSON" in cfg.entities and cfg.ner
             else "people's names on the deny-list only" if "PERSON" in cfg.entities else None)
    on += [names] if names else []
    where = ("every request, the offline and local models' included" if cfg.offline
             else "requests to upstreams (not to the offline and local models: gateway.redaction.offline is false)")
    return ("Redacts " + ", ".join(on) + f", in every text field of {where}, whatever the separators, full-width or "
            "invisible characters. Not detected: postal addresses, dates of birth, passport and other national ID "
            "numbers, account numbers without a checksum, names in non-Latin scripts or written all in capitals or "
            "all in lower case (unless on the deny-list), emails spelt out ('jo at "
            "example dot com'), anything inside images or files (refused). Redaction is a safety net, not a "
            "licence: leave personal data out of prompts." + (f" {NAMES_COST}" if names and cfg.ner else ""))


# What the name model costs, as bench/redaction.py measured it (quoted, not computed here: the serve banner
# says it so that an administrator can weigh it; gateway.redaction.ner: false turns the model off).
NAMES_COST = ("Cost: finding names took about 3 ms of CPU per short prompt (2 ms when a request's texts are "
              "checked together) against 0.2 ms without the name model (bench/redaction.py, 300 real complaint "
              "prompts of about 340 characters, 2-core machine, 2026-12-07); gateway.redaction.ner: false turns "
              "the model off and keeps the deny-list.")


class Redactor:
    def __init__(self, cfg: Redaction, root: Path = Path(".")):
        unknown = [e for e in cfg.entities if e not in SUPPORTED]
        if unknown:
            raise ValueError(f"gateway.redaction.entities: {unknown} not supported; choose from {', '.join(SUPPORTED)} "
                             "(the organisation's own IDs go in gateway.redaction.org_patterns)")
        self.cfg = cfg
        self.entities = set(cfg.entities)
        self.names = load_names(cfg, root) if "PERSON" in self.entities else []
        self.deny = (re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in self.names) + r")(?!\w)", re.I)
                     if self.names else None)
        self.org = {name: re.compile(p) for name, p in cfg.org_patterns.items()}
        self.presidio_types = {e for e in self.entities if e in PRESIDIO}
        self.prefilters = [(need, rx, tuple(t for t in types if t in self.presidio_types))
                           for need, rx, types in _PREFILTERS]
        self.prefilters = [p for p in self.prefilters if p[2]]
        self.people = ner.PersonFinder() if "PERSON" in self.entities and cfg.ner else None
        self._engines = None
        self._lock = threading.Lock()
        self._found: OrderedDict[str, list[Finding]] = OrderedDict()  # patterns and checksums, by text
        self._names: OrderedDict[str, list[tuple[int, int]]] = OrderedDict()  # the model's names, by text
        self._cache_lock = threading.Lock()

    # -- set-up: Presidio (about a second: spaCy's import) and the name model, once ---------------------
    def warm(self) -> "Redactor":
        """Load every analyzer now; raises RedactionFailed (with the reason) if one cannot load."""
        try:
            with self._lock:
                if self._engines is None:
                    self._engines = _build_engines(self.cfg)
            if self.people is not None:
                self.people.load()
        except ner.ModelUnavailable as err:
            raise RedactionFailed(str(err)) from None
        return self

    # -- the work --------------------------------------------------------------------------------------
    def redact(self, text: str) -> Redacted:
        return self.redact_many([text])[0]

    def redact_many(self, texts: list[str], deadline: float | None = None, scope: str = "") -> list[Redacted]:
        """Each text with its findings replaced by `<TYPE>`; names found in one text are looked for in
        all (they are one request). What was found in a text is remembered for the same `scope` only (the
        gateway passes the learner): a conversation's history and system prompt come back every turn, but
        how fast a text is checked must not tell one learner what another has sent."""
        try:
            self.warm()
            views = [normalise(t) for t in texts]
            findings = [self._cached(self._found, (scope, v.text), lambda key: self._analyze(key[1], deadline))
                        for v in views]
            if self.people is not None:
                names_now, todo = {}, []
                for v in views:
                    hit = self._cache_get(self._names, (scope, v.text)) if v.text else []
                    if hit is None:
                        todo.append(v.text)
                    else:
                        names_now[v.text] = hit
                if todo:  # one batch through the model for every text not seen lately
                    for text, spans in zip(todo, self.people.find_many(todo, lambda: _check(deadline))):
                        names_now[text] = spans
                        self._cache_put(self._names, (scope, text), spans)
                names = [names_now.get(v.text, []) for v in views]
                # a name found in one string is looked for in all of them (one request)
                same = ner.same_names([v.text for v in views], names)
                findings = [fs + [(s, e, "PERSON") for s, e in spans + more]
                            for fs, spans, more in zip(findings, names, same)]
            return [_replace(v, _merge(fs, tuple(self.org))) for v, fs in zip(views, findings)]
        except (RedactionFailed, RedactionTooSlow):
            raise
        except Exception as err:  # any analyzer error: the text was not checked, so it must not leave
            raise RedactionFailed(f"{type(err).__name__}: {err}") from err

    def _cached(self, cache: OrderedDict, key: tuple[str, str], compute):
        """`compute(key)`, remembered for short texts (system prompts and history come back often)."""
        hit = self._cache_get(cache, key)
        if hit is None:
            hit = compute(key)
            self._cache_put(cache, key, hit)
        return hit

    def _cache_get(self, cache: OrderedDict, key: tuple[str, str]):
        if len(key[1]) > CACHE_CHARS:
            return None
        with self._cache_lock:
            hit = cache.get(key)
            if hit is not None:
                cache.move_to_end(key)
            return hit

    def _cache_put(self, cache: OrderedDict, key: tuple[str, str], value) -> None:
        if len(key[1]) <= CACHE_CHARS:
            with self._cache_lock:
                cache[key] = value
                if len(cache) > 4096:
                    cache.popitem(last=False)

    def _analyze(self, text: str, deadline: float | None) -> list[Finding]:
        """Everything but the model's names, in one normalised text."""
        if not text:
            return []
        found: list[Finding] = [f for f in checksums.find(text) if f[2] in self.entities]
        found += [(m.start(), m.end(), name) for name, rx in self.org.items() for m in rx.finditer(text)]
        if self.deny is not None:
            found += [(m.start(), m.end(), "PERSON") for m in self.deny.finditer(text)]
        masked = _mask(text, [f for f in found if f[2] in CHECKSUMMED])
        found += self.presidio(masked, deadline)
        if "PHONE_NUMBER" in self.presidio_types and (folded := fold_digit_runs(masked)):
            ftext, index = folded
            for s, e, kind in self.presidio(ftext, deadline, only=("PHONE_NUMBER", "US_SSN")):
                found.append((index[s], index[e - 1] + 1, kind))
        return found

    def candidates(self, text: str) -> list[tuple[int, int, set[str]]]:
        """Merged windows (start, end, types) where Presidio should look, none longer than WINDOW."""
        spans = []
        for need, rx, types in self.prefilters:
            if need is not None and need not in text:
                continue
            for m in rx.finditer(text):
                spans.append((max(0, m.start() - MARGIN), min(len(text), m.end() + MARGIN), set(types)))
        spans.sort(key=lambda s: s[0])
        merged: list[tuple[int, int, set[str]]] = []
        for start, end, types in spans:
            if merged and start <= merged[-1][1] and end - merged[-1][0] <= WINDOW:
                s0, e0, t0 = merged[-1]
                merged[-1] = (s0, max(e0, end), t0 | types)
            elif merged and start <= merged[-1][1]:  # too long: a new window that overlaps the last
                s0, e0, t0 = merged[-1]
                merged.append((max(start, e0 - 2 * MARGIN), end, set(types)))
            else:
                merged.append((start, end, types))
        return merged

    def presidio(self, text: str, deadline: float | None = None, only: tuple[str, ...] | None = None,
                 whole: bool = False) -> list[Finding]:
        """Presidio's findings in `text` (candidate windows, or the whole text for tests)."""
        types = self.presidio_types if only is None else self.presidio_types & set(only)
        if not types:
            return []
        windows = [(0, len(text), set(types))] if whole else [
            (s, e, t & types) for s, e, t in self.candidates(text) if t & types]
        if not windows:
            return []
        analyzer = self._engines
        from presidio_analyzer import EntityRecognizer

        out = []
        for start, end, kinds in windows:
            _check(deadline)
            segment = text[start:end]
            tokens = analyzer.nlp_engine.process_text(segment, "en")

            def find(seg: str, entities: list[str]) -> list:
                return analyzer.analyze(seg, language="en", entities=entities, score_threshold=self.cfg.min_score,
                                        nlp_artifacts=tokens)

            hits = find(segment, sorted(kinds - {"PHONE_NUMBER"})) if kinds - {"PHONE_NUMBER"} else []
            if "PHONE_NUMBER" in kinds:
                # the phone matcher is most of the cost: it runs last, with certain findings masked out
                masked = _mask(segment, [(r.start, r.end, "") for r in hits if r.score >= 1.0])
                hits = EntityRecognizer.remove_duplicates(hits + find(masked, ["PHONE_NUMBER"]))
            out += [(r.start + start, r.end + start, r.entity_type) for r in hits]
        return out


def _check(deadline: float | None) -> None:
    """The deadline is in CPU seconds of the thread doing the work (time.thread_time), so a busy
    machine slows a request down without making it fail."""
    if deadline is not None and time.thread_time() > deadline:
        raise RedactionTooSlow("the time for checking this request's text ran out")


def _mask(text: str, spans) -> str:
    if not spans:
        return text
    chars = list(text)
    for s, e, _ in spans:
        chars[s:e] = "x" * (e - s)
    return "".join(chars)


def _merge(found: list[Finding], first: tuple[str, ...] = ()) -> list[tuple[int, int, str, set]]:
    """Overlapping findings as one span (start, end, label, every type in it), labelled by the most
    certain type: the organisation's own patterns, then checksummed numbers, ..., then names."""
    rank = {t: i for i, t in enumerate((*first, *PRIORITY))}
    out: list[list] = []
    for s, e, kind in sorted(found):
        if e <= s:
            continue
        if out and s < out[-1][1]:
            last = out[-1]
            last[1] = max(last[1], e)
            last[3].add(kind)
            if rank.get(kind, 99) < rank.get(last[2], 99):
                last[2] = kind
        else:
            out.append([s, e, kind, {kind}])
    return [tuple(f) for f in out]


def _replace(view: Normalised, found) -> Redacted:
    """The original text with each span replaced; the counts name every type found (one span holding
    a name run into an email counts both)."""
    if not found:
        return Redacted(view.original)
    text, counts = view.original, Counter()
    spans = [(*view.span(s, e), kind, kinds) for s, e, kind, kinds in found]
    for s, e, kind, kinds in reversed(spans):
        text = text[:s] + f"<{kind}>" + text[e:]
        counts.update(kinds)
    return Redacted(text, counts)


def _build_engines(cfg: Redaction):
    import spacy
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer import predefined_recognizers as pr
    from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine

    class BlankEnglish(SpacyNlpEngine):
        """spaCy's blank English tokenizer for the pattern recognizers (names have their own model).
        With no lemmatizer, lower-cased tokens stand in for lemmas so Presidio's context words
        ("phone", "SSN", "card") still count."""

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

    nlp = BlankEnglish()
    nlp.load()
    by_entity = {
        "EMAIL_ADDRESS": lambda: AnyDomainEmail(),
        "PHONE_NUMBER": lambda: pr.PhoneRecognizer(supported_regions=tuple(cfg.phone_regions)),
        "US_SSN": lambda: pr.UsSsnRecognizer(),
        "UK_NINO": lambda: pr.UkNinoRecognizer(),
        "IP_ADDRESS": lambda: pr.IpRecognizer(),
    }
    recognizers = [by_entity[e]() for e in cfg.entities if e in by_entity]
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
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])
