"""Upstreams: real providers behind the gateway (OpenAI, Azure OpenAI, Ollama, vLLM, any
OpenAI-compatible URL), forwarded with httpx. Streams pass through chunk by chunk as they arrive.

The provider's key is read from the environment variable the config names, in the gateway's process
only. Every failure names the upstream and says what to check: unreachable (502), misconfigured, e.g.
the key variable unset (503), slow (504), refusing the gateway's key (502), or its own error.
"""

from __future__ import annotations

import json
import os
from typing import AsyncIterator

import httpx

from ..settings import Upstream
from .errors import APIError


def _their_message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        msg = body.get("error", body) if isinstance(body, dict) else body
        msg = msg.get("message", msg) if isinstance(msg, dict) else msg
    except ValueError:
        msg = resp.text
    return str(msg).strip()[:300] or resp.reason_phrase


class UpstreamBackend:
    def __init__(self, name: str, cfg: Upstream):
        self.name, self.cfg = name, cfg
        self._client: httpx.AsyncClient | None = None

    def models(self) -> list[dict]:
        return [{"id": f"{self.name}:{m}", "object": "model", "created": 0, "owned_by": self.name}
                for m in self.cfg.models]

    def check_model(self, model: str, kind: str) -> None:
        if self.cfg.models and model not in self.cfg.models:
            raise APIError(404, f"upstream '{self.name}' offers {self.cfg.models}, not '{model}' "
                                f"(gateway.upstreams.{self.name}.models)", code="model_not_found", param="model")

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.cfg.timeout, connect=5.0),
                                             limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _request(self, path: str, model: str, body: dict) -> httpx.Request:
        headers = {"content-type": "application/json"}
        key = None
        if self.cfg.api_key_env:
            key = os.environ.get(self.cfg.api_key_env)
            if not key:
                raise APIError(503, f"Upstream '{self.name}' is misconfigured: the environment variable "
                                    f"{self.cfg.api_key_env} (its API key) is not set in the gateway's environment. "
                                    "The administrator sets it where the gateway runs, then restarts it.",
                               code="upstream_misconfigured", outcome="upstream_error")
        params = {}
        if self.cfg.kind == "azure":  # deployments are the models; the key goes in `api-key`
            url = f"{self.cfg.base_url}/openai/deployments/{model}/{path}"
            params["api-version"] = self.cfg.api_version
            if key:
                headers["api-key"] = key
        else:
            url = f"{self.cfg.base_url}/{path}"
            if key:
                headers["authorization"] = f"Bearer {key}"
        payload = json.dumps({**body, "model": model}).encode()
        return self.client.build_request("POST", url, params=params, headers=headers, content=payload)

    async def _send(self, request: httpx.Request, stream: bool = False) -> httpx.Response:
        try:
            resp = await self.client.send(request, stream=stream)
        except httpx.TimeoutException:
            raise APIError(504, f"Upstream '{self.name}' did not answer within {self.cfg.timeout:g} s "
                                f"(gateway.upstreams.{self.name}.timeout).",
                           code="upstream_timeout", retry=True) from None
        except httpx.HTTPError as err:
            raise APIError(502, f"Upstream '{self.name}' at {self.cfg.base_url} is unreachable "
                                f"({type(err).__name__}: {err or 'no detail'}). Is it running? Check "
                                f"gateway.upstreams.{self.name}.base_url.",
                           code="upstream_unreachable", retry=True) from None
        if resp.status_code == 200:
            return resp
        if stream:
            await resp.aread()
            await resp.aclose()
        raise self._error(resp)

    def _error(self, resp: httpx.Response) -> APIError:
        status, msg = resp.status_code, _their_message(resp)
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

    def _json(self, resp: httpx.Response) -> dict:
        try:
            out = resp.json()
        except ValueError:
            out = None
        if not isinstance(out, dict):
            raise APIError(502, f"Upstream '{self.name}' answered with something that is not an OpenAI JSON object "
                                f"(content-type {resp.headers.get('content-type')!r}). Is base_url the API's /v1 URL?",
                           code="upstream_bad_response")
        return out

    async def chat(self, body: dict, model: str) -> dict:
        resp = await self._send(self._request("chat/completions", model, {**body, "stream": False}))
        return self._json(resp)

    async def chat_stream(self, body: dict, model: str) -> AsyncIterator[dict]:
        # Ask for the usage chunk so the budget counts real tokens; the gateway drops it again
        # if the learner did not ask for it.
        body = {**body, "stream": True, "stream_options": {**(body.get("stream_options") or {}), "include_usage": True}}
        resp = await self._send(self._request("chat/completions", model, body), stream=True)

        async def chunks():
            try:
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        raise APIError(502, f"Upstream '{self.name}' sent a stream chunk that is not JSON.",
                                       code="upstream_bad_response") from None
                    yield chunk
            except httpx.HTTPError as err:
                raise APIError(502, f"Upstream '{self.name}' broke off the stream ({type(err).__name__}).",
                               code="upstream_error") from None
            finally:
                await resp.aclose()

        return chunks()

    async def embeddings(self, body: dict, model: str) -> dict:
        resp = await self._send(self._request("embeddings", model, body))
        return self._json(resp)
