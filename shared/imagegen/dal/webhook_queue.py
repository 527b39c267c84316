"""The webhook queue: one message per delivery attempt still to make, and its dead-letter queue for
events whose retry schedule ran out."""

from __future__ import annotations

import math
from typing import Any

from imagegen.dal.clients import client, send_batches
from imagegen.models.webhooks import WebhookDelivery

MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds: longer waits are chained (WebhookDelivery.due_at)


def _delay(seconds: float) -> int:
    # Rounded up: a message must not arrive before its due time for want of a fraction of a second.
    return max(0, min(math.ceil(seconds), MAX_DELAY_SECONDS))


class WebhookQueue:
    def __init__(self, queue_url: str, dead_letter_url: str = "") -> None:
        self.queue_url, self.dead_letter_url = queue_url, dead_letter_url

    @property
    def _sqs(self) -> Any:
        return client("sqs")

    def send(self, deliveries: list[WebhookDelivery], delay_seconds: float = 0) -> None:
        """Queue deliveries, `delay_seconds` from now (at most 900: chained beyond)."""
        entries = [
            {"MessageBody": delivery.model_dump_json(), "DelaySeconds": _delay(delay_seconds)}
            for delivery in deliveries
        ]
        send_batches(self.queue_url, entries)

    def dead_letter(self, delivery: WebhookDelivery) -> None:
        """Keep an event whose every attempt failed where an operator can look at it (and redrive it)."""
        self._sqs.send_message(QueueUrl=self.dead_letter_url, MessageBody=delivery.model_dump_json())
