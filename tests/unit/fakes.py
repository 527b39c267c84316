"""In-memory stand-ins for the dal ports, with the same conditional semantics as DynamoDB and S3."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from imagegen.config import Settings
from imagegen.logic.services import Services
from imagegen.models.domain import (
    ImageSpec,
    Item,
    ItemMessage,
    ItemState,
    Job,
    JobState,
)
from imagegen.providers.base import GeneratedImage
from imagegen.providers.offline import OfflineProvider


class FakeJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.items: dict[tuple[str, int], Item] = {}
        self.lock = threading.Lock()

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

    def start_item(self, job_id: str, index: int, now: datetime) -> bool:
        with self.lock:
            item = self.items[(job_id, index)]
            if item.state not in (ItemState.QUEUED, ItemState.RUNNING):
                return False
            item.state, item.attempts = ItemState.RUNNING, item.attempts + 1
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
    ) -> bool:
        with self.lock:
            item = self.items[(job_id, index)]
            allowed = {ItemState.QUEUED} if only_if_queued else {ItemState.QUEUED, ItemState.RUNNING}
            if item.state not in allowed:
                return False
            item.state, item.error, item.model, item.finished_at = state, error, model, now
            counts = self.jobs[job_id].counts
            setattr(counts, state.value, getattr(counts, state.value) + 1)
            return True

    def request_cancel(self, job_id: str, now: datetime) -> None:
        self.jobs[job_id].cancel_requested = True

    def close_job(self, job_id: str, state: JobState, now: datetime) -> bool:
        with self.lock:
            job = self.jobs[job_id]
            if job.state not in (JobState.QUEUED, JobState.RUNNING):
                return False
            job.state, job.finished_at = state, now
            return True


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


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[ItemMessage] = []
        self.delays: list[tuple[str, int]] = []

    def send_items(self, messages: list[ItemMessage]) -> None:
        self.sent.extend(messages)

    def delay(self, receipt_handle: str, seconds: int) -> None:
        self.delays.append((receipt_handle, seconds))


class ScriptedProvider:
    """Draws with the real offline renderer, or raises what the script says for the next calls."""

    name = "scripted"

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


def make_services(provider: Any = None, **settings: Any) -> Services:
    return Services(
        settings=Settings(retry_base_delay_seconds=2, **settings),
        jobs=FakeJobs(),
        images=FakeImages(),
        queue=FakeQueue(),
        provider_factory=lambda: provider or ScriptedProvider(),
        clock=Clock(),
        sleep=lambda _: None,
    )
