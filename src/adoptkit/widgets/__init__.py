"""ipywidgets used inside the course notebooks."""

from .quiz import Quiz

__all__ = ["Quiz"]
