"""Backends answer chat requests. The offline model is the default one; upstreams join this module."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Iterator

from ..llm import offline


@dataclass
class ChatResult:
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    created: int = field(default_factory=lambda: int(time.time()))

    def to_openai(self) -> dict:
        return {
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "finish_reason": self.finish_reason,
                         "message": {"role": "assistant", "content": self.content}}],
            "usage": {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                      "total_tokens": self.prompt_tokens + self.completion_tokens},
        }

    def chunks(self) -> Iterator[dict]:
        """The same answer as OpenAI stream chunks: role first, then a few words a chunk, then usage."""
        base = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
        yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        words = self.content.split(" ")
        for i in range(0, len(words), 4):
            piece = " ".join(words[i:i + 4]) + (" " if i + 4 < len(words) else "")
            yield {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": self.finish_reason}],
               "usage": self.to_openai()["usage"]}


class OfflineBackend:
    """The offline stand-in model, in process."""

    name = "offline"

    def models(self) -> list[dict]:
        return [{"id": offline.MODEL_ID, "object": "model", "created": 0, "owned_by": "adoptkit",
                 "description": offline.DESCRIPTION}]

    def chat(self, body: dict) -> ChatResult:
        messages = body.get("messages") or []
        content = offline.answer(messages, body.get("response_format"))
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "stop"
        if max_tokens and offline.count_tokens(content) > max_tokens:
            content, finish = " ".join(content.split(" ")[: int(max_tokens)]), "length"
        prompt = sum(offline.count_tokens(offline._content(m)) for m in messages)
        return ChatResult(content, offline.MODEL_ID, prompt, offline.count_tokens(content), finish)
