"""ipywidgets used inside the course notebooks."""

from .quiz import Quiz
from .review_deck import ReviewDeck

__all__ = ["Quiz", "ReviewDeck"]
