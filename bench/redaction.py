"""What name redaction finds and what it costs (python bench/redaction.py; a benchmark, never a test).

Quality, on labelled synthetic text and on real business text:
  recall             share of names with no part left, per written form, on tests/gateway/names_corpus.json
                     and names_corpus_2.json (held out: see their generators)
  false positives    share of name-free snippets where something was taken for a name: the corpora's
                     negatives; the first 300 CFPB complaint narratives (real text whose personal names
                     the CFPB replaced with XXXX: what is left are companies, places and products; a few
                     names it missed may remain, so this errs high); the first 400 product descriptions of
                     the Online Retail dataset (real, all in capitals)
Cost: CPU ms per text (this process's user+system time, `time.process_time`, not wall clock: the machine
is shared) for short prompts (a classification instruction and the first 200 characters of a CFPB
narrative, each text distinct, so no cache helps), names on and off, one text a call and all at once.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("ADOPTKIT_DATA_MIRROR", str(ROOT.parent / "shared" / "data"))

from gateway import INSTRUCTION, prompts  # noqa: E402  (bench/gateway.py: the same prompts)

from adoptkit.gateway.redact import Redactor  # noqa: E402
from adoptkit.settings import Redaction  # noqa: E402


def survives(name: str, text: str) -> bool:
    return any(part in text for part in name.replace(",", " ").split() if len(part) >= 2)


def corpus_figures(redactor: Redactor, path: Path) -> tuple[Counter, Counter, list[str], int]:
    total, found, false, negatives = Counter(), Counter(), [], 0
    for s in json.loads(path.read_text(encoding="utf-8"))["snippets"]:
        out = redactor.redact(s["text"]).text
        for name in s["names"]:
            total[s["form"]] += 1
            found[s["form"]] += not survives(name, out)
        if not s["names"]:
            negatives += 1
            if "<PERSON>" in out:
                false.append(out)
    return total, found, false, negatives


def cpu_ms(fn, items) -> float:
    start = time.process_time()
    fn(items)
    return (time.process_time() - start) * 1000 / len(items)


def main() -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cores: {os.cpu_count()}")
    names = Redactor(Redaction(entities=["PERSON"])).warm()
    for path in (ROOT / "tests/gateway/names_corpus.json", ROOT / "tests/gateway/names_corpus_2.json"):
        total, found, false, negatives = corpus_figures(names, path)
        print(f"\n{path.name}")
        for form in sorted(total):
            print(f"  {form:42} {total[form]:4} names  {found[form] / total[form]:5.0%}")
        print(f"  {'all':42} {sum(total.values()):4} names  {sum(found.values()) / sum(total.values()):5.0%}")
        print(f"  false positives: {len(false)} of {negatives} name-free snippets ({len(false) / negatives:.0%})")
        for f in false:
            print(f"    {f!r}")

    texts, source = prompts(300)
    # the CFPB's own masks ("XXXX", "XX/XX/2019") stand where names and dates were: shown to the model as
    # a neutral word, so that what is taken for a name here is a false positive (or a name the CFPB missed)
    narratives = [re.sub(r"\bX{2,}(?:/X{2,})*\b", "(redacted)", t[:600]) for t in texts]
    hits = [o for o in (names.redact(t).text for t in narratives) if "<PERSON>" in o]
    print(f"\nCFPB narratives (first 600 characters, masks neutralised): something taken for a name in {len(hits)} of "
          f"{len(narratives)} ({len(hits) / len(narratives):.0%})")
    for h in hits[:12]:
        i = h.index("<PERSON>")
        print(f"    ...{h[max(0, i - 50):i + 60]!r}")
    try:
        from adoptkit import data

        retail = data.load("online_retail")
        descriptions = list(dict.fromkeys(retail["Description"].dropna().astype(str)))[:400]
        bad = [d for d in descriptions if "<PERSON>" in names.redact(d).text]
        print(f"Online Retail product descriptions: {len(bad)} of {len(descriptions)} taken for a name {bad[:6]}")
    except Exception as err:  # no mirror: say so
        print(f"(Online Retail not available: {err})")

    short = [INSTRUCTION + t[:200] for t in texts]
    on = Redactor(Redaction()).warm()
    off = Redactor(Redaction(ner=False)).warm()
    on.redact("warm up Eleanor Whitcombe")
    rows = [("names on, one text a call", lambda xs: [on.redact(x) for x in xs]),
            ("names off, one text a call", lambda xs: [off.redact(x) for x in xs]),
            ("names on, all texts in one call", lambda xs: on.redact_many(xs))]
    print(f"\nCPU ms per short prompt ({len(short)} distinct texts, about {sum(map(len, short)) // len(short)} "
          "characters; redaction of all types):")
    for i, (label, fn) in enumerate(rows):
        batch = [f"{t} #{i}" for t in short]  # distinct from every earlier call: no cache hit
        print(f"  {label:34} {cpu_ms(fn, batch):7.2f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
