"""In-memory stand-ins for the dal ports, with the same conditional semantics as DynamoDB and S3."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from imagegen.config import Settings
from imagegen.local.lambdas import LocalContext
from imagegen.logic.services import Services
from imagegen.models.domain import (
    CacheEntry,
    ImageSpec,
    Item,
    ItemMessage,
    ItemState,
    Job,
    JobState,
    LimiterState,
    Reservation,
    UsageChange,
)
from imagegen.models.economy import ProviderBatch
from imagegen.models.hooks import HookTenant
from imagegen.models.manifests import UploadedObject
from imagegen.providers.base import GeneratedImage
from imagegen.providers.offline import OfflineProvider


class FakeJobs:
    def __init__(self, stats: FakeLimits | None = None) -> None:
        self.jobs: dict[str, Job] = {}
        self.items: dict[tuple[str, int], Item] = {}
        self.lock = threading.Lock()
        self.stats = stats  # where an item's end counts its usage, in the same step (a transaction)
        self.provider_batches: dict[str, ProviderBatch] = {}

    def create(self, job: Job, items: list[Item], expires_at: int) -> None:
        self.jobs[job.job_id] = job.model_copy(deep=True)
        for item in items:
            self.items[(item.job_id, item.index)] = item.model_copy(deep=True)

    def get_job(self, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        return job.model_copy(deep=True) if job else None

    def get_item(self, job_id: str, index: int) -> Item | None:
        item = self.items.get((job_id, index))
        return item.model_copy(deep=True) if item else None

    def iter_items(self, job_id: str) -> list[Item]:
        return [item.model_copy(deep=True) for (jid, _), item in sorted(self.items.items()) if jid == job_id]

    def list_jobs(self, owner: str, limit: int, start_key: dict[str, Any] | None) -> tuple[list[Job], Any]:
        mine = sorted(
            (j for j in self.jobs.values() if j.owner == owner), key=lambda j: j.created_at, reverse=True
        )
        if start_key:
            mine = [j for j in mine if j.created_at.isoformat() < start_key["created_at"]]
        page = mine[:limit]
        more = len(mine) > limit
        last = page[-1] if more else None
        key = (
            {
                "pk": f"JOB#{last.job_id}",
                "sk": "META",
                "owner": owner,
                "created_at": last.created_at.isoformat(),
            }
            if last
            else None
        )
        return page, key

    def start_item(self, job_id: str, index: int, now: datetime, slot_at: float | None = None) -> bool:
        with self.lock:
            item = self.items[(job_id, index)]
            if item.state not in (ItemState.QUEUED, ItemState.RUNNING):
                return False
            item.state, item.attempts, item.used_slot_at = ItemState.RUNNING, item.attempts + 1, slot_at
            job = self.jobs[job_id]
            if job.state == JobState.QUEUED:
                job.state, job.started_at = JobState.RUNNING, now
            return True

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
    ) -> bool:
        with self.lock:
            item = self.items[(job_id, index)]
            allowed = (
                {ItemState.QUEUED}
                if only_if_queued
                else {ItemState.QUEUED, ItemState.RUNNING, ItemState.SUBMITTED}
            )
            if item.state not in allowed:
                return False
            item.state, item.error, item.model, item.finished_at = state, error, model, now
            counts = self.jobs[job_id].counts
            setattr(counts, state.value, getattr(counts, state.value) + 1)
            if usage is not None:
                assert self.stats is not None, "FakeJobs(stats=...) to count usage"
                self.stats.count(usage)
            return True

    def hold_slot(self, job_id: str, index: int, reservation: Reservation) -> None:
        with self.lock:
            item = self.items[(job_id, index)]
            if item.state == ItemState.QUEUED:
                item.reservation = reservation

    def count_billed_call(
        self, job_id: str, index: int, *, lost: bool, usage: UsageChange | None = None
    ) -> tuple[int, int]:
        with self.lock:
            item = self.items[(job_id, index)]
            item.billed_calls += 1
            item.lost_calls += int(lost)
            self.jobs[job_id].billed_calls += 1
            if usage is not None:
                assert self.stats is not None, "FakeJobs(stats=...) to count usage"
                self.stats.count(usage)
            return item.billed_calls, item.lost_calls

    def release_item(self, job_id: str, index: int) -> bool:
        with self.lock:
            item = self.items[(job_id, index)]
            if item.state != ItemState.RUNNING:
                return False
            item.state = ItemState.QUEUED
            return True

    def request_cancel(self, job_id: str, now: datetime) -> None:
        self.jobs[job_id].cancel_requested = True

    def close_job(self, job_id: str, state: JobState, now: datetime) -> bool:
        with self.lock:
            job = self.jobs[job_id]
            if job.state not in (JobState.QUEUED, JobState.RUNNING, JobState.SUBMITTED):
                return False
            job.state, job.finished_at = state, now
            return True

    # -- economy: as dal.jobs_table's conditional writes --------------------------------------------

    def submit_item(self, job_id: str, index: int, now: datetime) -> bool:
        with self.lock:
            item = self.items[(job_id, index)]
            if item.state not in (ItemState.QUEUED, ItemState.SUBMITTED):
                return False
            item.state, item.started_at = ItemState.SUBMITTED, now
            return True

    def requeue_item(self, job_id: str, index: int, spec: ImageSpec) -> bool:
        with self.lock:
            item = self.items[(job_id, index)]
            if item.state != ItemState.SUBMITTED:
                return False
            item.state, item.spec = ItemState.QUEUED, spec
            return True

    def add_provider_batch(self, batch: ProviderBatch, expires_at: int) -> None:
        with self.lock:
            self.provider_batches.setdefault(batch.batch_id, batch.model_copy(deep=True))
            job = self.jobs[batch.job_id]
            job.provider_batches = tuple(sorted({*job.provider_batches, batch.batch_id}))
            if job.state in (JobState.QUEUED, JobState.RUNNING):
                job.state = JobState.SUBMITTED

    def get_provider_batch(self, batch_id: str) -> ProviderBatch | None:
        batch = self.provider_batches.get(batch_id)
        return batch.model_copy(deep=True) if batch else None

    def open_provider_batches(self) -> list[ProviderBatch]:
        return [
            batch.model_copy(deep=True) for batch in self.provider_batches.values() if not batch.collected
        ]

    def update_provider_batch(self, batch: ProviderBatch) -> None:
        with self.lock:
            self.provider_batches[batch.batch_id] = batch.model_copy(deep=True)


class FakeImages:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.puts = 0
        self.fail_puts = 0  # raise on the next N puts

    def put_new(self, key: str, body: bytes, content_type: str, metadata: dict[str, str]) -> bool:
        if self.fail_puts:
            self.fail_puts -= 1
            raise ConnectionError("simulated S3 outage")
        self.puts += 1
        if key in self.objects:
            return False
        self.objects[key] = (body, dict(metadata))
        return True

    def metadata_of(self, key: str) -> dict[str, str] | None:
        return dict(self.objects[key][1]) if key in self.objects else None

    def presigned_get(self, key: str, expires_in: int) -> str:
        return f"https://bucket.example/{key}?expires={expires_in}"

    def read(self, key: str) -> bytes | None:
        return self.objects[key][0] if key in self.objects else None


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[ItemMessage] = []
        self.sent_delays: list[int] = []
        self.delays: list[tuple[str, int]] = []
        self.requeued: list[tuple[ItemMessage, int]] = []

    def send_items(self, messages: list[ItemMessage], delays: list[int] | None = None) -> None:
        self.sent.extend(messages)
        self.sent_delays.extend(delays or [0] * len(messages))

    def delay(self, receipt_handle: str, seconds: int) -> None:
        self.delays.append((receipt_handle, seconds))

    def requeue(self, message: ItemMessage, delay_seconds: int) -> None:
        self.requeued.append((message, delay_seconds))


class FakeLimits:
    """The limits table's rows in memory, with its versioned and conditional writes."""

    def __init__(self) -> None:
        self.limiters: dict[str, LimiterState] = {}
        self.daily: dict[tuple[str, str], int] = {}
        self.stats: dict[str, dict[str, float]] = {}
        self.days: dict[tuple[str, str], dict[str, float]] = {}  # (day, owner) -> daily counters
        self.lock = threading.Lock()

    def read_limiter(self, name: str) -> LimiterState | None:
        return self.limiters.get(name)

    def write_limiter(self, name: str, state: LimiterState, expected_version: int) -> bool:
        with self.lock:
            current = self.limiters.get(name)
            if current is not None and current.version != expected_version:
                return False
            self.limiters[name] = state
            return True

    def reserve_daily(self, owner: str, day: str, count: int, limit: int, expires_at: int) -> bool:
        with self.lock:
            used = self.daily.get((owner, day), 0)
            if used + count > limit:
                return False
            self.daily[(owner, day)] = used + count
            return True

    def release_daily(self, owner: str, day: str, count: int) -> None:
        with self.lock:
            if (owner, day) in self.daily:
                self.daily[(owner, day)] -= count

    def used_daily(self, owner: str, day: str) -> int:
        return self.daily.get((owner, day), 0)

    def add_usage(self, owner: str, counters: dict[str, float]) -> None:
        with self.lock:
            for who in {owner, "*"}:
                row = self.stats.setdefault(who, {})
                for name, value in counters.items():
                    row[name] = row.get(name, 0) + value

    def usage(self, owner: str) -> dict[str, float]:
        return dict(self.stats.get(owner, {}))

    def count(self, change: UsageChange) -> None:
        """What the jobs table's transactions add: the change's counters and its day's."""
        self.add_usage(change.owner, change.counters)
        if change.daily is not None:
            with self.lock:
                for who in {change.owner, "*"}:
                    row = self.days.setdefault((change.daily.day, who), {})
                    for name, value in change.daily.counters.items():
                        row[name] = row.get(name, 0) + value

    def usage_days(self, owner: str, days: list[str]) -> dict[str, dict[str, float]]:
        return {day: dict(self.days[(day, owner)]) for day in days if (day, owner) in self.days}


class FakeCache:
    def __init__(self) -> None:
        self.entries: dict[str, CacheEntry] = {}

    def get(self, request_hash: str, now: datetime) -> CacheEntry | None:
        entry = self.entries.get(request_hash)
        return entry if entry and entry.expires_at > now.timestamp() else None

    def put(self, entry: CacheEntry) -> None:
        self.entries[entry.request_hash] = entry

    def list_for(
        self, owner: str, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[CacheEntry], Any]:
        mine = sorted((e for e in self.entries.values() if e.owner == owner), key=lambda e: e.created_at)
        return mine[::-1][:limit], None

    def clear(self, owner: str | None) -> int:
        gone = [h for h, e in self.entries.items() if owner is None or e.owner == owner]
        for request_hash in gone:
            del self.entries[request_hash]
        return len(gone)


class MemoryIdempotency(BasePersistenceLayer):
    """Powertools idempotency records in memory, with the DynamoDB layer's conditional put."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools leaves this __init__ unannotated
        self.records: dict[str, DataRecord] = {}
        self.lock = threading.Lock()

    def _get_record(self, idempotency_key: str) -> DataRecord:
        record = self.records.get(idempotency_key)
        if record is None:
            raise IdempotencyItemNotFoundError
        return record

    def _put_record(self, data_record: DataRecord) -> None:
        with self.lock:
            old = self.records.get(data_record.idempotency_key)
            now = datetime.now().timestamp()
            if old is not None and (old.expiry_timestamp or 0) >= now:
                in_progress_expired = (
                    old.status == "INPROGRESS"
                    and old.in_progress_expiry_timestamp is not None
                    and old.in_progress_expiry_timestamp < now * 1000
                )
                if not in_progress_expired:
                    raise IdempotencyItemAlreadyExistsError(old_data_record=old)
            self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


class ScriptedProvider:
    """Draws with the real offline renderer, or raises what the script says for the next calls."""

    name = "scripted"
    rate_limited = False
    parallel_calls = 1

    def __init__(self, *script: Exception | None) -> None:
        self.script = list(script)
        self.calls = 0
        self.real = OfflineProvider()

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        self.calls += 1
        step = self.script.pop(0) if self.script else None
        if step is not None:
            raise step
        return self.real.generate(spec)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@dataclass
class FakeServices(Services):
    """Services on the in-memory fakes, typed as the fakes so tests can read what they hold."""

    jobs: FakeJobs
    images: FakeImages
    queue: FakeQueue
    limits: FakeLimits
    cache: FakeCache


def make_services(provider: Any = None, **settings: Any) -> FakeServices:
    limits = FakeLimits()
    services = FakeServices(
        settings=Settings(retry_base_delay_seconds=2, **settings),
        jobs=FakeJobs(stats=limits),
        images=FakeImages(),
        queue=FakeQueue(),
        limits=limits,
        cache=FakeCache(),
        idempotency=MemoryIdempotency(),
        provider_factory=lambda: provider or ScriptedProvider(),
        clock=Clock(),
        sleep=lambda _: None,
    )
    services.idempotency_config.register_lambda_context(LocalContext("worker", 300))  # type: ignore[arg-type]
    return services


BUCKET = "imagegen-images"  # Settings' default images_bucket


class FakeIncoming:
    """The bucket's incoming/ side: objects with their ETags, receipts as written."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.receipts: dict[str, dict[str, Any]] = {}
        self.receipt_writes = 0

    def upload(self, key: str, body: bytes) -> UploadedObject:
        etag = hashlib.md5(body).hexdigest()  # noqa: S324 - S3's ETag of a single-part upload
        self.objects[key] = (body, etag)
        return UploadedObject(bucket=BUCKET, key=key, etag=etag)

    def read_upload(self, key: str, etag: str, limit: int) -> bytes | None:
        body, current = self.objects.get(key, (b"", ""))
        return body[: limit + 1] if current == etag.strip('"') else None

    def put_receipt(self, key: str, body: bytes) -> None:
        self.receipt_writes += 1
        self.receipts[key] = json.loads(body)


class FakeHooks:
    """The events table's hook rows (dal/events_table.HooksTable) in memory, same conditions."""

    def __init__(self) -> None:
        self.tenants: dict[str, HookTenant] = {}
        self.owners: dict[tuple[str, str], str] = {}
        self.replays: dict[tuple[str, str], datetime] = {}
        self.sections: dict[tuple[str, str, str], str] = {}

    def tenant(self, hook_id: str) -> HookTenant | None:
        return self.tenants.get(hook_id)

    def hook_of(self, owner: str, source: str) -> str | None:
        return self.owners.get((owner, source))

    def save(self, tenant: HookTenant) -> None:
        self.tenants[tenant.hook_id] = tenant
        self.owners[(tenant.owner, tenant.source)] = tenant.hook_id

    def seen(self, hook_id: str, replay_key: str, expires_at: datetime) -> bool:
        if (hook_id, replay_key) in self.replays:
            return True
        self.replays[(hook_id, replay_key)] = expires_at
        return False

    def forget(self, hook_id: str, replay_key: str) -> None:
        self.replays.pop((hook_id, replay_key), None)

    def claim_section(self, owner: str, post_id: str, section_id: str, content_hash: str) -> str | None:
        key = (owner, post_id, section_id)
        previous = self.sections.get(key)
        if previous == content_hash:
            return None
        self.sections[key] = content_hash
        return previous or ""

    def restore_section(self, owner: str, post_id: str, section_id: str, previous_hash: str) -> None:
        if previous_hash:
            self.sections[(owner, post_id, section_id)] = previous_hash
        else:
            self.sections.pop((owner, post_id, section_id), None)
