"""Outgoing webhooks (issue 12, part 3): a job's progress events become delivery messages on the
webhook queue. The events function calls `enqueue_webhooks` with the job and its events; the
delivery function (logic.webhook_sending) sends them, so neither the worker nor the stream waits on
a receiver. SQS does not keep order: a receiver may get job.completed before the last item.* event,
and reads `data.counts` (and the webhook-id, to drop a repeat) rather than counting on order."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from imagegen.models.progress import ProgressEvent, ProgressType
from imagegen.models.webhooks import WebhookDelivery, WebhookEvent, WebhookEventData, WebhookEventType

if TYPE_CHECKING:
    from imagegen.config import Settings
    from imagegen.models.domain import Job

# item.running and item.cancelled are progress for WebSocket subscribers, not webhook events.
_WEBHOOK_TYPES = {
    ProgressType.ITEM_COMPLETED: WebhookEventType.ITEM_COMPLETED,
    ProgressType.ITEM_FAILED: WebhookEventType.ITEM_FAILED,
    ProgressType.JOB_COMPLETED: WebhookEventType.JOB_COMPLETED,
    ProgressType.JOB_CANCELLED: WebhookEventType.JOB_CANCELLED,
}


class WebhookOutbox(Protocol):
    def send(self, deliveries: list[WebhookDelivery], delay_seconds: float = 0) -> None: ...


def webhook_event(progress: ProgressEvent) -> WebhookEvent | None:
    """The webhook event a progress event is, or None for progress webhooks do not report."""
    event_type = _WEBHOOK_TYPES.get(progress.type)
    if event_type is None:
        return None
    data = WebhookEventData(
        batch_id=progress.job_id,
        state=progress.state,
        counts=progress.counts,
        percent=progress.percent,
        item=progress.item,
    )
    return WebhookEvent(type=event_type, timestamp=progress.at, data=data)


def enqueue_webhooks(job: Job, events: Iterable[ProgressEvent], outbox: WebhookOutbox) -> int:
    """Queue one delivery per event of `job` that its webhook asked for (none without a webhook_url),
    in one batched send; how many were queued. Every event must be the job's own."""
    if not job.webhook_url:
        return 0
    wanted = set(job.webhook_events)
    deliveries = []
    for progress in events:
        if progress.job_id != job.job_id or progress.owner != job.owner:
            raise ValueError(f"a progress event of job {progress.job_id} was given with job {job.job_id}")
        event = webhook_event(progress)
        if event is not None and event.type.value in wanted:
            deliveries.append(WebhookDelivery(owner=job.owner, url=job.webhook_url, event=event))
    if deliveries:
        outbox.send(deliveries)
    return len(deliveries)


def webhook_outbox(settings: Settings) -> WebhookOutbox:
    """The real outbox: the webhook queue (WEBHOOK_QUEUE_URL)."""
    from imagegen.dal.webhook_queue import WebhookQueue

    return WebhookQueue(settings.webhook_queue_url, settings.webhook_dlq_url)
