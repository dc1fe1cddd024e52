"""OpenAI's error format, so the real openai client raises its own exception classes
(400 BadRequestError, 401 AuthenticationError, 403 PermissionDeniedError, 404 NotFoundError,
429 RateLimitError, 5xx InternalServerError, others APIStatusError)."""

from __future__ import annotations

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "invalid_request_error", 422: "invalid_request_error",
          429: "rate_limit_exceeded", 500: "server_error", 502: "upstream_error", 503: "server_error",
          504: "upstream_error"}
# What the usage log calls a refused request, when the error does not say.
_OUTCOMES = {400: "bad_request", 401: "unauthorized", 403: "blocked", 404: "not_found", 413: "too_large",
             429: "rate_limited", 502: "upstream_error", 503: "upstream_error", 504: "upstream_error"}


class APIError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 headers: dict | None = None, outcome: str | None = None, retry: bool = False):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.outcome = outcome or _OUTCOMES.get(status, "error")
        # The openai client retries 429 and 5xx on its own; `x-should-retry: false` stops it where a
        # retry cannot help (a daily budget, a missing upstream key), so the learner sees the message now.
        self.headers = {**(headers or {}), **({} if retry else {"x-should-retry": "false"})}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": _TYPES.get(self.status, "api_error"),
                          "param": self.param, "code": self.code}}

    def response(self):
        from starlette.responses import JSONResponse

        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)
