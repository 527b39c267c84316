"""Economy jobs: OpenAI's Batch API at half the price, drawn within 24 hours (README "Economy").

A job's economy items are put into provider batches by the economy function (submit): one JSONL
input file per ECONOMY_MAX_LINES items, split by the Batch API's file limits. The job then shows
`submitted_to_provider` and its batches' ids. OpenAI's `batch.*` webhook (verified in
logic.provider_hooks) or the scheduled poll, whichever comes first, sends a collect message; the
collect reads the output and error files and gives each line to its item: an image is stored through
the worker's own path (run_item.store_generated, under the same per-item idempotency), so a line
delivered twice, or a webhook racing the poll, stores nothing twice. Lines the batch never drew
(expired) go back to the standard path or fail (ECONOMY_ON_EXPIRY); a cancel cancels the batches.

Every step is safe to repeat: SQS delivers at least once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from pydantic import TypeAdapter

from imagegen.errors import PermanentGenerationError
from imagegen.logic.job_closing import close_job_if_done
from imagegen.logic.run_item import end_item, fail_item, once_per_item, store_generated
from imagegen.logic.services import Services
from imagegen.models.domain import (
    TERMINAL_JOB_STATES,
    ImageSpec,
    Item,
    ItemMessage,
    ItemState,
    Job,
    Priority,
)
from imagegen.models.economy import (
    POLL_ACTION,
    CancelMessage,
    CollectMessage,
    EconomyMessage,
    ProviderBatch,
    SubmitMessage,
)
from imagegen.providers.registry import MODELS

if TYPE_CHECKING:
    from imagegen.providers.openai_batches import BatchState, LineResult

__all__ = ["POLL_ACTION", "cancel_batches", "collect", "handle_message", "job_priority", "poll", "submit"]
logger = Logger(child=True)
_MESSAGE: TypeAdapter[SubmitMessage | CollectMessage | CancelMessage] = TypeAdapter(EconomyMessage)
# A collect stops reading lines this long before its function's deadline and continues in a new message.
COLLECT_MARGIN_SECONDS = 60.0
COLLECT_SECONDS = 840.0  # the economy function's 900 s, less the margin
# EconomyQueue's maxReceiveCount (infra/template.yaml): the last delivery of a submit that keeps failing
# sends its items to the standard path rather than leave them waiting for a batch that never comes.
ECONOMY_MAX_RECEIVES = 5


def job_priority(
    asked: Priority | None, new_images: int, specs: list[ImageSpec], provider: str, services: Services
) -> Priority:
    """The path a new job's items take. Economy when asked, or for a batch of at least ECONOMY_MIN_ITEMS
    new images unless the request says standard; standard wherever there is no Batch API to take
    them: the offline renderer, a model OpenAI's Batch API does not take, a stack with no economy
    function. The job's answer says which path it took."""
    settings = services.settings
    if asked == "standard" or new_images == 0:
        return "standard"
    wanted = asked == "economy" or (0 < settings.economy_min_items <= new_images)
    if not wanted:
        return "standard"
    served = provider == "openai" and services.economy_queue is not None
    if not served or not all(MODELS[spec.model].batch_api for spec in specs):
        logger.info("economy asked for, served as standard", provider=provider, queue=served)
        return "standard"
    return "economy"


def handle_message(
    body: str, services: Services, deadline: Callable[[], float] | None = None, attempt: int = 1
) -> None:
    """One EconomyQueue message. `deadline`: seconds left in the invocation (collect continues later);
    `attempt`: its delivery (the last one of a submit falls back to the standard path)."""
    message = _MESSAGE.validate_json(body)
    if isinstance(message, SubmitMessage):
        submit(message.job_id, services, last_attempt=attempt >= ECONOMY_MAX_RECEIVES)
    elif isinstance(message, CollectMessage):
        collect(message.batch_id, message.from_line, services, deadline)
    else:
        cancel_batches(message.job_id, services)


# -- submit -----------------------------------------------------------------------------------------


def _economy_items(job_id: str, services: Services) -> list[Item]:
    items = (item for item in services.jobs.iter_items(job_id) if item.spec.priority == "economy")
    return sorted((item for item in items if not item.cache_hit), key=lambda item: item.index)


def _job_batches(job: Job, services: Services) -> list[ProviderBatch]:
    found = (services.jobs.get_provider_batch(batch_id) for batch_id in job.provider_batches)
    return [batch for batch in found if batch is not None]


def submit(job_id: str, services: Services, *, last_attempt: bool = False) -> None:
    """Put the job's economy items into provider batches, one per input file.

    The files are the same on every try (split in index order), and each is recorded once it has a
    batch; a try that crashed after creating one finds it again by its metadata (OpenAIBatches.find),
    so an item is never drawn twice. Items are marked submitted before their file is uploaded: a
    cancel arriving meanwhile leaves them to this function, which checks for it once its batches exist.
    On the message's last delivery, a file the Batch API still cannot take (an outage) goes to the
    standard path instead."""
    from imagegen.providers.openai_batches import input_line, split_lines

    jobs = services.jobs
    job = jobs.get_job(job_id)
    if job is None or job.state in TERMINAL_JOB_STATES:
        return
    items = _economy_items(job_id, services)
    lines = [input_line(job_id, item.index, item.spec) for item in items]
    files = split_lines(lines, services.settings.economy_max_lines)
    done = {batch.chunk for batch in _job_batches(job, services)}
    for chunk, members in enumerate(files):
        if chunk in done:
            continue
        chunk_items = [items[n] for n in members]
        if job.cancel_requested:
            _end_all(chunk_items, job, ItemState.CANCELLED, services)
            continue
        live = [item for item in chunk_items if jobs.submit_item(job_id, item.index, services.clock())]
        if live:
            live_lines = [lines[n] for n in members if items[n] in live]
            _submit_file(job, chunk, live, live_lines, services, last_attempt)
    if (latest := jobs.get_job(job_id)) is not None and latest.cancel_requested:
        cancel_batches(job_id, services)  # a cancel that came while the files were being made
    close_job_if_done(job_id, services)


def _submit_file(
    job: Job, chunk: int, live: list[Item], lines: list[bytes], services: Services, last_attempt: bool
) -> None:
    """Upload one input file, create its batch and record it on the job."""
    try:
        batch_id = services.batches.submit(job.job_id, chunk, lines)
    except PermanentGenerationError as error:
        logger.warning("the Batch API refused a file", job_id=job.job_id, chunk=chunk, reason=str(error))
        _fail_all(live, job, f"the Batch API refused the job: {error}", services)
        return
    except Exception:
        if not last_attempt:
            raise  # delivered again after the queue's visibility timeout
        logger.exception("the Batch API stayed unreachable; drawing on the standard path", job_id=job.job_id)
        for item in live:
            _to_standard(item, job, services)
        return
    now = services.clock()
    batch = ProviderBatch(
        batch_id=batch_id,
        job_id=job.job_id,
        chunk=chunk,
        indexes=tuple(item.index for item in live),
        status="validating",
        created_at=now,
        updated_at=now,
    )
    services.jobs.add_provider_batch(batch, _expires_at(services))
    logger.info("provider batch created", job_id=job.job_id, chunk=chunk, batch_id=batch_id, lines=len(live))


def _expires_at(services: Services) -> int:
    return int((services.clock() + timedelta(days=services.settings.job_ttl_days)).timestamp())


def _end_all(items: list[Item], job: Job, state: ItemState, services: Services) -> None:
    for item in items:
        end_item(item, job, state, services)


def _fail_all(items: list[Item], job: Job, reason: str, services: Services) -> None:
    started = time.perf_counter()
    for item in items:
        fail_item(item, job, reason, started, services)


# -- cancel -----------------------------------------------------------------------------------------


def cancel_batches(job_id: str, services: Services) -> None:
    """Ask the provider to cancel the job's batches that are still open. Lines drawn before the cancel
    took effect are stored (they are billed); the rest end cancelled when the batch is collected."""
    job = services.jobs.get_job(job_id)
    if job is None:
        return
    for batch in _job_batches(job, services):
        if batch.collected:
            continue
        status = services.batches.cancel(batch.batch_id)
        logger.info("provider batch cancel asked", job_id=job_id, batch_id=batch.batch_id, status=status)
        if services.economy_queue is not None:  # look again soon rather than at the next poll
            services.economy_queue.send(CollectMessage(batch_id=batch.batch_id), delay_seconds=5)


# -- collect ----------------------------------------------------------------------------------------


def poll(services: Services) -> int:
    """The webhook's fallback, on a schedule: every open batch whose provider status ended gets a
    collect message; the others' progress is noted. How many batches were checked."""
    open_batches = services.jobs.open_provider_batches()
    for batch in open_batches:
        state = services.batches.state(batch.batch_id)
        if state.ended and services.economy_queue is not None:
            services.economy_queue.send(CollectMessage(batch_id=batch.batch_id))
        elif (state.status, state.completed, state.failed) != (batch.status, batch.completed, batch.failed):
            services.jobs.update_provider_batch(
                batch.model_copy(
                    update={
                        "status": state.status,
                        "completed": state.completed,
                        "failed": state.failed,
                        "updated_at": services.clock(),
                    }
                )
            )
    return len(open_batches)


def collect(
    batch_id: str, from_line: int, services: Services, deadline: Callable[[], float] | None = None
) -> None:
    """Give each line of an ended batch to its item, from `from_line` on; then end the items the batch
    has no line for, and mark it collected. A batch still running only has its progress noted."""
    jobs = services.jobs
    batch = jobs.get_provider_batch(batch_id)
    if batch is None or batch.collected:
        logger.info("nothing to collect", batch_id=batch_id, known=batch is not None)
        return
    state = services.batches.state(batch_id)
    batch = batch.model_copy(
        update={
            "status": state.status,
            "completed": state.completed,
            "failed": state.failed,
            "updated_at": services.clock(),
        }
    )
    if not state.ended:
        jobs.update_provider_batch(batch)
        return
    job = jobs.get_job(batch.job_id)
    if job is None:
        jobs.update_provider_batch(batch.model_copy(update={"collected": True}))
        return
    seen = _take_lines(batch, state, from_line, job, services, deadline or _default_deadline())
    if seen is None:
        return
    waiting = False
    for index in batch.indexes:
        item = jobs.get_item(batch.job_id, index)
        if item is None or item.state != ItemState.SUBMITTED:
            continue
        if index in seen:  # its line is being stored by another delivery right now: look again later
            waiting = True
        else:  # no line: the batch failed as a whole, or lost the line
            _unfinished(item, job, state.status, state.errors, services)
    jobs.update_provider_batch(batch.model_copy(update={"collected": not waiting}))
    logger.info("provider batch collected", batch_id=batch_id, status=state.status, pending=waiting)
    close_job_if_done(job.job_id, services)


def _take_lines(
    batch: ProviderBatch,
    state: BatchState,
    from_line: int,
    job: Job,
    services: Services,
    time_left: Callable[[], float],
) -> set[int] | None:
    """Give the output file's lines, then the error file's, to their items from `from_line` on; the
    indexes the files have a line for, or None when time ran short and a new message continues from
    the next line."""
    from imagegen.providers.openai_batches import parse_custom_id

    seen: set[int] = set()
    number = 0
    for file_id in (state.output_file_id, state.error_file_id):
        if not file_id:
            continue
        for line in services.batches.lines(file_id):
            if number >= from_line:
                if time_left() < COLLECT_MARGIN_SECONDS and services.economy_queue is not None:
                    services.economy_queue.send(CollectMessage(batch_id=batch.batch_id, from_line=number))
                    services.jobs.update_provider_batch(batch)
                    logger.info("collect continues in a new message", batch_id=batch.batch_id, line=number)
                    return None
                _take_line(line, batch, job, services)
            named = parse_custom_id(line.custom_id)
            if named is not None and named[0] == batch.job_id:
                seen.add(named[1])
            number += 1
    return seen


def _default_deadline() -> Callable[[], float]:
    ends = time.monotonic() + COLLECT_SECONDS
    return lambda: ends - time.monotonic()


def _take_line(line: LineResult, batch: ProviderBatch, job: Job, services: Services) -> None:
    from imagegen.providers.openai_batches import parse_custom_id

    named = parse_custom_id(line.custom_id)
    if named is None or named[0] != batch.job_id or named[1] not in batch.indexes:
        logger.warning("a line names no item of its batch", batch_id=batch.batch_id, custom_id=line.custom_id)
        return
    item = services.jobs.get_item(batch.job_id, named[1])
    if item is None or item.state != ItemState.SUBMITTED:
        return  # taken already: a line delivered twice, or a collect that ran twice
    started = time.perf_counter()
    if line.outcome == "image":

        def take() -> str:
            try:
                image = line.image(item.spec, batch.batch_id)
            except PermanentGenerationError as error:
                return fail_item(item, job, str(error), started, services)
            return store_generated(item, job, image, services, started)

        try:
            once_per_item(item, services, take)
        except IdempotencyAlreadyInProgressError:
            logger.info("line taken elsewhere right now", batch_id=batch.batch_id, index=item.index)
    elif line.outcome == "failed":
        fail_item(item, job, line.reason or "failed in the batch", started, services)
    elif line.outcome == "cancelled":
        end_item(item, job, ItemState.CANCELLED, services)
    elif line.outcome == "expired":
        _unfinished(item, job, "expired", line.reason, services)
    else:  # a 429 or 5xx inside the batch: the standard path draws it
        _to_standard(item, job, services)


def _unfinished(item: Item, job: Job, status: str, reason: str | None, services: Services) -> None:
    """An item its batch did not draw: back to the standard path or failed after an expiry
    (ECONOMY_ON_EXPIRY), cancelled after a cancel, failed when the batch failed as a whole."""
    if status == "cancelled" or job.cancel_requested:
        end_item(item, job, ItemState.CANCELLED, services)
    elif status == "expired" and services.settings.economy_on_expiry == "requeue":
        _to_standard(item, job, services)
    elif status == "expired":
        fail_item(
            item,
            job,
            "the Batch API did not draw it within 24 h (ECONOMY_ON_EXPIRY=fail)",
            time.perf_counter(),
            services,
        )
    else:
        detail = reason or f"the provider batch ended {status} without this line"
        fail_item(item, job, f"the Batch API failed it: {detail}", time.perf_counter(), services)


def _to_standard(item: Item, job: Job, services: Services) -> None:
    """Back to the queue at the synchronous price: the worker draws it as any standard item."""
    spec = item.spec.model_copy(update={"priority": "standard"})
    if services.jobs.requeue_item(item.job_id, item.index, spec):
        services.queue.send_items([ItemMessage(job_id=item.job_id, index=item.index)])
        logger.info("economy item back on the standard path", job_id=job.job_id, index=item.index)
