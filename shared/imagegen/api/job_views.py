"""Response views: jobs as stored turned into what the API answers, with the API's URLs.

Each public function is one use case as a route answers it: one logic call, then its view."""

from __future__ import annotations

from datetime import datetime

from imagegen.config import Settings
from imagegen.logic import job_commands, job_reads
from imagegen.logic.job_reads import JobItems, JobPage
from imagegen.logic.services import Services
from imagegen.models.domain import Caller, Item, ItemState, Job
from imagegen.models.requests import BatchRequest, BlogImageRequest, IconRequest
from imagegen.models.responses import (
    DerivativeOut,
    ItemOut,
    JobAcceptedOut,
    JobListOut,
    JobResultOut,
    JobStatusOut,
    WebhookOut,
    counts_out,
)
from imagegen.paths import result_url, status_url


def accepted_out(job: Job) -> JobAcceptedOut:
    return JobAcceptedOut(
        batch_id=job.job_id,
        state=job.state.value,
        total=job.counts.total,
        status_url=status_url(job.job_id, job.kind),
        result_url=result_url(job.job_id, job.kind),
        priority=job.priority,
    )


def status_out(job: Job) -> JobStatusOut:
    return JobStatusOut(
        batch_id=job.job_id,
        kind=job.kind,
        state=job.state.value,
        counts=counts_out(job.counts),
        percent=job.counts.percent,
        created_at=job.created_at,
        updated_at=job.updated_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        billed_calls=job.billed_calls,
        status_url=status_url(job.job_id, job.kind),
        result_url=result_url(job.job_id, job.kind),
        webhook=WebhookOut(url=job.webhook_url, events=list(job.webhook_events)) if job.webhook_url else None,
        priority=job.priority,
        provider_batches=list(job.provider_batches),
        cancel_requested=job.cancel_requested,
    )


def _derivatives_out(item: Item, urls: dict[str, str], settings: Settings) -> list[DerivativeOut]:
    spec = item.spec
    return [
        DerivativeOut(
            size=f"{px}x{px}",
            key=spec.derivative_key(px),
            image_url=settings.image_url(spec.derivative_key(px)),
            download_url=urls[spec.derivative_key(px)],
        )
        for px in spec.derivatives
    ]


def item_out(item: Item, urls: dict[str, str], expires_at: datetime, settings: Settings) -> ItemOut:
    spec = item.spec
    done = item.state == ItemState.COMPLETED
    return ItemOut(
        index=item.index,
        state=item.state.value,
        category=spec.category,
        variation=spec.variation,
        post_id=spec.post_id,
        section_id=spec.section_id,
        size=spec.size,
        key=spec.key,
        image_url=settings.image_url(spec.key) if done else None,
        metadata_url=settings.image_url(spec.metadata_key) if done else None,
        error=item.error,
        cache_hit=item.cache_hit,
        billed_calls=item.billed_calls,
        download_url=urls.get(spec.key),
        metadata_download_url=urls.get(spec.metadata_key),
        download_url_expires_at=expires_at if done else None,
        derivatives=_derivatives_out(item, urls, settings) if done else [],
    )


def result_out(read: JobItems, settings: Settings) -> JobResultOut:
    job, urls, expires_at = read.job, read.download_urls, read.download_urls_expire_at
    return JobResultOut(
        batch_id=job.job_id,
        state=job.state.value,
        counts=counts_out(job.counts),
        billed_calls=job.billed_calls,
        items=[item_out(item, urls, expires_at, settings) for item in read.items],
    )


def list_out(page: JobPage) -> JobListOut:
    return JobListOut(batches=[status_out(job) for job in page.jobs], next_cursor=page.next_cursor)


def create_job(
    request: IconRequest | BlogImageRequest | BatchRequest, caller: Caller, services: Services
) -> JobAcceptedOut:
    return accepted_out(job_commands.create_job(request, caller, services))


def submit(
    request: IconRequest | BlogImageRequest | BatchRequest,
    caller: Caller,
    wait_seconds: int,
    services: Services,
) -> JobAcceptedOut | JobResultOut:
    """Create a job; with wait_seconds, answer with its result if it ends in time."""
    job = job_commands.create_job(request, caller, services)
    if wait_seconds > 0:
        ended = job_reads.wait_for_job(job.job_id, caller, wait_seconds, services)
        if ended is not None:
            return result_out(ended, services.settings)
    return accepted_out(job)


def job_status(job_id: str, caller: Caller, services: Services) -> JobStatusOut:
    return status_out(job_reads.owned_job(job_id, caller, services))


def job_result(job_id: str, caller: Caller, services: Services) -> JobResultOut:
    return result_out(job_reads.job_items(job_id, caller, services), services.settings)


def list_jobs(caller: Caller, limit: int, cursor: str | None, services: Services) -> JobListOut:
    return list_out(job_reads.list_jobs(caller, limit, cursor, services))


def cancel_job(job_id: str, caller: Caller, services: Services) -> JobStatusOut:
    return status_out(job_commands.cancel_job(job_id, caller, services))
