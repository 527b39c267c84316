"""Generate and store one item. Every step is safe to repeat: SQS delivers at least once."""

from __future__ import annotations

import json
import time

from aws_lambda_powertools import Logger

from imagegen.errors import PermanentGenerationError
from imagegen.logic.images import owner_tag
from imagegen.logic.jobs import close_job_if_done, image_url
from imagegen.logic.metadata import build_metadata
from imagegen.logic.services import Services
from imagegen.models.domain import TERMINAL_ITEM_STATES, Item, ItemMessage, ItemState

logger = Logger(child=True)
MAX_RETRY_DELAY_SECONDS = 900


def retry_delay(attempt: int, base_seconds: int) -> int:
    """Exponential backoff for the next delivery: base, 2*base, 4*base ... capped at 15 minutes."""
    return int(min(base_seconds * 2 ** max(attempt - 1, 0), MAX_RETRY_DELAY_SECONDS))


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
        jobs.finish_item(item.job_id, item.index, ItemState.CANCELLED, services.clock())
        close_job_if_done(item.job_id, services)
        return
    if not jobs.start_item(item.job_id, item.index, services.clock()):
        close_job_if_done(item.job_id, services)  # it ended (e.g. cancelled) since we read it
        return
    try:
        started = time.perf_counter()
        model = _generate_and_store(item, job.owner, services)
    except PermanentGenerationError as error:
        logger.warning("item failed", job_id=item.job_id, index=item.index, reason=str(error))
        jobs.finish_item(item.job_id, item.index, ItemState.FAILED, services.clock(), error=str(error))
    except Exception as error:
        reason = f"{type(error).__name__} on attempt {attempt}"
        if attempt >= services.settings.worker_max_receives:
            logger.error(
                "item failed on its last attempt", job_id=item.job_id, index=item.index, reason=reason
            )
            jobs.finish_item(
                item.job_id,
                item.index,
                ItemState.FAILED,
                services.clock(),
                error=f"gave up after {attempt} attempts (last: {type(error).__name__})",
            )
            close_job_if_done(item.job_id, services)
            services.queue.delay(receipt_handle, 0)  # visible now, so SQS dead-letters it at the next receive
        else:
            delay = retry_delay(attempt, services.settings.retry_base_delay_seconds)
            logger.warning(
                "item will be retried", job_id=item.job_id, index=item.index, reason=reason, delay=delay
            )
            services.queue.delay(receipt_handle, delay)
        raise
    else:
        jobs.finish_item(item.job_id, item.index, ItemState.COMPLETED, services.clock(), model=model)
        logger.info(
            "item stored",
            job_id=item.job_id,
            index=item.index,
            key=item.spec.key,
            seconds=round(time.perf_counter() - started, 3),
        )
    close_job_if_done(item.job_id, services)


def _generate_and_store(item: Item, owner: str, services: Services) -> str:
    from imagegen.providers.validation import CONTENT_TYPES, derivative, validate_image  # Pillow: worker only

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
    )
    body = json.dumps(metadata, indent=2).encode()
    _put_once(services, spec.metadata_key, body, "application/json", tags)
    return image.model


def _put_once(services: Services, key: str, body: bytes, content_type: str, tags: dict[str, str]) -> None:
    """Write a new object; an existing one is fine only if an earlier delivery of this item wrote it."""
    if services.images.put_new(key, body, content_type, tags):
        return
    existing = services.images.metadata_of(key) or {}
    if existing.get("job-id") != tags["job-id"] or existing.get("item") != tags["item"]:
        raise PermanentGenerationError(f"an image already exists at '{key}'")
