"""Generate and store one item. Every step is safe to repeat: SQS delivers at least once.

Before a call to a rate-limited provider the item holds a slot on the shared schedule
(logic.rate_limits). A slot within RATE_LIMIT_MAX_WAIT_SECONDS is waited for here. A later one is
reserved all the same, and the item goes back to the queue holding it, delayed until it is due
(chained past SQS's 15-minute limit): it comes back once, and no Lambda sleeps through the wait.
The provider call and the writes after it run under Powertools idempotency keyed by the item, so
two deliveries of one message at the same moment make one call and one object. Every call the
provider may bill, a timed-out one included, is counted on the item, its job and the stats.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from imagegen.errors import (
    PermanentGenerationError,
    ProviderCallLostError,
    ProviderQuotaExhaustedError,
    ProviderRateLimitedError,
)
from imagegen.logic import cache, usage
from imagegen.logic.images import owner_tag
from imagegen.logic.job_closing import close_job_if_done
from imagegen.logic.metadata import build_metadata
from imagegen.logic.quotas import release_images
from imagegen.logic.rate_limits import (
    PAUSES_BEFORE_FAILING,
    Decision,
    ScheduleBusy,
    limiter_name,
    queue_delay,
    slot_tokens,
)
from imagegen.logic.services import Services
from imagegen.models.domain import (
    TERMINAL_ITEM_STATES,
    Item,
    ItemMessage,
    ItemState,
    Job,
    Reservation,
    UsageChange,
)
from imagegen.providers.base import GeneratedImage
from imagegen.providers.prices import estimate_spec_cost
from imagegen.providers.registry import CONTENT_TYPES, serving_model

logger = Logger(child=True)
MAX_RETRY_DELAY_SECONDS = 900
BUSY_SCHEDULE_DELAY_SECONDS = 1  # a burst of items racing for the schedule's row: the losers come back
SLOTS_TAKEN_IN_PROCESS = 3  # new slots a delivery waits for itself before the item goes back to the queue
STANDING_CHECK_AHEAD_SECONDS = 0.5  # whether a 429 moved the slot is read this long before it


class _WaitAgain(Exception):
    """The provider asked everyone to wait (a 429, or a first insufficient_quota pause)."""


def retry_delay(attempt: int, base_seconds: int) -> int:
    """Exponential backoff for the next delivery: base, 2*base, 4*base ... capped at 15 minutes."""
    return int(min(base_seconds * 2 ** max(attempt - 1, 0), MAX_RETRY_DELAY_SECONDS))


def run_item(message: ItemMessage, attempt: int, receipt_handle: str, services: Services) -> None:
    """Generate, check and store one item, then count it on its job.

    Permanent failures end the item as failed. Anything else is raised so SQS delivers the message
    again after a backoff; the last allowed attempt also ends the item, so the job still closes
    while the message moves on to the dead-letter queue.
    """
    try:
        ready = _ready_to_call(message, services)
    except Exception:
        # Unexpected (an AWS error reading the item, say): back after the usual backoff, not after
        # the queue's visibility timeout (six times the worker's: 90 minutes).
        services.queue.delay(receipt_handle, retry_delay(attempt, services.settings.retry_base_delay_seconds))
        raise
    if ready is None:
        return
    item, job, slot = ready
    for _ in range(SLOTS_TAKEN_IN_PROCESS):
        try:
            _produce_once(item, job, attempt, receipt_handle, services, slot)
            return
        except IdempotencyAlreadyInProgressError:
            # Another delivery of this message holds the item right now. Its own message stays in the
            # queue until it succeeds, so this copy can go.
            logger.info(
                "item in progress elsewhere; duplicate delivery", job_id=item.job_id, index=item.index
            )
            return
        except _WaitAgain:
            slot = _new_slot(message, item, services)
            if slot is None:  # it went back to the queue to wait
                return
    _requeue_holding(message, item, slot, services)  # type: ignore[arg-type]


def _ready_to_call(message: ItemMessage, services: Services) -> tuple[Item, Job, Reservation | None] | None:
    """The item, its job and the slot it calls in; None when it ended, or went back to wait."""
    jobs = services.jobs
    item = jobs.get_item(message.job_id, message.index)
    if item is None:
        logger.warning("item not found; dropping message", job_id=message.job_id, index=message.index)
        return None
    if item.state in TERMINAL_ITEM_STATES:
        logger.info("item already ended; duplicate delivery", job_id=item.job_id, index=item.index)
        close_job_if_done(item.job_id, services)
        return None
    job = jobs.get_job(item.job_id)
    if job is None or job.cancel_requested:
        end_item(item, job, ItemState.CANCELLED, services)
        return None
    item = _on_a_served_model(item, services)
    if not services.provider.rate_limited:
        return item, job, None
    slot = _hold_slot(message, item, job, services)
    return (item, job, slot) if slot is not None else None


def _on_a_served_model(item: Item, services: Services) -> Item:
    """The item as it will be drawn today: a model shut down since it was queued is replaced."""
    spec = item.spec
    model = serving_model(spec.model, services.settings.openai_model, services.clock().date())
    if model.name == spec.model:
        return item
    logger.warning("model shut down since the item was queued", requested=spec.model, model=model.name)
    served = spec.model_copy(
        update={"model": model.name, "requested_model": spec.requested_model or spec.model}
    )
    return item.model_copy(update={"spec": served})


def _hold_slot(message: ItemMessage, item: Item, job: Job, services: Services) -> Reservation | None:
    """The slot this item will call in, due within RATE_LIMIT_MAX_WAIT_SECONDS; None when the item
    went back to the queue to wait for a later one, or ended. The caller waits for it, last thing."""
    limiter, name = services.limiter, limiter_name(services.provider.name, item.spec)
    held = message.reservation
    if held is not None and (held.limiter != name or item.used_slot_at == held.slot_at):
        held = None  # an earlier delivery of this item called in it (and was retried): take a new one
    now = services.clock().timestamp()
    if held is not None:
        standing = limiter.standing(held, now)
        if standing == "paused":
            _end_paused(item, job, name, services)
            return None
        if standing == "moved":
            held = None
    if held is None:
        try:
            decision = limiter.reserve(name, slot_tokens(item.spec), now)
        except ScheduleBusy:
            services.queue.requeue(
                message.model_copy(update={"reservation": None}), BUSY_SCHEDULE_DELAY_SECONDS
            )
            return None
        if decision.kind == "paused" or decision.reservation is None:
            _end_paused(item, job, name, services)
            return None
        held = decision.reservation
        if decision.kind == "wait":
            usage.record_event(services, job.owner, "rate_waits")
    # From the clock now, not when this began: reserving in a burst of racing workers takes seconds.
    wait = held.slot_at - services.clock().timestamp()
    if wait > services.settings.rate_limit_max_wait_seconds:
        _requeue_holding(message, item, held, services)
        return None
    return held


def _wait_for(slot: Reservation, services: Services) -> None:
    """Sleep until the slot starts, once every write before the call is done, so that the call
    starts on time however slow those writes were. _WaitAgain (a new slot) if a 429 or a pause moved
    it meanwhile, or if the slot is already past by more than the headroom RATE_LIMIT_TARGET leaves:
    a late call would crowd the next slots into one of the provider's windows and earn a 429."""
    wait = slot.slot_at - services.clock().timestamp()
    if wait > STANDING_CHECK_AHEAD_SECONDS:  # the check is a read: done before the slot, not in it
        services.sleep(wait - STANDING_CHECK_AHEAD_SECONDS)
        if services.limiter.standing(slot, services.clock().timestamp()) != "valid":
            raise _WaitAgain
        wait = slot.slot_at - services.clock().timestamp()
    if wait < -slot.seconds * (1 - services.settings.rate_limit_target):
        logger.info("slot missed; taking a new one", late=round(-wait, 3), slot=round(slot.seconds, 3))
        raise _WaitAgain
    if wait > 0:
        services.sleep(wait)


def _requeue_holding(message: ItemMessage, item: Item, held: Reservation, services: Services) -> None:
    """Send the item back, due half of RATE_LIMIT_MAX_WAIT_SECONDS before its slot (it waits the
    rest in the worker, which absorbs a cold start), holding the slot."""
    services.jobs.hold_slot(item.job_id, item.index, held)
    delay = queue_delay(held, services.clock().timestamp(), services.settings)
    services.queue.requeue(message.model_copy(update={"reservation": held}), delay)
    logger.debug(
        "waiting for a reserved slot", job_id=item.job_id, index=item.index, delay=delay, slot=held.slot_at
    )


def _new_slot(message: ItemMessage, item: Item, services: Services) -> Reservation | None:
    """After a missed slot, a 429 or a pause: the first slot of the schedule's new generation. One due
    within RATE_LIMIT_MAX_WAIT_SECONDS is waited for here, by the worker that already holds the item:
    sent back to the queue, the item would come back late again whenever the trip through the queue
    takes longer than a slot (short slots: a high tier's 0.24 s), and miss every slot it takes. A later
    one is held and the item goes back to the queue (None)."""
    now = services.clock().timestamp()
    try:
        decision = services.limiter.reserve(
            limiter_name(services.provider.name, item.spec), slot_tokens(item.spec), now
        )
    except ScheduleBusy:
        decision = Decision("wait")
    if decision.reservation is None:  # paused for good (the next delivery ends it), or a busy row
        services.queue.requeue(message.model_copy(update={"reservation": None}), BUSY_SCHEDULE_DELAY_SECONDS)
        return None
    held = decision.reservation
    if held.slot_at - services.clock().timestamp() <= services.settings.rate_limit_max_wait_seconds:
        return held
    _requeue_holding(message, item, held, services)
    return None


def _end_paused(item: Item, job: Job, name: str, services: Services) -> None:
    seconds, reason = services.limiter.paused_reason(name, services.clock().timestamp())
    end_item(
        item,
        job,
        ItemState.FAILED,
        services,
        error=f"generation is paused for {math.ceil(seconds)} s: {reason}",
    )


def end_item(
    item: Item,
    job: Job | None,
    state: ItemState,
    services: Services,
    *,
    error: str | None = None,
    counted: UsageChange | None = None,
) -> None:
    """End an item without an image, giving back its place in the owner's daily quota; `counted`:
    a generation that failed for good, counted in the stats with the item's end, at once."""
    ended = services.jobs.finish_item(
        item.job_id, item.index, state, services.clock(), error=error, usage=counted
    )
    if ended and counted:
        usage.generation_counted(counted)
    if ended and job:
        release_images(job.owner, job.created_at, 1, services)
    close_job_if_done(item.job_id, services)


def _produce_once(
    item: Item, job: Job, attempt: int, receipt_handle: str, services: Services, slot: Reservation | None
) -> Any:
    return once_per_item(item, services, lambda: _produce(item, job, attempt, receipt_handle, services, slot))


def once_per_item(item: Item, services: Services, produce: Callable[[], str]) -> Any:
    """Run `produce` (draw or take an image, and store it) once per item, under Powertools idempotency:
    a second delivery at the same moment raises IdempotencyAlreadyInProgressError, a later one gets
    the first one's answer."""

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="claim",
        persistence_store=services.idempotency,
        config=services.idempotency_config,
    )
    def produce_item(claim: dict[str, Any]) -> dict[str, Any]:
        return {"state": produce()}

    return produce_item(claim={"job_id": item.job_id, "index": item.index})


def _produce(
    item: Item, job: Job, attempt: int, receipt_handle: str, services: Services, slot: Reservation | None
) -> str:
    """Call the provider and store the image, once per item (the caller holds the idempotency record)."""
    if not services.jobs.start_item(
        item.job_id, item.index, services.clock(), slot.slot_at if slot else None
    ):
        close_job_if_done(item.job_id, services)  # it ended (e.g. cancelled, or a duplicate finished it)
        return "ended"
    started = time.perf_counter()
    image = _call_provider(item, job, attempt, receipt_handle, services, slot, started)
    if isinstance(image, str):  # the item failed for good
        return image
    return _keep(item, job, image, attempt, receipt_handle, services, started)


def _call_provider(
    item: Item,
    job: Job,
    attempt: int,
    receipt_handle: str,
    services: Services,
    slot: Reservation | None,
    started: float,
) -> GeneratedImage | str:
    """The provider's image, or the state the item ended in. Raises _WaitAgain when the item must take
    a new slot, and a transient error (once counted) for the queue to deliver it again."""
    jobs = services.jobs
    try:
        if slot is not None:
            _wait_for(slot, services)
        return services.provider.generate(item.spec)
    except _WaitAgain:
        jobs.release_item(item.job_id, item.index)  # moved while it waited: it takes a new slot
        raise
    except ProviderRateLimitedError as error:
        _rate_limited(item, job, error, services)
        raise _WaitAgain from None
    except ProviderQuotaExhaustedError as error:
        if _paused(item, error, services) < PAUSES_BEFORE_FAILING:
            jobs.release_item(item.job_id, item.index)  # it waits out the pause with the others
            raise _WaitAgain from None
        return fail_item(item, job, str(error), started, services)
    except ProviderCallLostError as error:
        reason = _lost_call(item, job, error, services)
        if reason is not None:
            return fail_item(item, job, reason, started, services)
        _transient_failure(item, job, error, attempt, receipt_handle, services, started)
        raise
    except PermanentGenerationError as error:
        return fail_item(item, job, str(error), started, services)
    except Exception as error:
        _transient_failure(item, job, error, attempt, receipt_handle, services, started)
        raise


def _lost_call(item: Item, job: Job, error: ProviderCallLostError, services: Services) -> str | None:
    """Count a call that may be billed; why the item fails once they pass OPENAI_TIMEOUT_RETRIES, or None."""
    _, lost = _count_billed_call(item, job, services, lost=True, actual_usd=None)
    cap = services.settings.openai_timeout_retries
    if lost <= cap:
        return None
    return (
        f"{error}; {lost} calls timed out or lost their connection and each may be billed: "
        f"stopped after {cap} {'retry' if cap == 1 else 'retries'} (OPENAI_TIMEOUT_RETRIES)"
    )


def _keep(
    item: Item,
    job: Job,
    image: GeneratedImage,
    attempt: int,
    receipt_handle: str,
    services: Services,
    started: float,
) -> str:
    """Store the drawn image (store_generated); a transient failure is retried through the queue."""
    if services.provider.rate_limited:
        services.limiter.succeeded(limiter_name(services.provider.name, item.spec))
    try:
        return store_generated(item, job, image, services, started)
    except Exception as error:
        _transient_failure(item, job, error, attempt, receipt_handle, services, started)
        raise


def store_generated(item: Item, job: Job, image: GeneratedImage, services: Services, started: float) -> str:
    """Count the image's billed calls, store it with its metadata, and complete the item: the one path
    that stores an image, for the worker's calls and the Batch API's lines alike. Unusable bytes or a
    taken key fail the item; anything else is raised for the caller to retry."""
    if image.billed_calls:
        billed, _ = _count_billed_call(item, job, services, lost=False, actual_usd=image.cost_usd)
        image = dataclasses.replace(image, billed_calls=billed)
    try:
        _store(item, job.owner, image, services)
    except PermanentGenerationError as error:  # unusable bytes (billed all the same), or a taken key
        return fail_item(item, job, str(error), started, services)
    counted = usage.generation_usage(
        job.owner, completed=True, milliseconds=_ms_since(started), model=image.model, at=services.clock()
    )
    if services.jobs.finish_item(
        item.job_id, item.index, ItemState.COMPLETED, services.clock(), model=image.model, usage=counted
    ):
        usage.generation_counted(counted)
    cache.remember(item.spec, job.owner, image.model, services)
    logger.info(
        "item stored",
        job_id=item.job_id,
        index=item.index,
        key=item.spec.key,
        priority=item.spec.priority,
        seconds=round(time.perf_counter() - started, 3),
    )
    close_job_if_done(item.job_id, services)
    return "completed"


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _rate_limited(item: Item, job: Job, error: ProviderRateLimitedError, services: Services) -> None:
    services.jobs.release_item(item.job_id, item.index)  # queued again: it waits, and can be cancelled
    now = services.clock().timestamp()
    services.limiter.rate_limited(limiter_name(services.provider.name, item.spec), now, error.retry_after)
    usage.record_event(services, job.owner, "rate_limited")


def _paused(item: Item, error: ProviderQuotaExhaustedError, services: Services) -> int:
    """Pause the schedule for everyone; how many pauses in a row the account has had."""
    now = services.clock().timestamp()
    return services.limiter.pause(limiter_name(services.provider.name, item.spec), now, str(error))


def fail_item(item: Item, job: Job, reason: str, started: float, services: Services) -> str:
    """End the item as failed for good, counted in the stats; its quota place is given back."""
    logger.warning("item failed", job_id=item.job_id, index=item.index, reason=reason)
    counted = usage.generation_usage(
        job.owner, completed=False, milliseconds=_ms_since(started), model=None, at=services.clock()
    )
    end_item(item, job, ItemState.FAILED, services, error=reason, counted=counted)
    return "failed"


def _count_billed_call(
    item: Item, job: Job, services: Services, *, lost: bool, actual_usd: float | None
) -> tuple[int, int]:
    """Count a call the provider may bill on the item, its job and the stats; the item's (billed, lost)."""
    spec = item.spec
    estimate = estimate_spec_cost(spec)
    billed = usage.billed_call_usage(
        job.owner, spec.model, lost=lost, actual_usd=actual_usd, estimated_usd=estimate, at=services.clock()
    )
    counts = services.jobs.count_billed_call(item.job_id, item.index, lost=lost, usage=billed)
    usage.billed_call_counted(billed)
    return counts


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
        end_item(
            item,
            job,
            ItemState.FAILED,
            services,
            error=f"gave up after {attempt} attempts (last: {type(error).__name__})",
            counted=usage.generation_usage(
                job.owner, completed=False, milliseconds=_ms_since(started), model=None, at=services.clock()
            ),
        )
        services.queue.delay(receipt_handle, 0)  # visible now, so SQS dead-letters it at the next receive
    else:
        delay = retry_delay(attempt, services.settings.retry_base_delay_seconds)
        logger.warning(
            "item will be retried", job_id=item.job_id, index=item.index, reason=reason, delay=delay
        )
        usage.record_event(services, job.owner, "retries")
        services.queue.delay(receipt_handle, delay)


def _store(item: Item, owner: str, image: GeneratedImage, services: Services) -> None:
    from imagegen.providers.validation import derivative, validate_image  # Pillow: worker only

    spec = item.spec
    validate_image(image.data, spec.output_format, spec.width, spec.height, services.settings.images_max_size)
    tags = {"job-id": item.job_id, "item": str(item.index), "owner": owner_tag(owner)}
    content_type = CONTENT_TYPES[spec.output_format]
    _put_once(services, spec.key, image.data, content_type, tags)
    image_url = services.settings.image_url
    derivatives = []
    for pixels in spec.derivatives:
        key = spec.derivative_key(pixels)
        _put_once(services, key, derivative(image.data, spec.output_format, pixels), content_type, tags)
        derivatives.append({"size": f"{pixels}x{pixels}", "key": key, "url": image_url(key)})
    metadata = build_metadata(
        spec,
        image,
        image.data,
        spec.key,
        services.clock(),
        image_url=image_url(spec.key),
        derivatives=derivatives,
        job_id=item.job_id,
        item_index=item.index,
        cache_hit=False,
    )
    body = json.dumps(metadata, indent=2).encode()
    _put_once(services, spec.metadata_key, body, "application/json", tags)


def _put_once(services: Services, key: str, body: bytes, content_type: str, tags: dict[str, str]) -> None:
    """Write a new object; an existing one is fine only if an earlier delivery of this item wrote it."""
    if services.images.put_new(key, body, content_type, tags):
        return
    existing = services.images.metadata_of(key) or {}
    if existing.get("job-id") != tags["job-id"] or existing.get("item") != tags["item"]:
        raise PermanentGenerationError(f"an image already exists at '{key}'")
