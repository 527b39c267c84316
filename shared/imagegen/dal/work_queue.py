"""The generate queue: one message per item; the worker delays retries through message visibility."""

from __future__ import annotations

from typing import Any

from imagegen.dal.clients import client, send_batches
from imagegen.models.domain import ItemMessage
from imagegen.models.economy import CancelMessage, CollectMessage, SubmitMessage


class WorkQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    @property
    def _sqs(self) -> Any:
        return client("sqs")

    def send_items(self, messages: list[ItemMessage], delays: list[int] | None = None) -> None:
        """Send in batches of ten, each message held `delays[n]` seconds (at most 900); resend
        entries SQS reports as failed."""
        entries = [
            {"MessageBody": message.model_dump_json(), "DelaySeconds": max(0, min(int(delay), 900))}
            for message, delay in zip(messages, delays or [0] * len(messages), strict=True)
        ]
        send_batches(self.queue_url, entries)

    def delay(self, receipt_handle: str, seconds: int) -> None:
        """Make a received message visible again after `seconds` (0 = now)."""
        self._sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

    def requeue(self, message: ItemMessage, delay_seconds: int) -> None:
        """Send the item again, delivered after `delay_seconds` (at most SQS's 900).

        A new message rather than a longer visibility: every receive counts towards the queue's
        maxReceiveCount, and an item waiting its turn at the rate limit has not failed."""
        self._sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message.model_dump_json(),
            DelaySeconds=max(0, min(int(delay_seconds), 900)),
        )


class EconomyQueue:
    """The economy function's queue: submit a job to the Batch API, collect a batch, cancel a job's."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, message: SubmitMessage | CollectMessage | CancelMessage, delay_seconds: int = 0) -> None:
        client("sqs").send_message(
            QueueUrl=self.queue_url,
            MessageBody=message.model_dump_json(),
            DelaySeconds=max(0, min(int(delay_seconds), 900)),
        )
