"""Typed errors: each carries the API's `error` code and `message` (API Gateway's own 401/403 say only
`message`), so callers branch on the type or the code, never on the wording."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class ImagegenError(Exception):
    """Anything the service or the way to it refused; `status` is None when no answer came."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        answered = " ".join(str(part) for part in (status, code) if part)
        super().__init__(f"{answered}: {message}" if answered else message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after


class ConfigurationError(ImagegenError):
    """No service URL: neither the `url` argument nor IMAGEGEN_URL."""


class ConnectionFailed(ImagegenError):
    """The service could not be reached, or the connection broke, after every retry."""


class WaitTimeout(ImagegenError, TimeoutError):
    """wait() gave up before the job ended; the job goes on."""


class InvalidRequest(ImagegenError):
    """400: the message names the field and what it takes."""


class Unauthorized(ImagegenError):
    """401: no token, or an expired one."""


class Forbidden(ImagegenError):
    """403: the authorizer refused the token."""


class NotFound(ImagegenError):
    """404: no such job or image for this caller."""


class Conflict(ImagegenError):
    """409: the job already ended, the blog file exists, or an Idempotency-Key is still running."""


class PayloadTooLarge(InvalidRequest):
    """413: the request body is over the service's limit."""


class Unprocessable(ImagegenError):
    """422: over the request's max_cost_usd, or an Idempotency-Key reused with another body."""


class RateLimited(ImagegenError):
    """429: the daily quota is spent; `retry_after` says in how many seconds it frees."""


class ServerError(ImagegenError):
    """5xx: the service failed; the message quotes the request id to report."""


_BY_STATUS: dict[int, type[ImagegenError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: Unprocessable,
    429: RateLimited,
}


def retry_after_of(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (a number or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date = response.headers.get("date")
    now = parsedate_to_datetime(date) if date else None
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        document = json.loads(response.content)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def error_for(response: httpx.Response) -> ImagegenError:
    """The typed error of a refused answer, from its status and `{error, message}` body."""
    body = _body(response)
    status = response.status_code
    message = str(body.get("message") or response.text[:300] or response.reason_phrase)
    code = body.get("error")
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else ImagegenError)
    return kind(
        message, status=status, code=str(code) if code else None, retry_after=retry_after_of(response)
    )
