"""The sandbox gateway: an OpenAI-compatible server between learner notebooks and any model."""

from .app import create_app
from .server import BackgroundServer, serve

__all__ = ["create_app", "serve", "BackgroundServer"]
