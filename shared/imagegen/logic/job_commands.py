"""Commands on jobs: create one (its items queued, cache hits served at once) and cancel one."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from imagegen.errors import ImageExistsError, JobFinishedError
from imagegen.logic import cache, usage
from imagegen.logic.economy import job_priority
from imagegen.logic.job_closing import close_job_if_done
from imagegen.logic.job_reads import owned_job
from imagegen.logic.quotas import check_budget, release_images, reserve_images
from imagegen.logic.rate_limits import ScheduleBusy, limiter_name, queue_delay, slot_tokens
from imagegen.logic.services import Services
from imagegen.logic.specs import blog_spec, icon_specs
from imagegen.logic.webhook_urls import check_webhook_url
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
from imagegen.models.economy import CancelMessage, SubmitMessage
from imagegen.models.requests import BatchRequest, BlogImageRequest, BlogPost, IconRequest
from imagegen.providers.factory import provider_name

logger = Logger(child=True)


def create_job(
    request: IconRequest | BlogImageRequest | BatchRequest | BlogPost, caller: Caller, services: Services
) -> Job:
    """Record a job and its items, then queue one message per item the cache cannot answer.

    Cache hits are copied at once and cost no quota. The new images are checked against the
    caller's daily quota and the request's cost ceiling first: a refused request leaves nothing.
    A BlogPost (several sections' requests, as a CMS webhook sends them) makes one blog job."""
    if request.webhook_url is not None:  # before anything is drawn, counted or stored
        check_webhook_url(
            request.webhook_url, services.resolve_host, services.settings.webhook_allow_loopback
        )
    now = services.clock()
    settings = services.settings
    job_id = uuid.uuid4().hex
    kind: JobKind
    if isinstance(request, BlogImageRequest):
        request = BlogPost((request,), request.webhook_url, tuple(request.webhook_events))
    if isinstance(request, BlogPost):
        kind, specs = "blog", [blog_spec(section, job_id, now, settings) for section in request.sections]
        for section, spec in zip(request.sections, specs, strict=True):
            if section.filename and services.images.metadata_of(spec.key) is not None:
                raise ImageExistsError(f"an image named '{section.filename}' already exists in this section")
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
    priority = job_priority(request.priority, len(misses), misses, provider, services)
    if priority == "economy":  # drawn by the Batch API at its price: estimated, billed and stored so
        specs = [spec.model_copy(update={"priority": priority}) for spec in specs]
        misses = [spec.model_copy(update={"priority": priority}) for spec in misses]
    check_budget(misses, provider, request.max_cost_usd)
    reserve_images(caller.sub, len(misses), now, services)
    try:
        job = _new_job(job_id, kind, request, caller, now, entries).model_copy(update={"priority": priority})
        accepted = _record_job(job, specs, entries, caller, services)
    except Exception:
        release_images(caller.sub, now, len(misses), services)
        raise
    hits = len(specs) - len(misses)
    if hits:
        usage.record_event(services, caller.sub, "cache_hits", hits)
    return accepted


def _new_job(
    job_id: str,
    kind: JobKind,
    request: IconRequest | BatchRequest | BlogPost,
    caller: Caller,
    now: datetime,
    entries: list[CacheEntry | None],
) -> Job:
    hits = sum(entry is not None for entry in entries)
    all_hits = hits == len(entries)
    return Job(
        job_id=job_id,
        owner=caller.sub,
        kind=kind,
        state=JobState.COMPLETED if all_hits else JobState.QUEUED,
        counts=Counts(total=len(entries), completed=hits),
        created_at=now,
        updated_at=now,
        finished_at=now if all_hits else None,
        webhook_url=request.webhook_url,
        webhook_events=tuple(request.webhook_events) if request.webhook_url else (),
    )


def _record_job(
    job: Job, specs: list[ImageSpec], entries: list[CacheEntry | None], caller: Caller, services: Services
) -> Job:
    job_id, now = job.job_id, job.created_at
    hits = [n for n, entry in enumerate(entries) if entry is not None]
    with ThreadPoolExecutor(max_workers=8) as pool:  # list(): wait for every copy, and raise its errors
        list(pool.map(lambda n: cache.serve(specs[n], entries[n], job_id, n, caller.sub, services), hits))  # type: ignore[arg-type]
    queued = [n for n, entry in enumerate(entries) if entry is None]
    economy = job.priority == "economy" and bool(queued)
    slots = {} if economy else _reserve_slots(specs, queued, caller, services)
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
    if economy and services.economy_queue is not None:  # the economy function makes the batches
        services.economy_queue.send(SubmitMessage(job_id=job_id))
        logger.info(
            "economy job created", job_id=job_id, kind=job.kind, items=len(items), cache_hits=len(hits)
        )
        return job
    sent_at = services.clock().timestamp()
    services.queue.send_items(
        [ItemMessage(job_id=job_id, index=n, reservation=slots.get(n)) for n in queued],
        [queue_delay(slots[n], sent_at, services.settings) if n in slots else 0 for n in queued],
    )
    logger.info("job created", job_id=job_id, kind=job.kind, items=len(items), cache_hits=len(hits))
    return job


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


def cancel_job(job_id: str, caller: Caller, services: Services) -> Job:
    """Stop every item that has not started; items already running finish."""
    job = owned_job(job_id, caller, services)
    if job.state in TERMINAL_JOB_STATES:
        if job.state == JobState.CANCELLED:
            return job
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
    if job.priority == "economy" and services.economy_queue is not None:
        # Items in provider batches end when the batches are collected: cancelled, or stored if the
        # provider drew them before the cancel took effect (they are billed).
        services.economy_queue.send(CancelMessage(job_id=job_id))
    logger.info("job cancel requested", job_id=job_id, cancelled=sum(ended), slots_freed=len(held))
    close_job_if_done(job_id, services)
    return owned_job(job_id, caller, services)
