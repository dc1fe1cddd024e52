"""Choice items across the course (Quiz questions in exercise notebooks, Decide items in content files), and
the cue check: what always clicking the longest option, or the first one as written, would score.

A learner who has learnt nothing should not beat chance by reading the options' shape. `strategy_scores`
gives, for one assignment's items: chance, always-longest (ties split evenly) and always-first.
tests/test_choice_balance.py holds the course to at most chance + 10 points; `adoptkit check` reports it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import yaml

MARGIN = 0.10  # points (as a share) over chance that a strategy may score


@dataclass(frozen=True)
class Item:
    options: list[str]
    answer: str
    why: dict  # option text -> one-line explanation
    where: str  # file
    line: int  # 1-based, in the file


def _read_quiz(path: Path) -> tuple[list | None, dict, int]:
    """A notebook's Quiz as written: (questions [(text, options)] or None, keys {index: choice}, line)."""
    from .sources import notebook_cells

    cells = notebook_cells(path)
    questions, keys, line = None, {}, 1
    for cell in cells:
        src = cell.source
        if "Quiz(" not in src and "grading.choice" not in src:
            continue
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "QUESTIONS":
                questions, line = ast.literal_eval(node.value), cell.line_of(node.lineno)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Quiz" and len(node.args) > 1 \
                    and isinstance(node.args[1], ast.List):
                questions, line = ast.literal_eval(node.args[1]), cell.line_of(node.lineno)
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "choice"
                    and getattr(node.func.value, "id", None) == "grading"):
                index = node.args[0].slice.value  # quiz.answers[i]
                keys[index] = ast.literal_eval(node.args[1])
    return questions, keys, line


def quiz_questions(path: Path) -> list[str]:
    """The question texts of a notebook's Quiz ([] if it has none); the key stays in the hidden tests."""
    questions, _, _ = _read_quiz(path)
    return [q for q, _ in questions or []]


def quiz_items(path: Path) -> list[Item]:
    """One Item per question of a notebook's Quiz (key read from its hidden tests); [] if it has none.

    Raises ValueError when a question has no `grading.choice` key in its hidden tests."""
    questions, keys, line = _read_quiz(path)
    if questions is None:
        return []
    if sorted(keys) != list(range(len(questions))):
        missing = sorted(set(range(len(questions))) - set(keys))
        raise ValueError(f"{path}: question(s) {[i + 1 for i in missing]} have no grading.choice key in their "
                         f"hidden tests")
    return [Item(list(opts), keys[i]["answer"], keys[i].get("why", {}), str(path), line)
            for i, (_, opts) in enumerate(questions)]


def decide_items(path: Path) -> list[Item]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    out = []
    for part in (yaml.safe_load(text) or {}).get("parts", []):
        if part.get("kind") == "decide":
            for item in part.get("items", []):
                opts = {o["id"]: o["text"] for o in item["options"]}
                line = next((i + 1 for i, raw in enumerate(lines) if f"id: {item['id']}" in raw), 1)
                out.append(Item([o["text"] for o in item["options"]], opts.get(item.get("answer"), ""),
                                {o["text"]: o.get("why") for o in item["options"]}, str(path), line))
    return out


def every_choice_set(root: Path) -> dict[str, list[Item]]:
    """assignment -> its choice items, over every exercise notebook and content file of the course."""
    sets: dict[str, list[Item]] = {}
    for nb in sorted(Path(root).glob("exercises/*/*.ipynb")):
        if items := quiz_items(nb):
            sets.setdefault(nb.parent.name, []).extend(items)
    for content in sorted(Path(root).glob("content/*.yml")):
        if items := decide_items(content):
            sets.setdefault(yaml.safe_load(content.read_text(encoding="utf-8"))["assignment"], []).extend(items)
    return sets


def strategy_scores(items) -> dict[str, float]:
    """Expected share right for: chance, always-longest and always-shortest (ties split evenly), always-first.

    `items`: Items, or (options, right answer, why) tuples."""
    chance = longest = shortest = first = 0.0
    for item in items:
        options, right = (item.options, item.answer) if isinstance(item, Item) else (item[0], item[1])
        lengths = [len(o) for o in options]
        for pick, extreme in ((max, "longest"), (min, "shortest")):
            tied = [o for o, n in zip(options, lengths) if n == pick(lengths)]
            share = (right in tied) / len(tied)
            if extreme == "longest":
                longest += share
            else:
                shortest += share
        chance += 1 / len(options)
        first += options[0] == right
    n = len(items)
    return {"chance": chance / n, "longest": longest / n, "shortest": shortest / n, "first": first / n, "items": n}


def cues(items) -> list[str]:
    """What is wrong with a set of items: a strategy beating chance by more than MARGIN (empty: none)."""
    s = strategy_scores(items)
    out = []
    for name, what in (("longest", "always clicking the longest option"), ("shortest", "always clicking the shortest option"),
                       ("first", "always clicking the first option")):
        if s[name] > s["chance"] + MARGIN + 1e-9:
            out.append(f"{what} scores {s[name]:.0%} over {s['items']} item(s), against {s['chance']:.0%} by chance "
                       f"(allowed: chance + {MARGIN:.0%}); rebalance the options' length, or where the answer stands")
    return out

