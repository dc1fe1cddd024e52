"""Backends answer requests. The offline model is the default one, in process; the local models
(llama.cpp, MiniLM) are in local.py, upstreams (real providers) in upstreams.py. Each has:

    name                                                 its name in `BACKEND:MODEL`
    leaves_machine                                       True if requests go to another machine (upstreams);
                                                         False for models in the gateway's own process,
                                                         which gateway.redaction.offline may exempt
    models() -> list[dict]                               what /v1/models lists
    check_model(model, kind) -> str                      the model's own name (what the usage log records:
                                                         local's "default" is the file it serves), or
                                                         APIError if the backend lacks that model
    async chat(body, model, caller) -> dict              an OpenAI chat.completion
    async chat_stream(body, model, caller)               an async iterator of OpenAI chat.completion.chunk
                                                         dicts, the last one with `usage` and `choices: []`;
                                                         awaiting it raises APIError before any byte is sent
    async embeddings(body, model, caller) -> dict        an OpenAI embedding list

`body` is what the gateway forwards: validated (schema.py) and redacted. `caller` (a Caller) says who
asked, for a backend that shares something scarce between learners (the local model's queue takes
learners in turn), and lets a backend that counts the real prompt before generating settle the budget's
hold on it (`fit`).
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
import time
import uuid
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable, Iterator

import anyio

from ..llm import offline
from .errors import APIError

EMBED_MODEL_ID = "adoptkit-offline-embed"
BIG_TEXT = 8_000  # characters above which the offline model works in a thread, off the event loop
EMBED_DIM = 256


@dataclass(frozen=True)
class Caller:
    learner: str = ""
    # fit(real prompt tokens, completion cap asked) -> the completion cap the budget allows (< 1: none).
    # The gateway's hold was made on an estimate; a backend that counts the prompt exactly (local) calls
    # this before generating, and the gateway holds or releases the difference (budgets.Budgets.adjust).
    fit: Callable[[int, int], int] | None = None


ANYONE = Caller()


@dataclass
class ChatResult:
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    created: int = field(default_factory=lambda: int(time.time()))

    def usage(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}

    def to_openai(self) -> dict:
        return {
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "finish_reason": self.finish_reason, "logprobs": None,
                         "message": {"role": "assistant", "content": self.content}}],
            "usage": self.usage(),
        }

    def chunks(self) -> Iterator[dict]:
        """The same answer as OpenAI stream chunks: role first, a few words a chunk, the finish reason,
        then a usage chunk with no choices (what OpenAI sends for stream_options.include_usage)."""
        base = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
        yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        words = self.content.split(" ")
        for i in range(0, len(words), 4):
            piece = " ".join(words[i:i + 4]) + (" " if i + 4 < len(words) else "")
            yield {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": self.finish_reason}]}
        yield {**base, "choices": [], "usage": self.usage()}


def embed(text: str, dim: int = EMBED_DIM) -> list[float]:
    """A stand-in embedding: a signed, hashed bag of words and word pairs (stop words dropped, words cut
    to six letters as a crude stem), L2-normalised. Texts sharing words get a positive cosine; it knows
    no synonyms, which a real embedding model does. Deterministic across processes (BLAKE2b, not hash())."""
    vec = [0.0] * dim
    words = offline._words(text)
    for feature in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
        h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
        vec[h % dim] += 1.0 if h >> 63 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec] if norm else vec


def embedding_list(vectors: list[list[float]], model: str, tokens: int, encoding: str | None) -> dict:
    def encode(v):  # the openai client asks for base64 (little-endian float32) unless told otherwise
        return base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if encoding == "base64" else v

    return {"object": "list", "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def embedding_inputs(body: dict) -> list[str]:
    raw = body.get("input")
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items or not all(isinstance(t, str) for t in items):
        raise APIError(400, "`input` must be a string or a non-empty list of strings", param="input")
    return items


class OfflineBackend:
    """The offline stand-in model, in process."""

    name = "offline"
    leaves_machine = False

    def models(self) -> list[dict]:
        return [{"id": offline.MODEL_ID, "object": "model", "created": 0, "owned_by": "adoptkit",
                 "description": offline.DESCRIPTION},
                {"id": EMBED_MODEL_ID, "object": "model", "created": 0, "owned_by": "adoptkit",
                 "description": "adoptkit offline stand-in embeddings: hashed bag of words, not a learned model"}]

    def answer(self, body: dict) -> ChatResult:
        messages = body.get("messages") or []
        content = offline.answer(messages, body.get("response_format"))
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "stop"
        if isinstance(max_tokens, int) and max_tokens > 0 and offline.count_tokens(content) > max_tokens:
            words = content.split(" ")[:max_tokens]
            while len(words) > 1 and offline.count_tokens(" ".join(words)) > max_tokens:
                words.pop()  # never past the cap: a budget hold counts on it
            content, finish = " ".join(words), "length"
        prompt = sum(offline.count_tokens(offline._content(m)) for m in messages)
        return ChatResult(content, offline.MODEL_ID, prompt, offline.count_tokens(content), finish)

    def check_model(self, model: str, kind: str) -> str:
        want = offline.MODEL_ID if kind == "chat" else EMBED_MODEL_ID
        if model != want:
            raise APIError(400, f"'{model}' is not a{'n' if kind == 'embedding' else ''} {kind} model; the offline "
                                f"{kind} model is '{want}' (or its alias in gateway.aliases)",
                           code="wrong_model_kind", param="model")
        return model

    async def _answer(self, body: dict) -> ChatResult:
        size = sum(len(offline._content(m)) for m in body.get("messages") or [])
        return await anyio.to_thread.run_sync(self.answer, body) if size > BIG_TEXT else self.answer(body)

    async def chat(self, body: dict, model: str, caller: Caller = ANYONE) -> dict:
        return (await self._answer(body)).to_openai()

    async def chat_stream(self, body: dict, model: str, caller: Caller = ANYONE) -> AsyncIterator[dict]:
        result = await self._answer(body)

        async def chunks():
            for chunk in result.chunks():
                yield chunk

        return chunks()

    async def embeddings(self, body: dict, model: str, caller: Caller = ANYONE) -> dict:
        texts = embedding_inputs(body)
        dim = body.get("dimensions") or EMBED_DIM
        if not isinstance(dim, int) or not 1 <= dim <= 4096:
            raise APIError(400, "`dimensions` must be an integer from 1 to 4096", param="dimensions")

        def work():
            tokens = sum(offline.count_tokens(t) for t in texts)
            return embedding_list([embed(t, dim) for t in texts], EMBED_MODEL_ID, tokens, body.get("encoding_format"))

        big = len(texts) > 16 or sum(map(len, texts)) > BIG_TEXT  # off the event loop: others keep flowing
        return await anyio.to_thread.run_sync(work) if big else work()
