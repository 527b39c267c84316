"""The dependencies every use case takes: real ones by default, fakes in unit tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from imagegen.config import Settings, get_settings
from imagegen.logic.rate_limits import LimiterStore, SharedLimiter
from imagegen.logic.webhook_urls import Resolver, resolve_with_dns
from imagegen.models.domain import (
    CacheEntry,
    ImageSpec,
    Item,
    ItemMessage,
    ItemState,
    Job,
    JobState,
    Reservation,
    UsageChange,
)
from imagegen.models.economy import CancelMessage, CollectMessage, ProviderBatch, SubmitMessage

if TYPE_CHECKING:
    from imagegen.providers.base import Provider
    from imagegen.providers.openai_batches import OpenAIBatches

IDEMPOTENCY_SECONDS = 24 * 3600  # how long an Idempotency-Key (or a stored item's record) is remembered


class JobsStore(Protocol):
    def create(self, job: Job, items: list[Item], expires_at: int) -> None: ...
    def get_job(self, job_id: str) -> Job | None: ...
    def get_item(self, job_id: str, index: int) -> Item | None: ...
    def iter_items(self, job_id: str) -> Any: ...
    def list_jobs(
        self, owner: str, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Job], dict[str, Any] | None]: ...
    def start_item(self, job_id: str, index: int, now: datetime, slot_at: float | None = None) -> bool: ...
    def finish_item(
        self,
        job_id: str,
        index: int,
        state: ItemState,
        now: datetime,
        *,
        error: str | None = None,
        model: str | None = None,
        only_if_queued: bool = False,
        usage: UsageChange | None = None,
    ) -> bool: ...
    def release_item(self, job_id: str, index: int) -> bool: ...
    def hold_slot(self, job_id: str, index: int, reservation: Reservation) -> None: ...
    def count_billed_call(
        self, job_id: str, index: int, *, lost: bool, usage: UsageChange | None = None
    ) -> tuple[int, int]: ...
    def request_cancel(self, job_id: str, now: datetime) -> None: ...
    def close_job(self, job_id: str, state: JobState, now: datetime) -> bool: ...
    def submit_item(self, job_id: str, index: int, now: datetime) -> bool: ...
    def requeue_item(self, job_id: str, index: int, spec: ImageSpec) -> bool: ...
    def add_provider_batch(self, batch: ProviderBatch, expires_at: int) -> None: ...
    def get_provider_batch(self, batch_id: str) -> ProviderBatch | None: ...
    def open_provider_batches(self) -> list[ProviderBatch]: ...
    def update_provider_batch(self, batch: ProviderBatch) -> None: ...


class ImageStore(Protocol):
    def put_new(self, key: str, body: bytes, content_type: str, metadata: dict[str, str]) -> bool: ...
    def metadata_of(self, key: str) -> dict[str, str] | None: ...
    def presigned_get(self, key: str, expires_in: int) -> str: ...
    def read(self, key: str) -> bytes | None: ...


class Queue(Protocol):
    def send_items(self, messages: list[ItemMessage], delays: list[int] | None = None) -> None: ...
    def delay(self, receipt_handle: str, seconds: int) -> None: ...
    def requeue(self, message: ItemMessage, delay_seconds: int) -> None: ...


class EconomyQueue(Protocol):
    def send(
        self, message: SubmitMessage | CollectMessage | CancelMessage, delay_seconds: int = 0
    ) -> None: ...


class LimitsStore(LimiterStore, Protocol):
    def reserve_daily(self, owner: str, day: str, count: int, limit: int, expires_at: int) -> bool: ...
    def release_daily(self, owner: str, day: str, count: int) -> None: ...
    def used_daily(self, owner: str, day: str) -> int: ...
    def add_usage(self, owner: str, counters: dict[str, float]) -> None: ...
    def usage(self, owner: str) -> dict[str, float]: ...
    def usage_days(self, owner: str, days: list[str]) -> dict[str, dict[str, float]]: ...


class CacheStore(Protocol):
    def get(self, request_hash: str, now: datetime) -> CacheEntry | None: ...
    def put(self, entry: CacheEntry) -> None: ...
    def list_for(
        self, owner: str, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[CacheEntry], dict[str, Any] | None]: ...
    def clear(self, owner: str | None) -> int: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    jobs: JobsStore
    images: ImageStore
    queue: Queue
    limits: LimitsStore
    cache: CacheStore
    idempotency: BasePersistenceLayer
    provider_factory: Callable[[], Provider]
    economy_queue: EconomyQueue | None = (
        None  # None: no economy function (priority economy is served as standard)
    )
    batches_factory: Callable[[], OpenAIBatches] | None = None  # the Batch API (the economy function's)
    clock: Callable[[], datetime] = _utc_now
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic  # for deadlines: what `sleep` lets pass
    resolve_host: Resolver = resolve_with_dns  # a webhook_url's addresses (DNS; tests inject names)
    idempotency_config: IdempotencyConfig = field(
        default_factory=lambda: IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_SECONDS)
    )
    _provider: Provider | None = field(default=None, init=False)
    _provider_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _batches: OpenAIBatches | None = field(default=None, init=False)

    @property
    def limiter(self) -> SharedLimiter:
        return SharedLimiter(self.limits, self.settings, self.sleep)

    @property
    def batches(self) -> OpenAIBatches:
        """OpenAI's Batch API, built on first use (it needs the key)."""
        if self._batches is None:
            if self.batches_factory is None:
                raise RuntimeError("no Batch API: economy work needs the OpenAI provider")
            self._batches = self.batches_factory()
        return self._batches

    @property
    def provider(self) -> Provider:
        """The provider, built once on first use; the worker's record threads share it."""
        if self._provider is None:
            with self._provider_lock:
                if self._provider is None:
                    self._provider = self.provider_factory()
        return self._provider


@cache
def default_services() -> Services:
    """The real dependencies, built once per process from the settings."""
    from imagegen.dal.cache_table import CacheTable
    from imagegen.dal.idempotency import persistence_layer
    from imagegen.dal.images_bucket import ImagesBucket
    from imagegen.dal.jobs_table import JobsTable
    from imagegen.dal.limits_table import LimitsTable
    from imagegen.dal.work_queue import EconomyQueue, WorkQueue

    settings = get_settings()

    def provider_factory() -> Provider:
        from imagegen.providers.factory import get_provider

        return get_provider(settings, max_retries=0)  # retries go through the queue and the limiter

    def batches_factory() -> OpenAIBatches:
        from imagegen.providers.factory import get_batches

        return get_batches(settings)

    return Services(
        settings=settings,
        jobs=JobsTable(settings.jobs_table, settings.limits_table),
        images=ImagesBucket(settings.images_bucket),
        queue=WorkQueue(settings.queue_url),
        limits=LimitsTable(settings.limits_table),
        cache=CacheTable(settings.cache_table),
        idempotency=persistence_layer(settings.idempotency_table),
        provider_factory=provider_factory,
        economy_queue=EconomyQueue(settings.economy_queue_url) if settings.economy_queue_url else None,
        batches_factory=batches_factory,
    )
