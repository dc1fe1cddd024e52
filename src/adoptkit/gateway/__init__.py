"""The sandbox gateway: an OpenAI-compatible server between learner notebooks and any model.

Imports are lazy, so `adoptkit sandbox keys ...` opens the database without loading the web stack."""

__all__ = ["create_app", "serve", "BackgroundServer"]


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    if name in ("serve", "BackgroundServer"):
        from . import server

        return getattr(server, name)
    raise AttributeError(name)
