"""`AsyncClient`: the core's plans performed with await (httpx.AsyncClient, websockets.asyncio)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from imagegen_client import _core
from imagegen_client._core import Plan, RetryPolicy, SavedImage, WaitOptions
from imagegen_client._sync import DEFAULT_TIMEOUT
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


def _live_available() -> bool:
    try:
        import websockets.asyncio.client  # noqa: F401
    except ImportError:
        return False
    return True


class AsyncClient:
    """The imagegen API, async. URL and token from the arguments, else IMAGEGEN_URL / IMAGEGEN_TOKEN."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url, self._token = _core.resolve_config(url, token)
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- the plans' effects, performed ---

    async def _run(self, plan: Plan[T]) -> T:
        try:
            effect = next(plan)
            while True:
                try:
                    outcome = await self._perform(effect)
                except Exception as failure:  # the plan decides: retry, fall back, or raise
                    effect = plan.throw(failure)
                else:
                    effect = plan.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _perform(self, effect: _core.Effect) -> Any:
        if isinstance(effect, _core.Call):
            headers = _core.headers_for(effect, self._token)
            return await self._http.request(
                effect.method, effect.url, params=effect.params, json=effect.body, headers=headers
            )
        if isinstance(effect, _core.Sleep):
            await asyncio.sleep(effect.seconds)
            return None
        if isinstance(effect, _core.Report):
            reported = effect.callback(effect.progress)
            if inspect.isawaitable(reported):
                await reported
            return None
        return await self._perform_live(effect)

    async def _perform_live(self, effect: _core.Effect) -> Any:
        try:
            from websockets.asyncio.client import connect
        except ImportError as missing:
            raise _core.LiveFailed("websockets is not installed") from missing
        try:
            if isinstance(effect, _core.Connect):
                return await connect(effect.url, open_timeout=10)
            if isinstance(effect, _core.SendText):
                await effect.socket.send(effect.text)
                return None
            if isinstance(effect, _core.Receive):
                try:
                    return await asyncio.wait_for(effect.socket.recv(), effect.timeout)
                except TimeoutError:
                    return None
            if isinstance(effect, _core.Disconnect):
                await effect.socket.close()
                return None
        except Exception as failure:
            raise _core.LiveFailed(repr(failure)) from failure
        raise TypeError(f"unknown effect {effect!r}")

    # --- the API (as Client's, awaited) ---

    async def create_icon(
        self, request: IconRequest, *, wait: int = 0, idempotency_key: str | None = None
    ) -> JobAccepted | JobResult:
        """POST /api/icons/generate; with `wait` (≤ 25 s) the ended job's result if it ends by then."""
        return await self._run(_core.create(request, wait, idempotency_key, self.retry))

    async def create_blog_image(
        self, request: BlogImageRequest, *, wait: int = 0, idempotency_key: str | None = None
    ) -> JobAccepted | JobResult:
        """POST /api/images/generate: stored as posts/{post_id}/sections/{section_id}/raw/{filename}.png."""
        return await self._run(_core.create(request, wait, idempotency_key, self.retry))

    async def create_batch(
        self, request: BatchGenerationRequest, *, wait: int = 0, idempotency_key: str | None = None
    ) -> JobAccepted | JobResult:
        """POST /api/icons/generate/batch: categories x variations icons."""
        return await self._run(_core.create(request, wait, idempotency_key, self.retry))

    async def get(self, job_id: str) -> JobStatus:
        return await self._run(_core.status(job_id, self.retry))

    async def result(self, job_id: str) -> JobResult:
        return await self._run(_core.result(job_id, self.retry))

    async def cancel(self, job_id: str, *, idempotency_key: str | None = None) -> JobStatus:
        return await self._run(_core.cancel(job_id, idempotency_key, self.retry))

    async def list_jobs(self, *, page_size: int = 20) -> AsyncIterator[JobStatus]:
        """The caller's jobs, newest first, page after page."""
        cursor: str | None = None
        while True:
            page = await self._run(_core.jobs_page(page_size, cursor, self.retry))
            for job in page.batches:
                yield job
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def wait(
        self,
        job_id: str,
        *,
        timeout: float = 600.0,
        on_progress: Callable[[Progress], Any] | None = None,
        live: bool = True,
    ) -> JobStatus:
        """Until the job ends (WaitTimeout past `timeout`); `on_progress` may be a coroutine function."""
        options = WaitOptions(timeout=timeout, live=live and _live_available())
        return await self._run(_core.wait(job_id, options, on_progress, self.retry))

    async def download(
        self, job_id: str, out_dir: str | Path, *, overwrite: bool = False
    ) -> list[SavedImage]:
        """The job's completed images and their metadata, in the blog layout under `out_dir`."""
        return await self._run(_core.download(job_id, Path(out_dir), overwrite, self.retry))

    async def cached(self, *, page_size: int = 20) -> AsyncIterator[CachedEntry]:
        cursor: str | None = None
        while True:
            page = await self._run(_core.cached_page(page_size, cursor, self.retry))
            for entry in page.entries:
                yield entry
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def clear_cache(self, *, idempotency_key: str | None = None) -> CacheCleared:
        return await self._run(_core.clear_cache(idempotency_key, self.retry))

    async def stats(self) -> Stats:
        return await self._run(_core.stats(self.retry))

    async def suggestions(self, query: str, *, limit: int = 8) -> Suggestions:
        return await self._run(_core.suggestions(query, limit, self.retry))

    async def openapi(self) -> dict[str, Any]:
        return await self._run(_core.openapi(self.retry))
