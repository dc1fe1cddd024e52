"""No position or length cue in any quiz or assessment of the course.

Over every choice item (the Quiz questions of every exercise notebook, key read from its hidden tests, and the
Decide items of every content file), per assignment: the score of always clicking the longest option, the shortest
and the first (in the order written) is each at most chance + 10 points, and every option carries a one-line
explanation for the feedback.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MARGIN = 0.10


def _quiz_items(path: Path) -> list[tuple[list[str], str, dict]]:
    """(options, right answer, why) per question of a notebook's Quiz; [] if it has none."""
    cells = ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]
    questions, keys = None, {}
    for src in cells:
        if "Quiz(" not in src and "grading.choice" not in src:
            continue
        tree = ast.parse(src)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "QUESTIONS":
                questions = ast.literal_eval(node.value)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Quiz" and len(node.args) > 1 \
                    and isinstance(node.args[1], ast.List):
                questions = ast.literal_eval(node.args[1])
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "choice"
                    and getattr(node.func.value, "id", None) == "grading"):
                index = node.args[0].slice.value  # quiz.answers[i]
                keys[index] = ast.literal_eval(node.args[1])
    if questions is None:
        return []
    assert sorted(keys) == list(range(len(questions))), f"{path}: every question needs grading.choice in its hidden test"
    return [(list(opts), keys[i]["answer"], keys[i]["why"]) for i, (_, opts) in enumerate(questions)]


def _decide_items(path: Path) -> list[tuple[list[str], str, dict]]:
    out = []
    for part in yaml.safe_load(path.read_text(encoding="utf-8"))["parts"]:
        if part["kind"] == "decide":
            for item in part["items"]:
                text = {o["id"]: o["text"] for o in item["options"]}
                out.append(([o["text"] for o in item["options"]], text[item["answer"]],
                            {o["text"]: o.get("why") for o in item["options"]}))
    return out


def every_choice_set() -> dict[str, list]:
    sets = {}
    for nb in sorted(ROOT.glob("exercises/*/*.ipynb")):
        if items := _quiz_items(nb):
            sets.setdefault(nb.parent.name, []).extend(items)
    for content in sorted(ROOT.glob("content/*.yml")):
        if items := _decide_items(content):
            sets.setdefault(yaml.safe_load(content.read_text())["assignment"], []).extend(items)
    return sets


def strategy_scores(items) -> dict[str, float]:
    """Expected share right for: chance, always-longest and always-shortest (ties split evenly), always-first."""
    def by_length(options, right, pick):
        tied = [o for o in options if len(o) == pick(map(len, options))]
        return (right in tied) / len(tied)

    n = len(items)
    return {"chance": sum(1 / len(options) for options, _, _ in items) / n,
            "longest": sum(by_length(options, right, max) for options, right, _ in items) / n,
            "shortest": sum(by_length(options, right, min) for options, right, _ in items) / n,
            "first": sum(options[0] == right for options, right, _ in items) / n, "items": n}


SETS = every_choice_set()


def test_every_quiz_and_assessment_is_found():
    names = set(SETS)
    for role in ("marketing", "sales", "hr", "engineering"):
        assert {f"{role}-quiz", f"{role}-assessment-pre", f"{role}-assessment-post"} <= names, role
    assert "sales-nocode" in names


@pytest.mark.parametrize("name", sorted(SETS))
def test_no_length_or_position_cue(name):
    s = strategy_scores(SETS[name])
    print(f"{name}: {s['items']} items, chance {s['chance']:.0%}, longest {s['longest']:.0%}, "
          f"shortest {s['shortest']:.0%}, first {s['first']:.0%}")
    for cue in ("longest", "shortest", "first"):
        assert s[cue] <= s["chance"] + MARGIN + 1e-9, \
            f"{name}: always clicking the {cue} option scores {s[cue]:.0%}, more than chance ({s['chance']:.0%}) " \
            f"+ {MARGIN:.0%}: rewrite some options so the right one is not the {cue} (or not first)"


@pytest.mark.parametrize("name", sorted(SETS))
def test_every_option_is_explained_and_every_key_is_an_option(name):
    for options, right, why in SETS[name]:
        assert right in options, f"{name}: the key {right!r} is not an option"
        assert len(set(options)) == len(options), f"{name}: repeated option"
        missing = [o for o in options if not (why.get(o) or "").strip()]
        assert not missing, f"{name}: no explanation for {missing}"


def test_the_strategies_are_computed_as_described():
    items = [(["a", "bbb", "cc"], "bbb", {}), (["xx", "yy", "z"], "xx", {}), (["p", "qq"], "p", {})]
    s = strategy_scores(items)
    assert s["chance"] == pytest.approx((1 / 3 + 1 / 3 + 1 / 2) / 3)
    assert s["longest"] == pytest.approx((1 + 0.5 + 0) / 3) and s["first"] == pytest.approx(2 / 3)
    assert s["shortest"] == pytest.approx((0 + 0 + 1) / 3)
