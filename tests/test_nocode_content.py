"""The committed no-code notebooks and learner copies match their content files, and the drafts' numbers match
the real records they describe (a sound sentence's figures are in the record; a planted wrong number is not)."""

import re
from pathlib import Path

import pytest
import yaml

from adoptkit.widgets import author, content

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "content").glob("*.yml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_committed_outputs_match_the_content(path):
    for out, text in author.build(path, root=ROOT).items():
        assert out.read_text(encoding="utf-8") == text, f"{out} is stale: python -m adoptkit.widgets.author {path.relative_to(ROOT)}"


NUMBER_FAULT = "number differs from the record"


def _numbers(text):
    """Every figure: amounts, counts and percentages ("$2000.00", "4,119", "64.8%", "3"), without separators."""
    return {n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_drafts_numbers_are_checked_against_their_real_record(path):
    """The evidence is a real record, or a text of figures computed from the data (each content file's own test
    recomputes that text); a draft checked for numbers may quote only figures the evidence holds."""
    for part in yaml.safe_load(path.read_text())["parts"]:
        ev = part.get("evidence") or {}
        if part["kind"] != "check" or NUMBER_FAULT not in part["reasons"]:
            continue
        record = content.records({**ev, "ids": [ev["id"]]})[0][0].text if "dataset" in ev else ev["text"]
        in_record = _numbers(record)
        for s in part["sentences"]:
            if s.get("fault") == NUMBER_FAULT:
                assert not _numbers(s["text"]) <= in_record, f"{s['id']}: the planted number is in the record"
            elif not s.get("fault"):
                assert _numbers(s["text"]) <= in_record, f"{s['id']}: a number of a sound sentence is not in the record"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_prompt_task_has_an_example_that_earns_every_point(path):
    """Each prompt part's `example` (the prompt a knowledgeable learner writes; the tests and the course-solutions
    check submit it) meets every rubric property and gives usable replies on the whole grading sample."""
    from adoptkit.widgets import grading

    for part in yaml.safe_load(path.read_text())["parts"]:
        if part["kind"] != "prompt":
            continue
        text = part.get("example")
        assert text, f"{path.name}, part {part['id']}: add 'example', a prompt that earns every point"
        missed = [r["id"] for r in part["rubric"] if not grading._criterion(r, text)[0]]
        assert not missed, f"{path.name}, part {part['id']}: the example misses {missed}"
        share, lines = grading._output_share(text, {"output": part["output"],
                                                    "sample": part.get("grade_sample", part["sample"])})
        assert share == 1, f"{path.name}, part {part['id']}: the example's replies are not all usable:\n" + "\n".join(lines)
