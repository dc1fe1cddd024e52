"""The OpenAI-compatible HTTP app. Every model request takes the same path:

    key (401) -> body (400/413) -> model (404) -> policy block (403) -> budget (429)
    -> injection flags -> PII redaction -> backend -> usage row (always, whatever happened)

The response says what the gateway did: an `adoptkit` field in the JSON (and in the first stream
chunk) and `x-adoptkit-*` headers: the backend, redactions by type, flags.

Redaction applies to the offline backend too (gateway.redaction.offline, default true): it is local, but
a learner then sees exactly what a real provider would receive, whichever backend answers.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from dataclasses import dataclass
from functools import partial

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from ..llm import offline
from ..settings import Settings, current
from . import db
from .budgets import Budgets
from .errors import APIError
from .hub import exchange
from .keys import Identity, KeyStore, authenticate
from .policy import PolicyCheck
from .redact import Redactor
from .routing import Router
from .usage import UsageLog, UsageRow

DRAIN_LIMIT = 32 * 1024 * 1024  # an oversized body is read (and dropped) up to this, so the client sees the 413
LONG_TEXT = 16_000  # characters of message text above which redaction runs in a worker thread


@dataclass
class Gateway:
    """Everything a request passes through, built once from the settings."""

    settings: Settings
    require_keys: bool

    def __post_init__(self):
        g = self.settings.gateway
        engine = db.connect(g.db_url, self.settings.root)
        self.keys, self.usage = KeyStore(engine), UsageLog(engine)
        self.budgets = Budgets(g.limits, self.usage.admitted_today(), enforce=self.require_keys)
        self.redactor = Redactor(g.redaction, self.settings.root) if g.redaction.enabled else None
        self.policy = PolicyCheck(g.policy)
        self.router = Router(g, root=self.settings.root)

    def redacts(self, backend) -> bool:
        return self.redactor is not None and (backend.name != "offline" or self.settings.gateway.redaction.offline)

    @contextlib.contextmanager
    def logged(self, row: UsageRow):
        """One usage row whatever happens. Success is recorded by the handler (a stream at its end)."""
        try:
            yield row
        except APIError as err:
            if err.outcome == "blocked":
                row.flags.append("blocked")
            self.usage.record(row.finish(err.status, err.outcome, err.message))
            raise
        except Exception as err:  # a bug: the row says so; its message (could quote input) stays out of the log
            self.usage.record(row.finish(500, "gateway_error", type(err).__name__))
            raise

    def extras(self, backend, model: str, row: UsageRow, flags=()) -> dict:
        """What the gateway did, for the response body (`adoptkit`) and headers."""
        return {"backend": backend.name, "model": model, "redactions": dict(row.redactions),
                "redacted": self.redacts(backend), "flags": [f.as_dict() for f in flags]}


def create_app(settings: Settings | None = None, require_keys: bool | None = None) -> FastAPI:
    settings = settings or current()
    gw = Gateway(settings, settings.gateway.require_keys if require_keys is None else require_keys)
    max_body = settings.gateway.max_body_bytes

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        await gw.router.aclose()
        gw.usage.close()

    app = FastAPI(title="adoptkit sandbox gateway", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.gateway = gw

    @app.exception_handler(APIError)
    async def _api_error(_request: Request, err: APIError):
        return err.response()

    @app.exception_handler(Exception)
    async def _bug(_request: Request, err: Exception):
        print(f"adoptkit gateway: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return APIError(500, f"The gateway failed ({type(err).__name__}); the administrator's log has details.",
                        code="gateway_error").response()

    def identify(request: Request) -> Identity:
        return authenticate(gw.keys, request.headers.get("authorization"), gw.require_keys)

    @app.get("/healthz")
    def healthz():
        return {"ok": True, "service": "adoptkit-sandbox", "keys_required": gw.require_keys}

    @app.get("/v1/models")
    def models(request: Request):
        identify(request)
        return {"object": "list", "data": gw.router.models()}

    @app.get("/v1/usage")
    async def own_usage(request: Request):
        """The caller's own budget and latest requests: there is no way to ask for anyone else's."""
        who = identify(request)
        await anyio.to_thread.run_sync(gw.usage.flush)
        return {"object": "usage", "learner": who.learner, "cohort": who.cohort, "budget": gw.budgets.status(who),
                "recent": await anyio.to_thread.run_sync(gw.usage.recent, who.learner)}

    @app.post("/v1/hub/exchange")
    async def hub_exchange(request: Request):
        body = await read_json(request, 64 * 1024)
        return await exchange(settings.gateway.hub, str(body.get("hub_token") or ""), gw.keys)

    @app.post("/v1/redact")
    async def redact_preview(request: Request):
        """What would leave for an upstream, without calling any model: the text as redacted, and counts.
        Logged as a row (endpoint "redact", no tokens); not counted against the budget."""
        with gw.logged(UsageRow("redact")) as row:
            who = identify(request)
            row.who(who)
            body = await read_json(request, max_body)
            text = body.get("text")
            if not isinstance(text, str):
                raise APIError(400, "Send {\"text\": \"...\"}: the text to preview.", param="text")
            red = gw.redactor.redact(text) if gw.redactor else None
            row.redactions.update(red.counts if red else {})
            gw.usage.record(row.finish(200, "ok"))
            return {"object": "redaction", "text": red.text if red else text, "redactions": dict(row.redactions),
                    "redaction_enabled": red is not None}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        with gw.logged(UsageRow("chat")) as row:
            who = identify(request)
            row.who(who)
            body = await read_json(request, max_body)
            row.model, row.stream = body.get("model"), bool(body.get("stream"))
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
                raise APIError(400, "`messages` must be a non-empty list of {role, content} objects", param="messages")
            backend, backend_model = gw.router.resolve(body.get("model"), "chat")
            row.backend, row.backend_model = backend.name, backend_model
            texts = [(i, str(m.get("role")), t) for i, m in enumerate(messages) for t in message_texts(m)]
            gw.policy.check_blocked([t for _, _, t in texts])
            gw.budgets.admit(who)
            flags = gw.policy.injection_flags(texts)
            row.flags += sorted({f"{f.kind}:{f.rule}" for f in flags})
            if gw.redacts(backend):
                # A long paste (a CSV of contacts) can keep Presidio busy for seconds: off the event loop,
                # so other learners' requests keep flowing meanwhile.
                big = sum(len(t) for _, _, t in texts) > LONG_TEXT
                redact = partial(redact_messages, gw.redactor, messages, row.redactions)
                body = {**body, "messages": await anyio.to_thread.run_sync(redact) if big else redact()}
            extras = gw.extras(backend, backend_model, row, flags)
            headers = extras_headers(extras)
            if row.stream:
                chunks = await backend.chat_stream(body, backend_model)
                wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return ClosingStream(stream_events(gw, who, row, chunks, extras, wants_usage, messages),
                                     media_type="text/event-stream", headers=headers)
            result = await backend.chat(body, backend_model)
            count_tokens(row, result.get("usage"), messages, result)
            gw.budgets.add_tokens(who, row.prompt_tokens + row.completion_tokens)
            gw.usage.record(row.finish(200, "ok"))
            return JSONResponse({**result, "adoptkit": extras}, headers=headers)

    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        with gw.logged(UsageRow("embeddings")) as row:
            who = identify(request)
            row.who(who)
            body = await read_json(request, max_body)
            row.model = body.get("model")
            backend, backend_model = gw.router.resolve(body.get("model"), "embedding")
            row.backend, row.backend_model = backend.name, backend_model
            inputs = body.get("input")
            texts = [inputs] if isinstance(inputs, str) else [t for t in inputs or [] if isinstance(t, str)]
            gw.policy.check_blocked(texts)
            gw.budgets.admit(who)
            if gw.redacts(backend) and texts:
                red = [gw.redactor.redact(t) for t in texts]
                for r in red:
                    row.redactions.update(r.counts)
                body = {**body, "input": red[0].text if isinstance(inputs, str) else [r.text for r in red]}
            result = await backend.embeddings(body, backend_model)
            row.prompt_tokens = int((result.get("usage") or {}).get("prompt_tokens") or 0)
            gw.budgets.add_tokens(who, row.prompt_tokens)
            gw.usage.record(row.finish(200, "ok"))
            extras = gw.extras(backend, backend_model, row)
            return JSONResponse({**result, "adoptkit": extras}, headers=extras_headers(extras))

    return app


# -- request pieces ------------------------------------------------------------------------------------

async def read_json(request: Request, limit: int) -> dict:
    declared = request.headers.get("content-length", "")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > DRAIN_LIMIT:
            break
    if size > limit or (declared.isdigit() and int(declared) > limit):
        raise APIError(413, f"The request body is {max(size, int(declared or 0)):,} bytes; this gateway takes at most "
                            f"{limit:,} (gateway.max_body_bytes). Send less text, e.g. the relevant part of the "
                            "document.", code="request_too_large")
    try:
        body = json.loads(b"".join(chunks))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise APIError(400, f"The request body is not valid JSON ({err}). Send a JSON object, as the openai "
                            "client does.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object.", code="invalid_json")
    return body


def message_texts(message: dict) -> list[str]:
    """The texts of a message a person could have written: content (string or text parts) and the
    arguments of tool calls."""
    content = message.get("content")
    out = [content] if isinstance(content, str) else [
        p.get("text") for p in content or [] if isinstance(p, dict) and isinstance(p.get("text"), str)]
    out += [c["function"]["arguments"] for c in message.get("tool_calls") or []
            if isinstance(c, dict) and isinstance((c.get("function") or {}).get("arguments"), str)]
    return [t for t in out if t]


def redact_messages(redactor: Redactor, messages: list[dict], counts: Counter) -> list[dict]:
    """A copy of the messages with PII replaced (the learner's own objects are left as they were)."""

    def clean(text: str) -> str:
        r = redactor.redact(text)
        counts.update(r.counts)
        return r.text

    out = []
    for m in messages:
        m = dict(m)
        if isinstance(m.get("content"), str):
            m["content"] = clean(m["content"])
        elif isinstance(m.get("content"), list):
            m["content"] = [{**p, "text": clean(p["text"])} if isinstance(p, dict) and isinstance(p.get("text"), str)
                            else p for p in m["content"]]
        if isinstance(m.get("tool_calls"), list):
            m["tool_calls"] = [
                {**c, "function": {**c["function"], "arguments": clean(c["function"]["arguments"])}}
                if isinstance(c, dict) and isinstance((c.get("function") or {}).get("arguments"), str) else c
                for c in m["tool_calls"]]
        out.append(m)
    return out


def extras_headers(extras: dict) -> dict:
    red = ",".join(f"{k}={v}" for k, v in sorted(extras["redactions"].items())) or "none"
    flags = ",".join(sorted({f"{f['type']}:{f['rule']}" for f in extras["flags"]})) or "none"
    return {"x-adoptkit-backend": extras["backend"], "x-adoptkit-redactions": red, "x-adoptkit-flags": flags}


def count_tokens(row: UsageRow, usage: dict | None, messages: list[dict], result: dict | None = None,
                 streamed_text: str = "") -> None:
    """Tokens from the backend's usage; estimated (offline tokenizer) when a backend gave none."""
    if usage:
        row.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        row.completion_tokens = int(usage.get("completion_tokens") or 0)
        return
    row.prompt_tokens = sum(offline.count_tokens(t) for m in messages for t in message_texts(m))
    if result:
        streamed_text = "".join(str((c.get("message") or {}).get("content") or "") for c in result.get("choices") or [])
    row.completion_tokens = offline.count_tokens(streamed_text)


class ClosingStream(StreamingResponse):
    """Closes the event generator however the response ends, so a client that goes away mid-stream
    still gets its usage row (and the upstream connection is released)."""

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()


async def stream_events(gw: Gateway, who: Identity, row: UsageRow, chunks, extras: dict, wants_usage: bool,
                        messages: list[dict]):
    usage, text, first, done = None, [], True, False
    try:
        async for chunk in chunks:
            if chunk.get("usage"):
                usage = chunk["usage"]
                if not chunk.get("choices") and not wants_usage:
                    continue
            for choice in chunk.get("choices") or []:
                text.append(str((choice.get("delta") or {}).get("content") or ""))
            if first:
                chunk, first = {**chunk, "adoptkit": extras}, False
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"
        done = True
    except APIError as err:  # the upstream broke off: say so in the stream (the openai client raises it)
        row.finish(outcome=err.outcome, error=err.message)
        yield f"data: {json.dumps(err.body())}\n\n"
    except Exception as err:  # a bug mid-stream: the same, without the details
        row.finish(outcome="gateway_error", error=type(err).__name__)
        yield f"data: {json.dumps(APIError(500, 'The gateway failed mid-stream.', code='gateway_error').body())}\n\n"
    finally:
        if not done and row.outcome == "ok":
            row.outcome = "client_disconnected"
        count_tokens(row, usage, messages, streamed_text="".join(text))
        gw.budgets.add_tokens(who, row.prompt_tokens + row.completion_tokens)
        gw.usage.record(row.finish())
        with anyio.CancelScope(shield=True):
            await chunks.aclose()
