"""The original system's interface, on top of AsyncClient:

    async with IconGenerationService() as service:
        result = await service.generate_single_icon(category="office_supplies", style=IconStyle.MODERN,
            color_scheme=IconColor.BRAND_COLORS, custom_elements=["pen", "paper", "calculator"])
    batch_id = await service.generate_batch_icons(BatchGenerationRequest(categories=[...], ...))

Inside `async with` the calls share one connection pool; a call outside it (as the second line
above) opens and closes its own, so both spellings of the original examples work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from imagegen_client._async import AsyncClient
from imagegen_client._core import MAX_PREFER_WAIT, SavedImage, resolve_config
from imagegen_client.models import (
    BatchGenerationRequest,
    IconColor,
    IconRequest,
    IconStyle,
    JobResult,
    JobStatus,
    Progress,
)


class IconGenerationService:
    """Icons as the original service made them: one awaited, or a batch started and followed."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        wait_timeout: float = 600.0,
        **client_options: Any,
    ) -> None:
        self._settings: dict[str, Any] = {"url": url, "token": token, **client_options}
        resolve_config(url, token)  # fails here, not at the first call, when no URL is configured
        self.wait_timeout = wait_timeout
        self._open: AsyncClient | None = None

    async def __aenter__(self) -> IconGenerationService:
        self._open = AsyncClient(**self._settings)
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._open is not None:
            await self._open.aclose()
            self._open = None

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[AsyncClient]:
        if self._open is not None:
            yield self._open
            return
        async with AsyncClient(**self._settings) as client:
            yield client

    async def generate_single_icon(
        self,
        category: str,
        style: IconStyle | str = IconStyle.MODERN,
        color_scheme: IconColor | str = IconColor.COLORFUL,
        custom_elements: list[str] | None = None,
        **options: Any,
    ) -> JobResult:
        """One icon, drawn (or taken from the cache) and awaited: the job's result with its image URLs."""
        request = IconRequest(
            category=category,
            style=IconStyle(style),
            color_scheme=IconColor(color_scheme),
            custom_elements=custom_elements,
            **options,
        )
        async with self._client() as client:
            answer = await client.create_icon(request, wait=MAX_PREFER_WAIT)
            if isinstance(answer, JobResult) and answer.done:
                return answer
            await client.wait(answer.batch_id, timeout=self.wait_timeout)
            return await client.result(answer.batch_id)

    async def generate_batch_icons(self, request: BatchGenerationRequest) -> str:
        """Start a batch; its id, to follow with the methods below."""
        async with self._client() as client:
            return (await client.create_batch(request)).batch_id

    async def get_batch_status(self, batch_id: str) -> JobStatus:
        async with self._client() as client:
            return await client.get(batch_id)

    async def get_batch_result(self, batch_id: str) -> JobResult:
        async with self._client() as client:
            return await client.result(batch_id)

    async def cancel_batch(self, batch_id: str) -> JobStatus:
        async with self._client() as client:
            return await client.cancel(batch_id)

    async def wait_for_batch(
        self, batch_id: str, on_progress: Callable[[Progress], Any] | None = None
    ) -> JobStatus:
        async with self._client() as client:
            return await client.wait(batch_id, timeout=self.wait_timeout, on_progress=on_progress)

    async def download_batch(self, batch_id: str, out_dir: str | Path) -> list[SavedImage]:
        async with self._client() as client:
            return await client.download(batch_id, out_dir)
