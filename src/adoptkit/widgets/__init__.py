"""ipywidgets used inside the course notebooks.

Imported on first use (PEP 562): the reports read the quiz's answer files through `widgets.quiz`, and
should not pay for the review deck's imports (the card scheduler, nbformat and its schema checks).
"""

__all__ = ["Quiz", "ReviewDeck"]


def __getattr__(name: str):
    if name == "Quiz":
        from .quiz import Quiz

        return Quiz
    if name == "ReviewDeck":
        from .review_deck import ReviewDeck

        return ReviewDeck
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
