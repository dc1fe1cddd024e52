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
QUESTIONS = [
    ("The course was relevant to my work.", SCALE),
    ("I will use what I learned in the next month.", SCALE),
    ("I would recommend the course to a colleague.", SCALE),
]


def survey(folder: str | os.PathLike = ".") -> Quiz:
    return Quiz(NAME, QUESTIONS, folder=folder)


def collect(submitted: str | os.PathLike) -> pd.DataFrame:
    """(learner, assignment, question, rating 1-5) for every answered question under `submitted/`."""
    rows = []
    root = Path(submitted)
    for path in sorted(root.glob(f"*/*/{ANSWER_DIR}/{NAME}.json")) if root.is_dir() else []:
        try:
            answers = json.loads(path.read_text(encoding="utf-8")).get("answers") or []
        except (ValueError, AttributeError, UnicodeDecodeError):
            continue  # a damaged file is an unanswered survey, as in the widget
        for (question, _), answer in zip(QUESTIONS, answers):
            if answer in SCALE:
                rows.append({"learner": path.parts[-4], "assignment": path.parts[-3], "question": question,
                             "rating": SCALE.index(answer) + 1})
    return pd.DataFrame(rows, columns=["learner", "assignment", "question", "rating"])
