"""A client that answers with fixed responses, for grading LLM-using code without a live model.

It is the real `openai.OpenAI`, only its HTTP transport is replaced, so the learner's code runs
exactly as it would against the gateway; every request body is kept for the tests to inspect
(`client.requests`), e.g. to check the prompt names the labels.
"""

from __future__ import annotations

import json
from typing import Callable, Iterable

import httpx2
import openai


class ReplayExhausted(AssertionError):
    pass


def replay_client(responses: Iterable[str] | Callable[[dict], str], model: str = "replay") -> openai.OpenAI:
    """`responses`: the contents to answer with, in order, or a function of the request body."""
    answer = responses if callable(responses) else iter(list(responses)).__next__
    requests: list[dict] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content or b"{}")
        requests.append(body)
        try:
            content = answer(body) if callable(responses) else answer()
        except StopIteration:
            raise ReplayExhausted(f"the code made more model calls than the {len(requests) - 1} recorded") from None
        return httpx2.Response(200, json={
            "id": f"replay-{len(requests)}", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        })

    c = openai.OpenAI(api_key="replay", base_url="http://replay.invalid/v1",
                      http_client=httpx2.Client(transport=httpx2.MockTransport(handle)), max_retries=0)
    c.requests = requests  # type: ignore[attr-defined]
    return c
