"""A multiple-choice quiz whose answers nbgrader can grade.

nbgrader grades by re-executing the notebook, which loses anything clicked in a widget. So the quiz writes
every answer to a small JSON file beside the notebook (`quiz-answers/<name>.json`), which travels with the
submission, and reads it back when the notebook runs again: `quiz.answers` is the graded variable.
The answer key is not in the learner's copy; it lives in the assignment's hidden tests.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import ipywidgets as w

ANSWER_DIR = "quiz-answers"


class Quiz:
    def __init__(self, name: str, questions: list[tuple[str, list[str]]], folder: str | os.PathLike = "."):
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"quiz name {name!r}: use letters, digits, '-' and '_' only (it names a file)")
        for q, options in questions:
            if len(options) < 2 or len(set(options)) != len(options):
                raise ValueError(f"question {q!r} needs at least two distinct options, got {options!r}")
        self.name, self.questions = name, questions
        self.path = Path(folder) / ANSWER_DIR / f"{name}.json"
        self.answers: list[str | None] = self._read()
        self._radios: list[w.RadioButtons] = []

    def _read(self) -> list[str | None]:
        blank: list[str | None] = [None] * len(self.questions)
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return blank
        except (json.JSONDecodeError, UnicodeDecodeError):
            # A damaged file counts as unanswered; say so rather than crash the learner's notebook.
            print(f"Note: {self.path} could not be read; the quiz starts unanswered.")
            return blank
        got = saved.get("answers") if isinstance(saved, dict) else None
        if not isinstance(got, list):
            return blank
        # Keep only answers that are still options of the same question.
        return [a if i < len(got) and a in opts else None
                for i, ((_, opts), a) in enumerate(zip(self.questions, got + [None] * len(self.questions)))]

    def answer(self, index: int, option: str) -> None:
        """Record an answer (what clicking an option does)."""
        options = self.questions[index][1]
        if option not in options:
            raise ValueError(f"{option!r} is not an option of question {index + 1}: {options}")
        self.answers[index] = option
        self._save()
        if self._radios and self._radios[index].value != option:
            self._radios[index].value = option

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".quiz-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"quiz": self.name, "answers": self.answers}, f)
        os.replace(tmp, self.path)  # never a half-written file

    def widget(self) -> w.VBox:
        rows = []
        self._radios = []
        for i, (question, options) in enumerate(self.questions):
            radio = w.RadioButtons(options=options, value=self.answers[i], layout=w.Layout(width="auto"))
            radio.observe(lambda change, i=i: change["new"] is not None and self.answer(i, change["new"]), names="value")
            self._radios.append(radio)
            rows.append(w.VBox([w.HTML(f"<b>{i + 1}. {question}</b>"), radio]))
        note = w.HTML(f"<i>Your answers are saved to {self.path} as you click; submit the folder with the notebook.</i>")
        return w.VBox([*rows, note])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())

    def __repr__(self) -> str:
        done = sum(a is not None for a in self.answers)
        return f"Quiz({self.name!r}: {done}/{len(self.questions)} answered)"
