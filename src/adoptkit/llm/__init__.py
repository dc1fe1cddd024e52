"""Every notebook talks to models through `client()`: the real openai client, pointed at the kit's
endpoint (the configured gateway, or a local offline server started on demand)."""

from __future__ import annotations

import os
import threading
import urllib.request
from typing import TYPE_CHECKING

from ..settings import Settings, current
from . import offline

if TYPE_CHECKING:
    import openai

_lock = threading.Lock()
_local = None  # the in-process server, started once per process


def _local_url(settings: Settings) -> str:
    """A sandbox already serving on the configured port, else one started in this process."""
    global _local
    with _lock:
        if _local is not None:
            return _local.url
        url = f"http://{settings.sandbox.host}:{settings.sandbox.port}"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=0.5) as r:
                if b"adoptkit-sandbox" in r.read():
                    return f"{url}/v1"
        except OSError:
            pass
        from ..gateway.server import BackgroundServer

        _local = BackgroundServer().start()
        return _local.url


def endpoint(settings: Settings | None = None) -> str:
    settings = settings or current()
    if url := os.environ.get("ADOPTKIT_LLM_URL"):
        return url.rstrip("/")
    return _local_url(settings) if settings.llm.endpoint == "local" else settings.llm.endpoint


def client(settings: Settings | None = None, **kwargs) -> "openai.OpenAI":
    """An `openai.OpenAI` for the course endpoint. The key comes from the environment (the learner's
    own gateway key), never from a notebook; the local offline endpoint needs none."""
    import openai  # here, not at the top: the gateway imports the offline model without the client

    settings = settings or current()
    key = os.environ.get(settings.llm.api_key_env) or "offline-no-key-needed"
    kwargs.setdefault("timeout", settings.llm.timeout)
    return openai.OpenAI(base_url=endpoint(settings), api_key=key, **kwargs)


def default_model(settings: Settings | None = None) -> str:
    return (settings or current()).llm.model


def banner(settings: Settings | None = None) -> str:
    """One line for the top of every notebook: which model answers, and whether it is a stand-in."""
    settings = settings or current()
    url = endpoint(settings)
    models = {m.id: m for m in client(settings).models.list().data}
    asked = settings.llm.model
    described = getattr(models.get(asked), "description", None) or ""
    target = described.removeprefix("alias for ") if described.startswith("alias for ") else asked
    standin = target in (offline.MODEL_ID, f"offline:{offline.MODEL_ID}")
    note = f"{offline.DESCRIPTION}; answers are rule-based" if standin else "a configured model"
    return f"LLM endpoint {url}; model '{asked}' -> {target} ({note})"


__all__ = ["client", "endpoint", "default_model", "banner", "offline"]
