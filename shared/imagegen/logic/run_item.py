"""Generate and store one item. Every step is safe to repeat: SQS delivers at least once.

Before a call to a rate-limited provider the item takes a slot on the shared schedule
(logic.rate_limits). A slot that starts within RATE_LIMIT_MAX_WAIT_SECONDS is waited for here;
a later one sends the item back to the queue with a delay, so no Lambda sleeps through it. The
provider call and the writes after it run under Powertools idempotency keyed by the item, so two
deliveries of one message at the same moment make one call and one object.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from imagegen.errors import PermanentGenerationError, ProviderQuotaExhaustedError, ProviderRateLimitedError
from imagegen.logic import cache, usage
from imagegen.logic.images import owner_tag
from imagegen.logic.jobs import close_job_if_done, image_url
from imagegen.logic.metadata import build_metadata
from imagegen.logic.quotas import release_images
from imagegen.logic.services import Services
from imagegen.models.domain import TERMINAL_ITEM_STATES, ImageSpec, Item, ItemMessage, ItemState, Job
from imagegen.providers.base import GeneratedImage
from imagegen.providers.registry import CONTENT_TYPES, estimated_tokens

logger = Logger(child=True)
MAX_RETRY_DELAY_SECONDS = 900


def retry_delay(attempt: int, base_seconds: int) -> int:
    """Exponential backoff for the next delivery: base, 2*base, 4*base ... capped at 15 minutes."""
    return int(min(base_seconds * 2 ** max(attempt - 1, 0), MAX_RETRY_DELAY_SECONDS))


def limiter_name(provider: str, spec: ImageSpec) -> str:
    """One schedule per provider model: OpenAI's limits are per model."""
    return f"{provider}#{spec.model}"


def run_item(message: ItemMessage, attempt: int, receipt_handle: str, services: Services) -> None:
    """Generate, check and store one item, then count it on its job.

    Permanent failures end the item as failed. Anything else is raised so SQS delivers the message
    again after a backoff; the last allowed attempt also ends the item, so the job still closes
    while the message moves on to the dead-letter queue.
    """
    jobs = services.jobs
    item = jobs.get_item(message.job_id, message.index)
    if item is None:
        logger.warning("item not found; dropping message", job_id=message.job_id, index=message.index)
        return
    if item.state in TERMINAL_ITEM_STATES:
        logger.info("item already ended; duplicate delivery", job_id=item.job_id, index=item.index)
        close_job_if_done(item.job_id, services)
        return
    job = jobs.get_job(item.job_id)
    if job is None or job.cancel_requested:
        _end(item, job, ItemState.CANCELLED, services)
        return
    if services.provider.rate_limited and not _take_slot(message, item, job, services):
        return
    try:
        _produce_once(item, job, attempt, receipt_handle, services)
    except IdempotencyAlreadyInProgressError:
        # Another delivery of this message holds the item right now. Its own message stays in the
        # queue until it succeeds, so this copy can go.
        logger.info("item in progress elsewhere; duplicate delivery", job_id=item.job_id, index=item.index)
    except ProviderRateLimitedError as error:
        now = services.clock().timestamp()
        services.limiter.rate_limited(limiter_name(services.provider.name, item.spec), now, error.retry_after)
        usage.record_event(services, job.owner, "rate_limited")
        delay = math.ceil(error.retry_after if error.retry_after is not None else 1.0)
        services.queue.requeue(message, delay)  # waiting its turn is not a failed attempt


def _take_slot(message: ItemMessage, item: Item, job: Job, services: Services) -> bool:
    """True once this item holds a slot on the shared schedule; False when it was sent back or failed."""
    settings = services.settings
    spec = item.spec
    tokens = estimated_tokens(spec.width, spec.height, spec.quality, spec.prompt)
    decision = services.limiter.acquire(
        limiter_name(services.provider.name, spec), tokens, services.clock().timestamp()
    )
    if decision.kind == "paused":
        reason = f"generation is paused for {math.ceil(decision.seconds)} s: {decision.reason}"
        _end(item, job, ItemState.FAILED, services, error=reason)
        return False
    if decision.kind == "wait":
        # Come back a little before the slot could be free, so it is taken with a short wait here.
        delay = max(1, math.floor(decision.seconds - settings.rate_limit_max_wait_seconds / 2))
        services.queue.requeue(message, delay)
        usage.record_event(services, job.owner, "rate_waits")
        logger.debug("waiting for the shared rate limit", job_id=item.job_id, index=item.index, delay=delay)
        return False
    if decision.seconds > 0:
        services.sleep(decision.seconds)
    return True


def _end(
    item: Item, job: Job | None, state: ItemState, services: Services, *, error: str | None = None
) -> None:
    """End an item that will not be drawn, giving back its place in the owner's daily quota."""
    if services.jobs.finish_item(item.job_id, item.index, state, services.clock(), error=error) and job:
        release_images(job.owner, job.created_at, 1, services)
    close_job_if_done(item.job_id, services)


def _produce_once(item: Item, job: Job, attempt: int, receipt_handle: str, services: Services) -> Any:
    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="claim",
        persistence_store=services.idempotency,
        config=services.idempotency_config,
    )
    def produce_item(claim: dict[str, Any]) -> dict[str, Any]:
        return {"state": _produce(item, job, attempt, receipt_handle, services)}

    return produce_item(claim={"job_id": item.job_id, "index": item.index})


def _produce(item: Item, job: Job, attempt: int, receipt_handle: str, services: Services) -> str:
    """Call the provider and store the image, once per item (the caller holds the idempotency record)."""
    jobs = services.jobs
    if not jobs.start_item(item.job_id, item.index, services.clock()):
        close_job_if_done(item.job_id, services)  # it ended (e.g. cancelled, or a duplicate finished it)
        return "ended"
    started = time.perf_counter()
    try:
        image = _generate_and_store(item, job.owner, services)
    except ProviderRateLimitedError:
        jobs.release_item(item.job_id, item.index)  # queued again: it waits, and can be cancelled
        raise
    except PermanentGenerationError as error:
        if isinstance(error, ProviderQuotaExhaustedError):
            services.limiter.pause(
                limiter_name(services.provider.name, item.spec), services.clock().timestamp(), str(error)
            )
        logger.warning("item failed", job_id=item.job_id, index=item.index, reason=str(error))
        _record(services, job, started, None, completed=False)
        _end(item, job, ItemState.FAILED, services, error=str(error))
        return "failed"
    except Exception as error:
        _transient_failure(item, job, error, attempt, receipt_handle, services, started)
        raise
    jobs.finish_item(item.job_id, item.index, ItemState.COMPLETED, services.clock(), model=image.model)
    _record(services, job, started, image, completed=True)
    cache.remember(item.spec, job.owner, image.model, services)
    logger.info(
        "item stored",
        job_id=item.job_id,
        index=item.index,
        key=item.spec.key,
        seconds=round(time.perf_counter() - started, 3),
    )
    close_job_if_done(item.job_id, services)
    return "completed"


def _record(
    services: Services, job: Job, started: float, image: GeneratedImage | None, *, completed: bool
) -> None:
    usage.record_generation(
        services,
        job.owner,
        completed=completed,
        milliseconds=(time.perf_counter() - started) * 1000,
        model=image.model if image else None,
        cost_usd=image.cost_usd if image else None,
    )


def _transient_failure(
    item: Item,
    job: Job,
    error: Exception,
    attempt: int,
    receipt_handle: str,
    services: Services,
    started: float,
) -> None:
    reason = f"{type(error).__name__} on attempt {attempt}"
    if attempt >= services.settings.worker_max_receives:
        logger.error("item failed on its last attempt", job_id=item.job_id, index=item.index, reason=reason)
        _record(services, job, started, None, completed=False)
        _end(
            item,
            job,
            ItemState.FAILED,
            services,
            error=f"gave up after {attempt} attempts (last: {type(error).__name__})",
        )
        services.queue.delay(receipt_handle, 0)  # visible now, so SQS dead-letters it at the next receive
    else:
        delay = retry_delay(attempt, services.settings.retry_base_delay_seconds)
        logger.warning(
            "item will be retried", job_id=item.job_id, index=item.index, reason=reason, delay=delay
        )
        usage.record_event(services, job.owner, "retries")
        services.queue.delay(receipt_handle, delay)


def _generate_and_store(item: Item, owner: str, services: Services) -> GeneratedImage:
    from imagegen.providers.validation import derivative, validate_image  # Pillow: worker only

    spec = item.spec
    image = services.provider.generate(spec)
    validate_image(image.data, spec.output_format, spec.width, spec.height, services.settings.images_max_size)
    tags = {"job-id": item.job_id, "item": str(item.index), "owner": owner_tag(owner)}
    content_type = CONTENT_TYPES[spec.output_format]
    _put_once(services, spec.key, image.data, content_type, tags)
    derivatives = []
    for pixels in spec.derivatives:
        key = spec.derivative_key(pixels)
        _put_once(services, key, derivative(image.data, spec.output_format, pixels), content_type, tags)
        derivatives.append({"size": f"{pixels}x{pixels}", "key": key, "url": image_url(services, key)})
    metadata = build_metadata(
        spec,
        image,
        image.data,
        spec.key,
        services.clock(),
        image_url=image_url(services, spec.key),
        derivatives=derivatives,
        job_id=item.job_id,
        item_index=item.index,
        cache_hit=False,
    )
    body = json.dumps(metadata, indent=2).encode()
    _put_once(services, spec.metadata_key, body, "application/json", tags)
    return image


def _put_once(services: Services, key: str, body: bytes, content_type: str, tags: dict[str, str]) -> None:
    """Write a new object; an existing one is fine only if an earlier delivery of this item wrote it."""
    if services.images.put_new(key, body, content_type, tags):
        return
    existing = services.images.metadata_of(key) or {}
    if existing.get("job-id") != tags["job-id"] or existing.get("item") != tags["item"]:
        raise PermanentGenerationError(f"an image already exists at '{key}'")
