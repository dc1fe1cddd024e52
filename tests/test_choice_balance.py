"""No position or length cue in any quiz or assessment of the course.

Over every choice item (the Quiz questions of every exercise notebook, key read from its hidden tests, and the
Decide items of every content file), per assignment: the score of always clicking the longest option, the shortest
and the first (in the order written) is each at most chance + 10 points, and every option carries a one-line
explanation for the feedback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adoptkit.authoring import choices

ROOT = Path(__file__).resolve().parents[1]


def every_choice_set() -> dict[str, list]:
    """assignment -> [(options, right answer, why)] (the product's reading: adoptkit.authoring.choices)."""
    return {name: [(i.options, i.answer, i.why) for i in items]
            for name, items in choices.every_choice_set(ROOT).items()}


strategy_scores = choices.strategy_scores
MARGIN = choices.MARGIN


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
