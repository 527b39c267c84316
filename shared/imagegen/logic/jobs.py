"""Create, follow, list and cancel jobs. A job belongs to the caller who made it."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from imagegen.errors import ImageExistsError, JobFinishedError, JobNotFoundError
from imagegen.logic import cache, usage
from imagegen.logic.cursors import decode_cursor, encode_cursor
from imagegen.logic.images import presign
from imagegen.logic.quotas import check_budget, release_images, reserve_images
from imagegen.logic.rate_limits import ScheduleBusy, limiter_name, queue_delay, slot_tokens
from imagegen.logic.services import Services
from imagegen.logic.specs import blog_spec, icon_specs
from imagegen.models.domain import (
    TERMINAL_JOB_STATES,
    CacheEntry,
    Caller,
    Counts,
    ImageSpec,
    Item,
    ItemMessage,
    ItemState,
    Job,
    JobKind,
    JobState,
    Reservation,
)
from imagegen.models.requests import BatchRequest, BlogImageRequest, IconRequest
from imagegen.models.responses import (
    CountsOut,
    DerivativeOut,
    ItemOut,
    JobAcceptedOut,
    JobListOut,
    JobResultOut,
    JobStatusOut,
)
from imagegen.providers.factory import provider_name

logger = Logger(child=True)
MAX_PAGE = 100


JOBS_PATH = "/api/jobs"


def status_url(job_id: str, kind: JobKind) -> str:
    """Where a job's status is read: blog jobs under the neutral /api/jobs, icon jobs where the
    original system's clients look for them."""
    return f"{JOBS_PATH}/{job_id}" if kind == "blog" else f"/api/icons/batch/{job_id}/status"


def result_url(job_id: str, kind: JobKind) -> str:
    return f"{JOBS_PATH}/{job_id}/result" if kind == "blog" else f"/api/icons/batch/{job_id}/result"


def create_job(
    request: IconRequest | BlogImageRequest | BatchRequest, caller: Caller, services: Services
) -> JobAcceptedOut:
    """Record a job and its items, then queue one message per item the cache cannot answer.

    Cache hits are copied at once and cost no quota. The new images are checked against the
    caller's daily quota and the request's cost ceiling first: a refused request leaves nothing."""
    now = services.clock()
    settings = services.settings
    job_id = uuid.uuid4().hex
    kind: JobKind
    if isinstance(request, BlogImageRequest):
        kind, specs = "blog", [blog_spec(request, job_id, now, settings)]
        if request.filename and services.images.metadata_of(specs[0].key) is not None:
            raise ImageExistsError(f"an image named '{request.filename}' already exists in this section")
    else:
        kind, specs = (
            ("icon" if isinstance(request, IconRequest) else "batch"),
            icon_specs(request, job_id, settings, now.date()),
        )
    provider = provider_name(settings)
    if settings.cache_enabled and request.use_cache:
        specs = [
            spec.model_copy(
                update={"request_hash": cache.request_hash(spec, caller.sub, provider, settings.cache_scope)}
            )
            for spec in specs
        ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        entries = list(pool.map(lambda spec: cache.find(spec, services), specs))
    misses = [spec for spec, entry in zip(specs, entries, strict=True) if entry is None]
    check_budget(misses, provider, request.max_cost_usd)
    reserve_images(caller.sub, len(misses), now, services)
    try:
        accepted = _record_job(job_id, kind, specs, entries, caller, now, services)
    except Exception:
        release_images(caller.sub, now, len(misses), services)
        raise
    hits = len(specs) - len(misses)
    if hits:
        usage.record_event(services, caller.sub, "cache_hits", hits)
    return accepted


def _record_job(
    job_id: str,
    kind: JobKind,
    specs: list[ImageSpec],
    entries: list[CacheEntry | None],
    caller: Caller,
    now: datetime,
    services: Services,
) -> JobAcceptedOut:
    hits = [n for n, entry in enumerate(entries) if entry is not None]
    with ThreadPoolExecutor(max_workers=8) as pool:  # list(): wait for every copy, and raise its errors
        list(pool.map(lambda n: cache.serve(specs[n], entries[n], job_id, n, caller.sub, services), hits))  # type: ignore[arg-type]
    all_hits = len(hits) == len(specs)
    job = Job(
        job_id=job_id,
        owner=caller.sub,
        kind=kind,
        state=JobState.COMPLETED if all_hits else JobState.QUEUED,
        counts=Counts(total=len(specs), completed=len(hits)),
        created_at=now,
        updated_at=now,
        finished_at=now if all_hits else None,
    )
    queued = [n for n, entry in enumerate(entries) if entry is None]
    slots = _reserve_slots(specs, queued, caller, services)
    items = [
        Item(
            job_id=job_id,
            index=n,
            state=ItemState.COMPLETED if entry else ItemState.QUEUED,
            spec=spec,
            cache_hit=entry is not None,
            model=entry.model if entry else None,
            finished_at=now if entry else None,
            reservation=slots.get(n),
        )
        for n, (spec, entry) in enumerate(zip(specs, entries, strict=True))
    ]
    expires_at = int((now + timedelta(days=services.settings.job_ttl_days)).timestamp())
    services.jobs.create(job, items, expires_at)
    sent_at = services.clock().timestamp()
    services.queue.send_items(
        [ItemMessage(job_id=job_id, index=n, reservation=slots.get(n)) for n in queued],
        [queue_delay(slots[n], sent_at, services.settings) if n in slots else 0 for n in queued],
    )
    logger.info("job created", job_id=job_id, kind=kind, items=len(items), cache_hits=len(hits))
    return JobAcceptedOut(
        batch_id=job_id,
        state=job.state.value,
        total=len(items),
        status_url=status_url(job_id, kind),
        result_url=result_url(job_id, kind),
    )


def _reserve_slots(
    specs: list[ImageSpec], queued: list[int], caller: Caller, services: Services
) -> dict[int, Reservation]:
    """Slots on the shared schedule for the items a rate-limited provider will draw, one write per
    model: each item is then delivered once, when its slot is due, instead of coming to take a slot
    first. Where the schedule is busy or paused, the workers take slots on delivery instead."""
    provider = provider_name(services.settings)
    if provider != "openai" or not queued:
        return {}
    by_limiter: dict[str, list[int]] = {}
    for n in queued:
        by_limiter.setdefault(limiter_name(provider, specs[n]), []).append(n)
    now = services.clock().timestamp()
    slots: dict[int, Reservation] = {}
    for name, indexes in by_limiter.items():
        try:
            held = services.limiter.reserve_many(name, [slot_tokens(specs[n]) for n in indexes], now)
        except ScheduleBusy:
            continue
        slots |= dict(zip(indexes, held, strict=False))
    waiting = sum(
        slot.slot_at - now > services.settings.rate_limit_max_wait_seconds for slot in slots.values()
    )
    if waiting:
        usage.record_event(services, caller.sub, "rate_waits", waiting)
    return slots


def _owned_job(job_id: str, caller: Caller, services: Services) -> Job:
    job = services.jobs.get_job(job_id) if _looks_like_job_id(job_id) else None
    if job is None or job.owner != caller.sub:
        raise JobNotFoundError(f"no batch '{job_id}'")  # someone else's job looks exactly like no job
    return job


def _looks_like_job_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)


def _counts_out(counts: Counts) -> CountsOut:
    return CountsOut(
        total=counts.total,
        completed=counts.completed,
        failed=counts.failed,
        cancelled=counts.cancelled,
        pending=counts.total - counts.finished,
    )


def _status_out(job: Job) -> JobStatusOut:
    total = job.counts.total
    return JobStatusOut(
        batch_id=job.job_id,
        kind=job.kind,
        state=job.state.value,
        counts=_counts_out(job.counts),
        percent=round(100.0 * job.counts.finished / total, 1) if total else 100.0,
        created_at=job.created_at,
        updated_at=job.updated_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        billed_calls=job.billed_calls,
        status_url=status_url(job.job_id, job.kind),
        result_url=result_url(job.job_id, job.kind),
    )


def job_status(job_id: str, caller: Caller, services: Services) -> JobStatusOut:
    return _status_out(_owned_job(job_id, caller, services))


def image_url(services: Services, key: str) -> str:
    return services.settings.images_base_url + key


def _download_keys(item: Item) -> list[str]:
    """The objects a completed item stored: its image, metadata and derivatives."""
    if item.state != ItemState.COMPLETED:
        return []
    spec = item.spec
    return [spec.key, spec.metadata_key, *(spec.derivative_key(px) for px in spec.derivatives)]


def _item_out(item: Item, urls: dict[str, str], expires_at: datetime, services: Services) -> ItemOut:
    spec: ImageSpec = item.spec
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
        image_url=image_url(services, spec.key) if done else None,
        metadata_url=image_url(services, spec.metadata_key) if done else None,
        error=item.error,
        cache_hit=item.cache_hit,
        billed_calls=item.billed_calls,
        download_url=urls.get(spec.key),
        metadata_download_url=urls.get(spec.metadata_key),
        download_url_expires_at=expires_at if done else None,
        derivatives=[
            DerivativeOut(
                size=f"{px}x{px}",
                key=spec.derivative_key(px),
                image_url=image_url(services, spec.derivative_key(px)),
                download_url=urls[spec.derivative_key(px)],
            )
            for px in spec.derivatives
            if done
        ],
    )


def job_result(job_id: str, caller: Caller, services: Services) -> JobResultOut:
    """Every item of the caller's job; completed ones with presigned URLs (the job is theirs)."""
    job = _owned_job(job_id, caller, services)
    items = list(services.jobs.iter_items(job_id))
    urls, expires_at = presign([key for item in items for key in _download_keys(item)], services)
    return JobResultOut(
        batch_id=job_id,
        state=job.state.value,
        counts=_counts_out(job.counts),
        billed_calls=job.billed_calls,
        items=[_item_out(item, urls, expires_at, services) for item in items],
    )


def wait_for_job(job_id: str, caller: Caller, seconds: float, services: Services) -> JobResultOut | None:
    """The job's result once it ends, or None if it is still going after `seconds`."""
    waited, pause = 0.0, 0.1
    while True:
        job = _owned_job(job_id, caller, services)
        if job.state in TERMINAL_JOB_STATES:
            return job_result(job_id, caller, services)
        if waited >= seconds:
            return None
        services.sleep(pause)
        waited += pause
        pause = min(pause * 1.5, 0.5)


def list_jobs(caller: Caller, limit: int, cursor: str | None, services: Services) -> JobListOut:
    """The caller's jobs (icon batches, single icons and blog images), newest first."""
    start_key = decode_cursor(cursor, caller) if cursor else None
    jobs, last_key = services.jobs.list_jobs(caller.sub, min(max(limit, 1), MAX_PAGE), start_key)
    return JobListOut(
        batches=[_status_out(job) for job in jobs], next_cursor=encode_cursor(last_key) if last_key else None
    )


def final_state(job: Job) -> JobState:
    counts = job.counts
    if job.cancel_requested and counts.cancelled:
        return JobState.CANCELLED
    if counts.completed == counts.total:
        return JobState.COMPLETED
    if counts.completed == 0:
        return JobState.CANCELLED if counts.cancelled == counts.total else JobState.FAILED
    return JobState.PARTIALLY_FAILED


def close_job_if_done(job_id: str, services: Services) -> None:
    """Give the job its final state once every item has ended (safe to call any number of times)."""
    job = services.jobs.get_job(job_id)
    if job is None or job.state in TERMINAL_JOB_STATES or job.counts.finished < job.counts.total:
        return
    if services.jobs.close_job(job_id, final_state(job), services.clock()):
        logger.info("job closed", job_id=job_id, state=final_state(job).value)


def cancel_job(job_id: str, caller: Caller, services: Services) -> JobStatusOut:
    """Stop every item that has not started; items already running finish."""
    job = _owned_job(job_id, caller, services)
    if job.state in TERMINAL_JOB_STATES:
        if job.state == JobState.CANCELLED:
            return _status_out(job)
        raise JobFinishedError(f"batch '{job_id}' already ended as {job.state.value}")
    services.jobs.request_cancel(job_id, services.clock())
    queued = [item for item in services.jobs.iter_items(job_id) if item.state == ItemState.QUEUED]

    def cancel(item: Item) -> bool:
        return services.jobs.finish_item(
            job_id, item.index, ItemState.CANCELLED, services.clock(), only_if_queued=True
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        ended = list(pool.map(cancel, queued))
    release_images(job.owner, job.created_at, sum(ended), services)  # never drawn: back on the quota
    held = [item.reservation for item, done in zip(queued, ended, strict=True) if done and item.reservation]
    if held:  # the slots these items waited for go to whoever comes next
        services.limiter.free(held, services.clock().timestamp())
    logger.info("job cancel requested", job_id=job_id, cancelled=sum(ended), slots_freed=len(held))
    close_job_if_done(job_id, services)
    return job_status(job_id, caller, services)


def submit(
    request: IconRequest | BlogImageRequest | BatchRequest,
    caller: Caller,
    wait_seconds: int,
    services: Services,
) -> JobAcceptedOut | JobResultOut:
    """Create a job; with wait_seconds, answer with its result if it ends in time."""
    accepted = create_job(request, caller, services)
    if wait_seconds > 0:
        result = wait_for_job(accepted.batch_id, caller, wait_seconds, services)
        if result is not None:
            return result
    return accepted
