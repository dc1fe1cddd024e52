"""The OpenAI-compatible HTTP app. Requests pass through here to a backend; the gateway's checks
(keys, budgets, redaction, usage log) wrap `chat` without changing the routes."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from .backends import OfflineBackend
from .errors import APIError

MAX_BODY_BYTES = 2 * 1024 * 1024


def create_app(backend=None) -> FastAPI:
    backend = backend or OfflineBackend()
    app = FastAPI(title="adoptkit sandbox", docs_url=None, redoc_url=None)
    app.state.backend = backend

    @app.exception_handler(APIError)
    async def _api_error(_request: Request, err: APIError):
        return err.response()

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": backend.models()}

    @app.get("/healthz")
    def healthz():
        return {"ok": True, "service": "adoptkit-sandbox"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await _json_body(request)
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise APIError(400, "`messages` must be a non-empty list of {role, content} objects", param="messages")
        known = {m["id"] for m in backend.models()} | {"course-default"}
        if body.get("model") not in known:
            raise APIError(404, f"The model {body.get('model')!r} does not exist here; available: {sorted(known)}",
                           code="model_not_found", param="model")
        result = backend.chat(body)
        if not body.get("stream"):
            return JSONResponse(result.to_openai())

        def events():
            for chunk in result.chunks():
                yield f"data: {json.dumps(chunk)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


async def _json_body(request: Request) -> dict:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise APIError(413, f"request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise APIError(400, f"request body is not valid JSON: {err}") from None
    if not isinstance(body, dict):
        raise APIError(400, "request body must be a JSON object")
    return body
