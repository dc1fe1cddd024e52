"""Every notebook talks to models through `client()`: the real openai client, pointed at the kit's
endpoint (the configured gateway, or a local offline server started on demand)."""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from ..settings import Settings, current
from . import offline

if TYPE_CHECKING:
    import openai

_lock = threading.Lock()
_local = None  # the in-process server, started once per process
_exchanged: dict[str, str] = {}  # gateway URL -> the key this process got for its hub token


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

    if os.environ.get("NBGRADER_EXECUTION") and not os.environ.get("ADOPTKIT_LLM_URL"):
        return _grading_client()
    settings = settings or current()
    url = endpoint(settings)
    kwargs.setdefault("timeout", settings.llm.timeout)
    return openai.OpenAI(base_url=url, api_key=_key(settings, url), **kwargs)


def _grading_client() -> "openai.OpenAI":
    """While nbgrader grades (NBGRADER_EXECUTION is set), the offline model answers in this process: no
    server, no network, no database to write. Grading never depends on a live model."""
    from .replay import replay_client

    def answer(body: dict) -> str:
        return offline.answer(body.get("messages", []), body.get("response_format"))

    return replay_client(answer, model=offline.MODEL_ID)


def _key(settings: Settings, url: str) -> str:
    """The learner's own key: from the environment, or (in JupyterHub, where the hub points the server
    at the gateway service) exchanged once per process for the learner's hub token."""
    if key := os.environ.get(settings.llm.api_key_env):
        return key
    hub_token = os.environ.get("JUPYTERHUB_API_TOKEN")
    if not (hub_token and os.environ.get("ADOPTKIT_LLM_URL")):
        return "offline-no-key-needed"
    with _lock:
        if url not in _exchanged:
            _exchanged[url] = _exchange(url, hub_token)
        return _exchanged[url]


def _exchange(url: str, hub_token: str) -> str:
    import json

    request = urllib.request.Request(f"{url}/hub/exchange", data=json.dumps({"hub_token": hub_token}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.load(r)["api_key"]
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:300]
        raise RuntimeError(f"the course gateway at {url} refused to issue your key (HTTP {err.code}: {detail}); "
                           "ask your instructor to check the gateway's JupyterHub settings") from None
    except (OSError, ValueError, KeyError) as err:
        raise RuntimeError(f"could not get your key from the course gateway at {url} ({err}); is the "
                           "sandbox service running?") from None


def default_model(settings: Settings | None = None) -> str:
    return (settings or current()).llm.model


def banner(settings: Settings | None = None) -> str:
    """One line for the top of every notebook: which model answers, and whether it is a stand-in."""
    settings = settings or current()
    url = endpoint(settings)
    # The in-kernel endpoint listens on whatever port was free: not an address to quote, and a built page
    # that showed it would change with every build.
    where = "in this kernel (the kit's own, on 127.0.0.1)" if _local is not None and url == _local.url else url
    models = {m.id: m for m in client(settings).models.list().data}
    asked = settings.llm.model
    described = getattr(models.get(asked), "description", None) or ""
    target = described.removeprefix("alias for ") if described.startswith("alias for ") else asked
    standin = target in (offline.MODEL_ID, f"offline:{offline.MODEL_ID}")
    if standin:
        note = f"{offline.DESCRIPTION}; answers are rule-based"
    elif target.startswith("local:"):
        note = "a real language model running on this machine"
    else:
        note = "a configured model"
    return f"LLM endpoint {where}; model '{asked}' -> {target} ({note})"


__all__ = ["client", "endpoint", "default_model", "banner", "offline"]
