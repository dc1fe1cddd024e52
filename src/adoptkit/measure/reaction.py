"""Kirkpatrick level 1 (reaction): a one-minute survey at the end of the post-assessment.

It is the course's Quiz widget (answers saved to `quiz-answers/reaction.json`, travelling with the
submission), so the answers are read back from the submissions: nothing is typed in by hand.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..widgets.quiz import ANSWER_DIR, Quiz

NAME = "reaction"
SCALE = ["1 - strongly disagree", "2 - disagree", "3 - neutral", "4 - agree", "5 - strongly agree"]
# Each item has a key that reports select it by (never its position or its wording, which may be edited).
ITEMS = {
    "relevant": "The course was relevant to my work.",
    "will_use": "I will use what I learned in the next month.",
    "recommend": "I would recommend the course to a colleague.",
}
QUESTIONS = [(text, SCALE) for text in ITEMS.values()]
KEY_OF = {text: key for key, text in ITEMS.items()}


def survey(folder: str | os.PathLike = ".") -> Quiz:
    return Quiz(NAME, QUESTIONS, folder=folder)


def collect(submitted: str | os.PathLike) -> pd.DataFrame:
    """(learner, assignment, item, question, rating 1-5) for every answered question under `submitted/`."""
    rows = []
    root = Path(submitted)
    for path in sorted(root.glob(f"*/*/{ANSWER_DIR}/{NAME}.json")) if root.is_dir() else []:
        try:
            answers = json.loads(path.read_text(encoding="utf-8")).get("answers") or []
        except (ValueError, AttributeError, UnicodeDecodeError):
            continue  # a damaged file is an unanswered survey, as in the widget
        for (question, _), answer in zip(QUESTIONS, answers):
            if answer in SCALE:
                rows.append({"learner": path.parts[-4], "assignment": path.parts[-3], "item": KEY_OF[question],
                             "question": question, "rating": SCALE.index(answer) + 1})
    return pd.DataFrame(rows, columns=COLUMNS)


COLUMNS = ["learner", "assignment", "item", "question", "rating"]


def by_item(reactions: pd.DataFrame) -> pd.DataFrame:
    """Per survey item (index: its key, in the survey's order): question, answers, mean, share agreeing (4-5)."""
    r = reactions if "item" in reactions else reactions.assign(item=reactions["question"].map(KEY_OF))
    g = r.groupby("item")["rating"]
    out = pd.DataFrame({"answers": g.size(), "mean (1-5)": g.mean(), "share agreeing": g.apply(lambda x: (x >= 4).mean())})
    order = [k for k in ITEMS if k in out.index] + sorted(set(out.index) - set(ITEMS))
    out = out.reindex(order)
    out.insert(0, "question", [ITEMS.get(k, k) for k in out.index])
    return out
