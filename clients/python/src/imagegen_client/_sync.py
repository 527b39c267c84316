"""`Client`: the core's plans performed with blocking I/O (httpx.Client, websockets.sync)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from imagegen_client import _core
from imagegen_client._core import Plan, RetryPolicy, SavedImage, WaitOptions
from imagegen_client.models import (
    BatchGenerationRequest,
    BlogImageRequest,
    CacheCleared,
    CachedEntry,
    IconRequest,
    JobAccepted,
    JobResult,
    JobStatus,
    Progress,
    Stats,
    Suggestions,
)

T = TypeVar("T")
DEFAULT_TIMEOUT = 60.0  # above the 25 s a create may wait on the service


@dataclass(frozen=True)
class _Socket:
    """An open WebSocket, entered as a context manager (the one way every websockets release
    supports without a warning); closing the ExitStack leaves it."""

    connection: Any
    exits: ExitStack


def _live_available() -> bool:
    try:
        import websockets.sync.client  # noqa: F401
    except ImportError:
        return False
    return True


class Client:
    """The imagegen API, blocking. URL and token from the arguments, else IMAGEGEN_URL / IMAGEGEN_TOKEN."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url, self._token = _core.resolve_config(url, token)
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- the plans' effects, performed ---

    def _run(self, plan: Plan[T]) -> T:
        try:
            effect = next(plan)
            while True:
                try:
                    outcome = self._perform(effect)
                except Exception as failure:  # the plan decides: retry, fall back, or raise
                    effect = plan.throw(failure)
                else:
                    effect = plan.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _perform(self, effect: _core.Effect) -> Any:
        if isinstance(effect, _core.Call):
            headers = _core.headers_for(effect, self._token)
            return self._http.request(
                effect.method, effect.url, params=effect.params, json=effect.body, headers=headers
            )
        if isinstance(effect, _core.Sleep):
            time.sleep(effect.seconds)
            return None
        if isinstance(effect, _core.Report):
            effect.callback(effect.progress)
            return None
        return self._perform_live(effect)

    def _perform_live(self, effect: _core.Effect) -> Any:
        try:
            from websockets.sync.client import connect
        except ImportError as missing:
            raise _core.LiveFailed("websockets is not installed") from missing
        try:
            if isinstance(effect, _core.Connect):
                exits = ExitStack()
                return _Socket(exits.enter_context(connect(effect.url, open_timeout=10)), exits)
            if isinstance(effect, _core.SendText):
                effect.socket.connection.send(effect.text)
                return None
            if isinstance(effect, _core.Receive):
                try:
                    return effect.socket.connection.recv(timeout=effect.timeout)
                except TimeoutError:
                    return None
            if isinstance(effect, _core.Disconnect):
                effect.socket.exits.close()
                return None
        except Exception as failure:
            raise _core.LiveFailed(repr(failure)) from failure
        raise TypeError(f"unknown effect {effect!r}")

    # --- the API ---

    def create_icon(
        self, request: IconRequest, *, wait: int = 0, idempotency_key: str | None = None
    ) -> JobAccepted | JobResult:
        """POST /api/icons/generate; with `wait` (≤ 25 s) the ended job's result if it ends by then."""
        return self._run(_core.create(request, wait, idempotency_key, self.retry))

    def create_blog_image(
        self, request: BlogImageRequest, *, wait: int = 0, idempotency_key: str | None = None
    ) -> JobAccepted | JobResult:
        """POST /api/images/generate: stored as posts/{post_id}/sections/{section_id}/raw/{filename}.png."""
        return self._run(_core.create(request, wait, idempotency_key, self.retry))

    def create_batch(
        self, request: BatchGenerationRequest, *, wait: int = 0, idempotency_key: str | None = None
    ) -> JobAccepted | JobResult:
        """POST /api/icons/generate/batch: categories x variations icons."""
        return self._run(_core.create(request, wait, idempotency_key, self.retry))

    def get(self, job_id: str) -> JobStatus:
        """A job's state and counts."""
        return self._run(_core.status(job_id, self.retry))

    def result(self, job_id: str) -> JobResult:
        """Every item of a job, with its image URLs once completed."""
        return self._run(_core.result(job_id, self.retry))

    def cancel(self, job_id: str, *, idempotency_key: str | None = None) -> JobStatus:
        """Cancel what has not started; Conflict if the job already ended."""
        return self._run(_core.cancel(job_id, idempotency_key, self.retry))

    def list_jobs(self, *, page_size: int = 20) -> Iterator[JobStatus]:
        """The caller's jobs, newest first, page after page."""
        cursor: str | None = None
        while True:
            page = self._run(_core.jobs_page(page_size, cursor, self.retry))
            yield from page.batches
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def wait(
        self,
        job_id: str,
        *,
        timeout: float = 600.0,
        on_progress: Callable[[Progress], Any] | None = None,
        live: bool = True,
    ) -> JobStatus:
        """Until the job ends (WaitTimeout past `timeout`), reporting each change to `on_progress`."""
        options = WaitOptions(timeout=timeout, live=live and _live_available())
        return self._run(_core.wait(job_id, options, on_progress, self.retry))

    def download(self, job_id: str, out_dir: str | Path, *, overwrite: bool = False) -> list[SavedImage]:
        """The job's completed images and their metadata, in the blog layout under `out_dir`."""
        return self._run(_core.download(job_id, Path(out_dir), overwrite, self.retry))

    def cached(self, *, page_size: int = 20) -> Iterator[CachedEntry]:
        """The caller's cached requests, newest first."""
        cursor: str | None = None
        while True:
            page = self._run(_core.cached_page(page_size, cursor, self.retry))
            yield from page.entries
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def clear_cache(self, *, idempotency_key: str | None = None) -> CacheCleared:
        return self._run(_core.clear_cache(idempotency_key, self.retry))

    def stats(self) -> Stats:
        return self._run(_core.stats(self.retry))

    def suggestions(self, query: str, *, limit: int = 8) -> Suggestions:
        """Catalogue categories ranked for what was typed."""
        return self._run(_core.suggestions(query, limit, self.retry))

    def openapi(self) -> dict[str, Any]:
        return self._run(_core.openapi(self.retry))
