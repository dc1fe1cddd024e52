"""ipywidgets used inside the course notebooks.

Imported on first use (PEP 562): the reports read the quiz's answer files through `widgets.quiz`, and
should not pay for the review deck's imports (the card scheduler, nbformat and its schema checks). The no-code
widgets (PromptTask, CheckWork, Decide; docs/no-code.md) and their grading library (`widgets.grading`) likewise.
"""

__all__ = ["Quiz", "ReviewDeck", "PromptTask", "CheckWork", "Decide"]

_NOCODE = {"PromptTask": "prompt_task", "CheckWork": "check_work", "Decide": "decide"}


def __getattr__(name: str):
    if name == "Quiz":
        from .quiz import Quiz

        return Quiz
    if name == "ReviewDeck":
        from .review_deck import ReviewDeck

        return ReviewDeck
    if name in _NOCODE:
        import importlib

        return getattr(importlib.import_module(f".{_NOCODE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
