"""Authoring: scaffolds for new paths, chapters and exercises (`adoptkit new`), the authoring lint
(`adoptkit check`), slides and facilitator guides for live sessions, and the mentor's view of their mentees."""

from .names import AuthoringError

__all__ = ["AuthoringError"]
