"""The client's one core, written once for both clients: every operation is a plan, a generator that
yields effects (an HTTP call, a pause, a progress report, a WebSocket step) and gets their outcomes
back. `Client` performs the effects with blocking I/O, `AsyncClient` with await; what to send, how
to retry, how to wait and where files go is decided here only.

A driver throws an effect's exception (an httpx.TransportError, a LiveFailed) back into the plan,
which decides: retry, fall back, or let it out.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from imagegen_client.errors import (
    ConfigurationError,
    ConnectionFailed,
    ImagegenError,
    WaitTimeout,
    error_for,
    retry_after_of,
)
from imagegen_client.models import (
    BatchGenerationRequest,
    BlogImageRequest,
    CacheCleared,
    CachedPage,
    IconRequest,
    ImageLink,
    Item,
    JobAccepted,
    JobPage,
    JobResult,
    JobStatus,
    Progress,
    Stats,
    Suggestions,
    Ticket,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
USER_AGENT = "imagegen-client/0.1"
METADATA_SUFFIX = "_metadata.json"  # the README's blog layout: {filename}_metadata.json beside the image
MAX_PREFER_WAIT = 25  # the service waits at most 25 s on a create (API Gateway's 30 s cap)


# --- effects ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One HTTP request; `url` is a path under the service, or an absolute (presigned) URL."""

    method: str
    url: str
    params: Mapping[str, str | int] | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    authenticated: bool = True


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Report:
    """Hand a progress update to the caller's callback (awaited by AsyncClient if it is a coroutine)."""

    callback: Callable[[Progress], Any]
    progress: Progress


@dataclass(frozen=True)
class Connect:
    """Open a WebSocket; the outcome is a handle for the effects below."""

    url: str


@dataclass(frozen=True)
class SendText:
    socket: Any
    text: str


@dataclass(frozen=True)
class Receive:
    """The next message, or None when none came within `timeout` seconds."""

    socket: Any
    timeout: float


@dataclass(frozen=True)
class Disconnect:
    socket: Any


Effect = Call | Sleep | Report | Connect | SendText | Receive | Disconnect
Plan = Generator[Effect, Any, T]


class LiveFailed(Exception):
    """A WebSocket effect failed (refused, closed, no websockets installed): wait() polls instead."""


# --- configuration and requests ---------------------------------------------------------------


def resolve_config(url: str | None, token: str | None) -> tuple[str, str | None]:
    """The service URL and token: arguments first, then IMAGEGEN_URL / IMAGEGEN_TOKEN."""
    base = url or os.environ.get("IMAGEGEN_URL")
    if not base:
        raise ConfigurationError(
            "no service URL: pass url=... or set IMAGEGEN_URL (e.g. http://127.0.0.1:3560)"
        )
    return base.rstrip("/"), token if token is not None else os.environ.get("IMAGEGEN_TOKEN")


def headers_for(call: Call, token: str | None) -> dict[str, str]:
    """The call's headers, with the bearer token for the service's own URLs only (never S3's)."""
    headers = {"User-Agent": USER_AGENT, **call.headers}
    if call.authenticated and token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are tried again, and after how long: Retry-After when the service gives one,
    else exponential backoff with jitter, so that many clients do not come back in step."""

    attempts: int = 4  # tries in all
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    max_backoff: float = 8.0
    # A longer Retry-After (a daily quota that frees at midnight) is raised at once as RateLimited.
    max_retry_after: float = 60.0

    def delay(self, attempt: int, outcome: httpx.Response | Exception) -> float | None:
        """Seconds before trying again after the `attempt`-th try (1-based), None to stop."""
        if attempt >= self.attempts or not _retryable(outcome):
            return None
        hinted = retry_after_of(outcome) if isinstance(outcome, httpx.Response) else None
        if hinted is not None:
            return hinted if hinted <= self.max_retry_after else None
        ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


NO_RETRY = RetryPolicy(attempts=1)


def _retryable(outcome: httpx.Response | Exception) -> bool:
    if isinstance(outcome, Exception):
        return isinstance(outcome, httpx.TransportError)
    if outcome.status_code in (429, 500, 502, 503, 504):
        return True
    # The first try of this very request (same Idempotency-Key) is still running on the service.
    return outcome.status_code == 409 and _error_code(outcome) == "idempotency_in_progress"


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


def send(call: Call, retry: RetryPolicy) -> Plan[httpx.Response]:
    """The call, retried per `retry`; a refused answer raises its typed error."""
    attempt = 0
    while True:
        attempt += 1
        outcome: httpx.Response | Exception
        try:
            outcome = yield call
        except httpx.TransportError as failure:
            outcome = failure
        pause = retry.delay(attempt, outcome)
        if pause is not None:
            yield Sleep(pause)
            continue
        if isinstance(outcome, Exception):
            raise ConnectionFailed(f"{call.method} {call.url}: {outcome!r}") from outcome
        if outcome.status_code >= 400:
            raise error_for(outcome)
        return outcome


def fetch(call: Call, model: type[M], retry: RetryPolicy) -> Plan[M]:
    response = yield from send(call, retry)
    return model.model_validate_json(response.content)


def _post(path: str, body: Any, idempotency_key: str | None, extra: Mapping[str, str] | None = None) -> Call:
    # One key per call, reused by every retry of it: the service answers a repeated key with the
    # first answer, so a retry after a lost answer never creates (or cancels) twice.
    headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex, **(extra or {})}
    return Call("POST", path, body=body, headers=headers)


# --- operations -------------------------------------------------------------------------------

_CREATE_PATHS: dict[type[BaseModel], str] = {
    IconRequest: "/api/icons/generate",
    BlogImageRequest: "/api/images/generate",
    BatchGenerationRequest: "/api/icons/generate/batch",
}


def create(
    request: IconRequest | BlogImageRequest | BatchGenerationRequest,
    wait: int,
    idempotency_key: str | None,
    retry: RetryPolicy,
) -> Plan[JobAccepted | JobResult]:
    """Create a job. With `wait` (seconds, at most 25) the service may answer with the ended job's result."""
    prefer = {"Prefer": f"wait={min(wait, MAX_PREFER_WAIT)}"} if wait > 0 else {}
    call = _post(_CREATE_PATHS[type(request)], request.body(), idempotency_key, prefer)
    response = yield from send(call, retry)
    if response.status_code == 202:
        return JobAccepted.model_validate_json(response.content)
    return JobResult.model_validate_json(response.content)


def status(job_id: str, retry: RetryPolicy) -> Plan[JobStatus]:
    return (yield from fetch(Call("GET", f"/api/jobs/{job_id}"), JobStatus, retry))


def result(job_id: str, retry: RetryPolicy) -> Plan[JobResult]:
    return (yield from fetch(Call("GET", f"/api/jobs/{job_id}/result"), JobResult, retry))


def cancel(job_id: str, idempotency_key: str | None, retry: RetryPolicy) -> Plan[JobStatus]:
    return (yield from fetch(_post(f"/api/jobs/{job_id}/cancel", None, idempotency_key), JobStatus, retry))


def _page_params(limit: int, cursor: str | None) -> dict[str, str | int]:
    return {"limit": limit, **({"cursor": cursor} if cursor else {})}


def jobs_page(limit: int, cursor: str | None, retry: RetryPolicy) -> Plan[JobPage]:
    """One page of the caller's jobs, newest first; its next_cursor leads to the next."""
    return (yield from fetch(Call("GET", "/api/jobs", _page_params(limit, cursor)), JobPage, retry))


def cached_page(limit: int, cursor: str | None, retry: RetryPolicy) -> Plan[CachedPage]:
    return (
        yield from fetch(Call("GET", "/api/icons/cached", _page_params(limit, cursor)), CachedPage, retry)
    )


def clear_cache(idempotency_key: str | None, retry: RetryPolicy) -> Plan[CacheCleared]:
    return (yield from fetch(_post("/api/icons/cache/clear", None, idempotency_key), CacheCleared, retry))


def stats(retry: RetryPolicy) -> Plan[Stats]:
    return (yield from fetch(Call("GET", "/api/icons/stats"), Stats, retry))


def suggestions(query: str, limit: int, retry: RetryPolicy) -> Plan[Suggestions]:
    params: dict[str, str | int] = {"q": query, "limit": limit}
    return (yield from fetch(Call("GET", "/api/icons/categories/suggestions", params), Suggestions, retry))


def openapi(retry: RetryPolicy) -> Plan[dict[str, Any]]:
    response = yield from send(Call("GET", "/api/openapi.json"), retry)
    document: dict[str, Any] = response.json()
    return document


# --- waiting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitOptions:
    timeout: float = 600.0
    poll_interval: float = 0.5  # the first pause between polls; it grows to max_poll_interval
    max_poll_interval: float = 5.0
    live: bool = True  # follow the WebSocket when websockets is installed (the driver says)
    live_quiet: float = 2.0  # with no live message for this long, ask for the status once


def _progress_of(job: JobStatus) -> Progress:
    return Progress(batch_id=job.batch_id, state=job.state, counts=job.counts, percent=job.percent)


class _Reporter:
    """Reports each change of state or counts once, whichever way it was learnt."""

    def __init__(self, callback: Callable[[Progress], Any] | None) -> None:
        self.callback = callback
        self.last: tuple[str, tuple[int, ...]] | None = None

    def report(self, progress: Progress) -> Plan[None]:
        seen = (progress.state, tuple(progress.counts.model_dump().values()))
        if self.callback is not None and seen != self.last:
            self.last = seen
            yield Report(self.callback, progress)


def wait(
    job_id: str,
    options: WaitOptions,
    on_progress: Callable[[Progress], Any] | None,
    retry: RetryPolicy,
) -> Plan[JobStatus]:
    """Until the job ends: live over the WebSocket if possible, else (or once it fails) by polling."""
    deadline = time.monotonic() + options.timeout
    reporter = _Reporter(on_progress)
    if options.live:
        ended = yield from _follow_live(job_id, deadline, options, reporter, retry)
        if ended is not None:
            return ended
    return (yield from _poll(job_id, deadline, options, reporter, retry))


def _poll(
    job_id: str, deadline: float, options: WaitOptions, reporter: _Reporter, retry: RetryPolicy
) -> Plan[JobStatus]:
    interval = options.poll_interval
    while True:
        response = yield from send(Call("GET", f"/api/jobs/{job_id}"), retry)
        job = JobStatus.model_validate_json(response.content)
        yield from reporter.report(_progress_of(job))
        if job.done:
            return job
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"job {job_id} is still {job.state} after {options.timeout:g} s")
        # The service's own hint wins over the client's schedule.
        hinted = retry_after_of(response)
        yield Sleep(min(remaining, hinted if hinted is not None else interval))
        interval = min(options.max_poll_interval, interval * 1.5)


def _follow_live(
    job_id: str, deadline: float, options: WaitOptions, reporter: _Reporter, retry: RetryPolicy
) -> Plan[JobStatus | None]:
    """Follow the job's progress messages; None when the WebSocket is not to be had (poll instead)."""
    try:
        ticket = yield from fetch(Call("POST", "/api/ws/ticket"), Ticket, NO_RETRY)
        socket = yield Connect(ticket.url)
    except (ImagegenError, LiveFailed):
        return None
    try:
        yield SendText(socket, json.dumps({"action": "subscribe", "batch_id": job_id}))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(f"job {job_id} did not end within {options.timeout:g} s")
            text = yield Receive(socket, min(remaining, options.live_quiet))
            if text is None:  # quiet: a message may have been lost, so ask once
                job = yield from status(job_id, retry)
                yield from reporter.report(_progress_of(job))
                if job.done:
                    return job
                continue
            message = json.loads(text)
            if message.get("type") == "error":  # e.g. not this caller's job: polling says it properly
                return None
            progress = Progress.model_validate({**message, "event": message.get("type", "status")})
            yield from reporter.report(progress)
            if progress.done:
                return (yield from status(job_id, retry))
    except LiveFailed:
        return None
    finally:
        yield Disconnect(socket)


# --- downloads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedImage:
    """One image written under the output folder, with its metadata beside it."""

    key: str
    image_path: Path
    metadata_path: Path | None
    skipped: bool = False  # already on disk, not overwritten


def local_path(out_dir: Path, key: str) -> Path:
    """Where a stored key goes under `out_dir`: the same relative path, never outside it."""
    parts = PurePosixPath(key).parts
    if not parts or PurePosixPath(key).is_absolute() or any(part in ("", ".", "..") for part in parts):
        raise ImagegenError(f"refusing to write the stored key {key!r} outside the output folder")
    return out_dir.joinpath(*parts)


def metadata_key(key: str) -> str:
    return key.rsplit(".", 1)[0] + METADATA_SUFFIX


def _write(path: Path, content: bytes) -> None:
    """Write whole or not at all: a crash never leaves half an image under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    partial.write_bytes(content)
    partial.replace(path)


def _link_call(image_url: str | None, download_url: str | None) -> Plan[Call]:
    """The presigned URL to fetch (no token): the result's own, else asked for on the image's API path."""
    if download_url:
        return Call("GET", download_url, authenticated=False)
    if image_url is None:
        raise ImagegenError("the item has no image URL")
    link = yield from fetch(
        Call("GET", image_url, headers={"Accept": "application/json"}), ImageLink, NO_RETRY
    )
    return Call("GET", link.download_url, authenticated=False)


def _save(key: str, url: str | None, download_url: str | None, path: Path, retry: RetryPolicy) -> Plan[None]:
    call = yield from _link_call(url, download_url)
    response = yield from send(call, retry)
    _write(path, response.content)


def _download_item(item: Item, out_dir: Path, overwrite: bool, retry: RetryPolicy) -> Plan[list[SavedImage]]:
    image_path = local_path(out_dir, item.key)
    meta_key = metadata_key(item.key)
    metadata_path = local_path(out_dir, meta_key)
    if image_path.exists() and not overwrite:
        return [SavedImage(item.key, image_path, metadata_path if metadata_path.exists() else None, True)]
    yield from _save(item.key, item.image_url, item.download_url, image_path, retry)
    yield from _save(meta_key, item.metadata_url, item.metadata_download_url, metadata_path, retry)
    saved = [SavedImage(item.key, image_path, metadata_path)]
    for derivative in item.derivatives:
        path = local_path(out_dir, derivative.key)
        yield from _save(derivative.key, derivative.image_url, derivative.download_url, path, retry)
        saved.append(SavedImage(derivative.key, path, None))
    return saved


def download(job_id: str, out_dir: Path, overwrite: bool, retry: RetryPolicy) -> Plan[list[SavedImage]]:
    """Every completed image of the job, with its metadata, under `out_dir` as the service stores it:
    posts/{post_id}/sections/{section_id}/raw/{filename}.png (the blog CLI's layout), icons under their key.
    An image already on disk is kept unless `overwrite`."""
    job = yield from result(job_id, retry)
    saved: list[SavedImage] = []
    for item in job.items:
        if item.state == "completed":
            saved.extend((yield from _download_item(item, out_dir, overwrite, retry)))
    return saved
