"""The OpenAI-compatible HTTP app. Every model request takes the same path:

    key (401; bad keys throttled per source: 429) -> body (400/413) -> schema: only known fields (400)
    -> model (404) -> policy block (403) -> budget precheck (429) -> PII redaction of every string
    (400 if an identifier holds PII, 503 if an analyzer fails) -> budget hold (429) -> backend
    -> settle the hold, usage row (always, whatever happened)

The response says what the gateway did: an `adoptkit` field in the JSON (and in the first stream
chunk) and `x-adoptkit-*` headers: the backend, redactions by type, flags, a completion cap if the
budget set one.

Every backend takes this path, in-process ones included (the offline stand-in, the local llama.cpp
model and MiniLM embeddings): a backend only answers what the gateway forwards.

Nothing slow runs on the event loop: key lookups (and PostgreSQL budget steps) run in threads;
redaction of more than a few hundred characters and real embeddings run in two shared worker threads,
one job per learner at a time (fair.py); large offline answers in a thread; the local chat model in its
own thread, taking its queue's learners in turn (local.py). Each is bounded in size
(gateway.max_text_chars, 2,048 embedding inputs) and time (gateway.redaction.max_seconds). So one
learner's big request never holds up another learner's small one.

Redaction: requests that leave the machine (upstreams) are always redacted. Those answered in the
gateway's own process (offline stand-in, local model) are redacted too while gateway.redaction.offline
is true, the default: nothing leaves the machine, but a learner sees exactly what a real provider would
receive, whichever backend answers.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from ..llm import offline
from ..settings import Settings, current
from . import db, schema
from .budgets import Budgets, Hold, MemoryLedger, SQLLedger
from .backends import Caller
from .errors import APIError
from .fair import FairSlots
from .hub import exchange
from .keys import BadKeyThrottle, Identity, KeyStore, authenticate, bearer
from .policy import PolicyCheck
from .redact import RedactionFailed, Redactor, RedactionTooSlow, describe
from .routing import Router
from .scrub import secrets
from .usage import UsageLog, UsageRow

DRAIN_LIMIT = 32 * 1024 * 1024  # an oversized body is read (and dropped) up to this, so the client sees the 413
# Text up to this many characters is redacted on the event loop (a thread hop costs more than the work):
# patterns alone take well under a millisecond for 4,000 characters; the name model, where it reads, a few ms
# for a few hundred (bench/redaction.py).
INLINE_CHARS = {True: 256, False: 4_000}
WORKERS = 2  # threads for big redaction jobs: the loop keeps the interpreter often enough to stay responsive
# JSON-schema keywords: keys of free-form JSON that are vocabulary, not anybody's data
_SCHEMA_WORDS = frozenset(
    "type properties items required enum description title default format pattern minimum maximum "
    "exclusiveMinimum exclusiveMaximum additionalProperties anyOf oneOf allOf not $ref $defs definitions const "
    "examples minLength maxLength minItems maxItems uniqueItems nullable strict multipleOf $schema $id".split())


@dataclass
class Work:
    """What redaction made of a request: the strings to forward, and counts by type."""

    texts: list[str]
    counts: Counter = field(default_factory=Counter)


@dataclass
class Gateway:
    """Everything a request passes through, built once from the settings."""

    settings: Settings
    require_keys: bool

    def __post_init__(self):
        g = self.settings.gateway
        self.engine = db.connect(g.db_url, self.settings.root)
        self.keys, self.usage = KeyStore(self.engine), UsageLog(self.engine)
        shared = self.engine.dialect.name != "sqlite"
        ledger = SQLLedger(self.engine) if shared else MemoryLedger(self.usage.admitted_today())
        self.budgets = Budgets(g.limits, ledger, enforce=self.require_keys)
        self.budget_in_thread = shared  # a database round trip: off the loop
        self.redactor = Redactor(g.redaction, self.settings.root) if g.redaction.enabled else None
        self.policy = PolicyCheck(g.policy)
        self.heavy = FairSlots(WORKERS)  # big redaction jobs and real embeddings, one per learner at a time
        self.router = Router(g, root=self.settings.root)
        for backend in self.router.backends.values():
            if hasattr(backend, "redact_text"):
                backend.redact_text = self.scrub_pii
            if hasattr(backend, "heavy"):
                backend.heavy = self.heavy
        self.throttle = BadKeyThrottle()

    def redacts(self, backend) -> bool:
        """Requests that leave the machine are always redacted; those answered in the gateway's own process
        (the offline stand-in, the local model) too unless gateway.redaction.offline is false."""
        return self.redactor is not None and (backend.leaves_machine or self.settings.gateway.redaction.offline)

    async def budget(self, fn, *args):
        return await anyio.to_thread.run_sync(fn, *args) if self.budget_in_thread else fn(*args)

    async def identify(self, request: Request) -> Identity:
        authorization = request.headers.get("authorization")
        key = bearer(authorization)
        source = request.client.host if request.client else "unknown"
        now = time.monotonic()
        wait = self.throttle.blocked(source, key, now) if self.require_keys else 0
        if wait:
            raise APIError(429, f"Too many requests with unknown API keys from your address; try again in "
                                f"{math.ceil(wait)} s with your own key (ADOPTKIT_API_KEY).",
                           code="too_many_bad_keys", outcome="throttled", retry=True,
                           headers={"retry-after": str(math.ceil(wait))})
        try:
            who = await anyio.to_thread.run_sync(authenticate, self.keys, authorization, self.require_keys)
        except APIError:
            self.throttle.failed(source, time.monotonic())
            raise
        if key and who.key_id:
            self.throttle.good(key, now)
        return who

    # -- redaction -------------------------------------------------------------------------------------
    async def redact(self, prep: schema.Prepared, who: Identity) -> Work:
        """Redact every text slot and check every identifier slot of a request (see schema.py)."""
        texts = [t.replace("_", " ") if s.kind is schema.IDENT else t for s, t in zip(prep.slots, prep.texts)]
        todo = [i for i, (s, t) in enumerate(zip(prep.slots, prep.texts))
                if t and not (s.kind is schema.IDENT and t in _SCHEMA_WORDS)]
        if not todo:
            return Work(list(prep.texts))
        job = partial(self._redact_now, [texts[i] for i in todo], self.settings.gateway.redaction.max_seconds,
                      who.learner)
        try:
            if sum(len(texts[i]) for i in todo) <= INLINE_CHARS[self.redactor.people is not None]:
                done = job()
            else:
                done = await self.heavy.run_sync(who.learner, job)
        except RedactionTooSlow:
            biggest = max(todo, key=lambda i: len(prep.texts[i]))
            raise APIError(400, f"Checking this request for personal data took more than "
                                f"{self.settings.gateway.redaction.max_seconds:g} s of CPU time (the largest field is "
                                f"{prep.slots[biggest].path}, {len(prep.texts[biggest]):,} characters). Send less text.",
                           code="text_too_slow_to_check", param=prep.slots[biggest].path) from None
        except RedactionFailed as err:
            print(f"adoptkit gateway: redaction failed: {err}", file=sys.stderr)
            raise APIError(503, "The gateway could not check this request for personal data (its analyzer "
                                f"failed: {err}), so nothing was sent. The administrator's log has details.",
                           code="redaction_unavailable", outcome="redaction_error") from None
        out, counts = list(prep.texts), Counter()
        for i, red in zip(todo, done):
            slot = prep.slots[i]
            if slot.kind is schema.IDENT and red.counts:
                raise APIError(400, f"{slot.path} looks like it holds personal data ({', '.join(sorted(red.counts))}); "
                                    "names, keys and identifiers are sent to the model unchanged, so they cannot be "
                                    "redacted. Use a neutral name.", code="personal_data_in_identifier",
                               param=slot.path)
            if slot.kind is not schema.IDENT:
                out[i] = red.text
                counts.update(red.counts)
        return Work(out, counts)

    def _redact_now(self, texts: list[str], seconds: float, learner: str):
        return self.redactor.redact_many(texts, deadline=time.thread_time() + seconds, scope=learner)

    @contextlib.contextmanager
    def logged(self, row: UsageRow):
        """One usage row whatever happens. Success is recorded by the handler (a stream at its end).
        Requests refused before a learner is known are counted per minute, not logged one by one."""
        try:
            yield row
        except APIError as err:
            if err.outcome == "blocked":
                row.flags.append("blocked")
            if row.learner is None and err.status in (401, 429):
                self.usage.refused(row.endpoint, err.status, err.code or "refused")
            else:
                self.usage.record(row.finish(err.status, err.outcome, scrub_upstream(err)))
            raise
        except Exception as err:  # a bug: the row says so; its message (could quote input) stays out of the log
            self.usage.record(row.finish(500, "gateway_error", type(err).__name__))
            raise

    def scrub_pii(self, text: str) -> str:
        """An upstream's own words without personal data (a provider's 400 can quote the input)."""
        if self.redactor is None:
            return text
        try:
            return self.redactor.redact(text).text
        except (RedactionFailed, RedactionTooSlow):
            return "(the upstream's message could not be checked for personal data, so it is not shown)"

    def extras(self, backend, model: str, row: UsageRow, flags=(), hold: Hold | None = None, asked=None) -> dict:
        """What the gateway did, for the response body (`adoptkit`) and headers."""
        out = {"backend": backend.name, "model": model, "redactions": dict(row.redactions),
               "redacted": self.redacts(backend), "flags": [f.as_dict() for f in flags]}
        if hold is not None and hold.grant is not None and (asked is None or hold.grant < asked):
            out["max_tokens"] = hold.grant  # the completion cap the budget allowed
        return out


def create_app(settings: Settings | None = None, require_keys: bool | None = None) -> Starlette:
    settings = settings or current()
    gw = Gateway(settings, settings.gateway.require_keys if require_keys is None else require_keys)
    max_body = settings.gateway.max_body_bytes

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        await gw.router.aclose()
        gw.usage.close()

    async def _api_error(_request: Request, err: APIError):
        err.message = scrub_upstream(err)  # scrubbed where it came in already; this is the last net
        return err.response()

    async def _bug(_request: Request, err: Exception):
        print(f"adoptkit gateway: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return APIError(500, f"The gateway failed ({type(err).__name__}); the administrator's log has details.",
                        code="gateway_error").response()

    async def healthz(_request: Request):
        return JSONResponse({"ok": True, "service": "adoptkit-sandbox", "keys_required": gw.require_keys})

    async def models(request: Request):
        with gw.logged(UsageRow("models")) as row:
            row.who(await gw.identify(request))
        return JSONResponse({"object": "list", "data": gw.router.models()})

    async def own_usage(request: Request):
        """The caller's own budget and latest requests: there is no way to ask for anyone else's."""
        with gw.logged(UsageRow("usage")):
            who = await gw.identify(request)
        await anyio.to_thread.run_sync(gw.usage.flush)
        return JSONResponse({"object": "usage", "learner": who.learner, "cohort": who.cohort,
                             "budget": await gw.budget(gw.budgets.status, who),
                             "recent": await anyio.to_thread.run_sync(gw.usage.recent, who.learner)})

    async def hub_exchange(request: Request):
        source = request.client.host if request.client else "unknown"
        if wait := gw.throttle.blocked(source, None, time.monotonic()):
            raise APIError(429, f"Too many refused hub tokens from your address; try again in {math.ceil(wait)} s.",
                           code="too_many_bad_keys", retry=True, headers={"retry-after": str(math.ceil(wait))})
        body = await read_json(request, 64 * 1024)
        try:
            return JSONResponse(await exchange(settings.gateway.hub, str(body.get("hub_token") or ""), gw.keys))
        except APIError as err:
            if err.status == 401:
                gw.throttle.failed(source, time.monotonic())
            raise

    async def redact_preview(request: Request):
        """What would leave for an upstream, without calling any model: the text as redacted, and counts.
        Logged as a row (endpoint "redact", no tokens); not counted against the budget."""
        with gw.logged(UsageRow("redact")) as row:
            who = await gw.identify(request)
            row.who(who)
            body = await read_json(request, max_body)
            text = body.get("text")
            if not isinstance(text, str):
                raise APIError(400, "Send {\"text\": \"...\"}: the text to preview.", param="text")
            check_size([text], ["text"], settings.gateway.max_text_chars)
            prep = schema.Prepared()
            prep.slot(text, "text", schema.TEXT)
            work = await gw.redact(prep, who) if gw.redactor else Work([text])
            row.redactions.update(work.counts)
            gw.usage.record(row.finish(200, "ok"))
            return JSONResponse({"object": "redaction", "text": work.texts[0], "redactions": dict(row.redactions),
                                 "redaction_enabled": gw.redactor is not None,
                                 "detects": describe(settings.gateway.redaction)})

    async def admit(request: Request, row: UsageRow, model, endpoint: str, capability: str | None = None):
        """What a model endpoint does before it reads the texts for injection or personal data: who asks,
        the body (bounded, validated), the backend, the texts' size and the policy's blocks, the budget's
        pre-check; each noted on the usage row as it is known."""
        who = await gw.identify(request)
        row.who(who)
        body = await read_json(request, max_body)
        row.model = str(body.get("model"))[:200]
        if endpoint == "chat":
            row.stream = bool(body.get("stream"))
        req = schema.validate(model, body, endpoint)
        backend, backend_model = gw.router.resolve(req.model, capability or endpoint)
        row.backend, row.backend_model = backend.name, backend_model
        tree, prep = schema.prepare(req)
        check_size(prep.texts, [s.path for s in prep.slots], settings.gateway.max_text_chars)
        gw.policy.check_blocked([t for s, t in zip(prep.slots, prep.texts) if s.kind is schema.TEXT])
        await gw.budget(gw.budgets.precheck, who)
        return who, req, backend, backend_model, tree, prep

    async def redacted(row: UsageRow, who, backend, tree, prep) -> tuple[Work, dict]:
        """The texts as they may leave (redacted where the backend calls for it), and the body to forward."""
        work = await gw.redact(prep, who) if gw.redacts(backend) else Work(list(prep.texts))
        row.redactions.update(work.counts)
        return work, schema.fill(tree, prep, work.texts)

    async def chat(request: Request):
        hold = None
        streaming = False
        try:
            with gw.logged(UsageRow("chat")) as row:
                who, req, backend, backend_model, tree, prep = await admit(request, row, schema.ChatRequest, "chat")
                messages = [(i, m.role, t) for i, m in enumerate(req.messages) for t in message_texts(m)]
                flags = gw.policy.injection_flags(messages)
                row.flags += sorted({f"{f.kind}:{f.rule}" for f in flags})
                work, forward = await redacted(row, who, backend, tree, prep)
                asked = req.max_completion_tokens or req.max_tokens
                prompt = estimate_tokens(work.texts, len(req.messages))
                hold = await gw.budget(gw.budgets.reserve, who, prompt, asked, req.n or 1)
                cap_completion(forward, hold, asked, backend)
                caller = Caller(who.learner, partial(fit_hold, gw, hold))
                extras = gw.extras(backend, backend_model, row, flags, hold, asked)
                headers = extras_headers(extras)
                if req.stream:
                    chunks = await backend.chat_stream(forward, backend_model, caller)
                    wants_usage = bool(req.stream_options and req.stream_options.include_usage)
                    streaming = True
                    return ClosingStream(stream_events(gw, row, chunks, extras, wants_usage, forward, hold),
                                         on_close=partial(settle_unstarted, gw, row, hold),
                                         media_type="text/event-stream", headers=headers)
                result = await backend.chat(forward, backend_model, caller)
                count_tokens(row, result.get("usage"), forward, result)
                await gw.budget(gw.budgets.settle, hold, row.prompt_tokens + row.completion_tokens)
                gw.usage.record(row.finish(200, "ok"))
                return JSONResponse({**result, "adoptkit": extras}, headers=headers)
        finally:
            if hold is not None and not streaming and not hold.settled:
                await gw.budget(gw.budgets.settle, hold, 0)  # failed before it was answered: nothing used

    async def embeddings(request: Request):
        hold = None
        try:
            with gw.logged(UsageRow("embeddings")) as row:
                who, req, backend, backend_model, tree, prep = await admit(request, row, schema.EmbeddingsRequest,
                                                                          "embeddings", "embedding")
                work, forward = await redacted(row, who, backend, tree, prep)
                # each input counted as a message: a real model adds its own tokens around every input
                hold = await gw.budget(gw.budgets.reserve, who, estimate_tokens(work.texts, len(work.texts)), 1, 1)
                result = await backend.embeddings(forward, backend_model, Caller(who.learner))
                if not backend.leaves_machine:  # the model that answered (local: the stand-in where MiniLM is absent)
                    row.backend_model = backend_model = str(result.get("model") or backend_model)
                row.prompt_tokens = int((result.get("usage") or {}).get("prompt_tokens") or 0)
                await gw.budget(gw.budgets.settle, hold, row.prompt_tokens)
                gw.usage.record(row.finish(200, "ok"))
                extras = gw.extras(backend, backend_model, row)
                return JSONResponse({**result, "adoptkit": extras}, headers=extras_headers(extras))
        finally:
            if hold is not None and not hold.settled:
                await gw.budget(gw.budgets.settle, hold, 0)

    app = Starlette(routes=[
        Route("/healthz", healthz), Route("/v1/models", models), Route("/v1/usage", own_usage),
        Route("/v1/hub/exchange", hub_exchange, methods=["POST"]), Route("/v1/redact", redact_preview, methods=["POST"]),
        Route("/v1/chat/completions", chat, methods=["POST"]), Route("/v1/embeddings", embeddings, methods=["POST"]),
    ], exception_handlers={APIError: _api_error, Exception: _bug}, lifespan=lifespan)
    app.state.gateway = gw
    return app


# -- request pieces ------------------------------------------------------------------------------------

def scrub_upstream(err: APIError) -> str:
    """An error's message, with credentials removed if it carries a third party's words."""
    return secrets(err.message) if (err.code or "").startswith(("upstream", "hub")) else err.message


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


async def read_json(request: Request, limit: int) -> dict:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > DRAIN_LIMIT:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > DRAIN_LIMIT:
            break
    if size > limit or (declared.isdigit() and int(declared) > limit):
        raise _too_large(max(size, int(declared or 0)), limit)
    try:
        body = json.loads(b"".join(chunks), parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as err:
        raise APIError(400, f"The request body is not valid JSON ({str(err)[:120]}). Send a JSON object, as the "
                            "openai client does.", code="invalid_json") from None
    except RecursionError:
        raise APIError(400, "The request body is JSON nested too deeply to read (more than about a thousand "
                            "levels). Send a flatter object.", code="too_deep") from None
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object.", code="invalid_json")
    return body


def _too_large(size: int, limit: int) -> APIError:
    return APIError(413, f"The request body is {size:,} bytes; this gateway takes at most {limit:,} "
                         "(gateway.max_body_bytes). Send less text, e.g. the relevant part of the document.",
                    code="request_too_large")


def check_size(texts: list[str], paths: list[str], limit: int) -> None:
    total = sum(map(len, texts))
    if total > limit:
        biggest = max(range(len(texts)), key=lambda i: len(texts[i]))
        raise APIError(400, f"This request holds {total:,} characters of text; the gateway checks at most {limit:,} "
                            f"a request for personal data (gateway.max_text_chars). The largest field is "
                            f"{paths[biggest]} ({len(texts[biggest]):,} characters): send the relevant part.",
                       code="text_too_long", param=paths[biggest])


def message_texts(message) -> list[str]:
    """The texts of a validated message a person could have written (content, refusal, tool-call
    arguments), for the injection detector."""
    content = getattr(message, "content", None)
    out = [content] if isinstance(content, str) else [
        getattr(p, "text", None) or getattr(p, "refusal", None) for p in content or []]
    for call in getattr(message, "tool_calls", None) or []:
        args = call.function.arguments
        out.append(args if isinstance(args, str) else json.dumps(args))
    return [t for t in out if isinstance(t, str) and t]


def estimate_tokens(texts: list[str], messages: int) -> int:
    """A prompt's tokens, erring high: the offline tokenizer's count of everything forwarded, plus a
    quarter (real tokenizers split rare words and numbers finer), plus each message's framing."""
    count = sum(offline.count_tokens(t) for t in texts)
    return count + count // 4 + 4 * messages + 8


def cap_completion(forward: dict, hold: Hold, asked: int | None, backend) -> None:
    """Pass the budget's completion cap on to the model when it is below what was asked."""
    if hold.grant is None or (asked is not None and hold.grant >= asked):
        return
    if "max_completion_tokens" in forward or (
            "max_tokens" not in forward and getattr(getattr(backend, "cfg", None), "kind", "") in ("openai", "azure")):
        forward["max_completion_tokens"] = hold.grant
        forward.pop("max_tokens", None)
    else:
        forward["max_tokens"] = hold.grant


def fit_hold(gw: Gateway, hold: Hold, prompt_tokens: int, cap: int) -> int:
    """A backend counted the real prompt (Caller.fit; the local model, in its own thread): hold exactly
    what the request can use, its prompt and its answer's cap. If the budget cannot take more, the answer
    is cut to what the hold covers (below 1: refused)."""
    if gw.budgets.adjust(hold, prompt_tokens + cap - hold.tokens):
        return cap
    return min(cap, hold.tokens - prompt_tokens)


def extras_headers(extras: dict) -> dict:
    red = ",".join(f"{k}={v}" for k, v in sorted(extras["redactions"].items())) or "none"
    flags = ",".join(sorted({f"{f['type']}:{f['rule']}" for f in extras["flags"]})) or "none"
    out = {"x-adoptkit-backend": extras["backend"], "x-adoptkit-redactions": red, "x-adoptkit-flags": flags}
    if "max_tokens" in extras:
        out["x-adoptkit-max-tokens"] = str(extras["max_tokens"])
    return out


def count_tokens(row: UsageRow, usage: dict | None, forward: dict, result: dict | None = None,
                 streamed_text: str = "") -> None:
    """Tokens from the backend's usage; estimated (offline tokenizer) when a backend gave none."""
    if usage:
        row.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        row.completion_tokens = int(usage.get("completion_tokens") or 0)
        return
    row.prompt_tokens = sum(offline.count_tokens(offline._content(m)) for m in forward.get("messages") or [])
    if result:
        streamed_text = "".join(str((c.get("message") or {}).get("content") or "") for c in result.get("choices") or [])
    row.completion_tokens = offline.count_tokens(streamed_text)


class ClosingStream(StreamingResponse):
    """Closes the event generator however the response ends, so a client that goes away mid-stream
    still gets its usage row (and the upstream connection is released); `on_close` runs after, for
    what a generator that never started cannot do itself (settle the budget)."""

    def __init__(self, content, on_close=None, **kw):
        super().__init__(content, **kw)
        self.on_close = on_close

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()
                if self.on_close is not None:
                    await self.on_close()


async def settle_unstarted(gw: Gateway, row: UsageRow, hold: Hold) -> None:
    if not hold.settled:  # the stream never started: the client went away before the first byte
        await gw.budget(gw.budgets.settle, hold, 0)
        gw.usage.record(row.finish(outcome="client_disconnected"))


async def stream_events(gw: Gateway, row: UsageRow, chunks, extras: dict, wants_usage: bool, forward: dict,
                        hold: Hold):
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
        err.message = scrub_upstream(err)
        row.finish(outcome=err.outcome, error=err.message)
        yield f"data: {json.dumps(err.body())}\n\n"
    except Exception as err:  # a bug mid-stream: the same, without the details
        row.finish(outcome="gateway_error", error=type(err).__name__)
        yield f"data: {json.dumps(APIError(500, 'The gateway failed mid-stream.', code='gateway_error').body())}\n\n"
    finally:
        if not done and row.outcome == "ok":
            row.outcome = "client_disconnected"
        count_tokens(row, usage, forward, streamed_text="".join(text))
        with anyio.CancelScope(shield=True):
            await gw.budget(gw.budgets.settle, hold, row.prompt_tokens + row.completion_tokens)
            gw.usage.record(row.finish())
            await chunks.aclose()

