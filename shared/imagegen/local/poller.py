"""The SQS event source mapping, emulated: one receiver thread feeding a function's containers.

moto runs no Lambdas without Docker (and with use_docker=false its mapping deletes messages
unprocessed), so the stack does what Lambda's event source mapping does. Whenever one of the
`max_concurrency` invocation slots is free, a thread receives up to BatchSize messages and hands
them, as one SQS-shaped event, to the function's containers (spawned on demand, like cold starts).
When the invocation returns, the records the handler did not report as failed are deleted (all of
them count as failed if the invocation raised, as with ReportBatchItemFailures) and the slot is
freed. Failed records reappear after their visibility timeout, and SQS moves them to the
dead-letter queue after maxReceiveCount receives.
"""

from __future__ import annotations

import functools
import hashlib
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from botocore.config import Config

from imagegen.local.aws import emulated_client
from imagegen.local.lambdas import LambdaFunction, LocalContext

# A long poll of one second, so a stop is noticed within about a second. moto's long poll re-checks
# delayed messages only once a second, so a delayed message can arrive up to ~1 s late.
RECEIVE_WAIT_SECONDS = 1
# How long `stop` lets running invocations end (and their records be deleted) before abandoning them.
STOP_GRACE_SECONDS = 5.0


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS integration delivers for a batch of received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def sqs_client(endpoint: str) -> Any:
    """An SQS client for the emulated AWS, with short timeouts so a stopped server fails fast."""
    return emulated_client(
        "sqs",
        endpoint,
        Config(connect_timeout=2, read_timeout=RECEIVE_WAIT_SECONDS + 10, retries={"max_attempts": 2}),
    )


def _receive(sqs: Any, queue_url: str, batch_size: int) -> list[dict[str, Any]]:
    answer = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=batch_size,
        WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return list(answer.get("Messages", []))


def _failed_ids(messages: list[dict[str, Any]], answer: Callable[[], Any]) -> set[str]:
    """The records to keep: those the handler reported as failed, or all when the invocation raised."""
    try:
        result = answer()
    except Exception:  # a function error (or an abandoned invocation): Lambda retries the whole batch
        return {message["MessageId"] for message in messages}
    return {failure["itemIdentifier"] for failure in (result or {}).get("batchItemFailures", [])}


def _delete_succeeded(sqs: Any, queue_url: str, messages: list[dict[str, Any]], failed: set[str]) -> None:
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
        )


def poll_once(
    sqs: Any,
    handler: Any,
    function_name: str,
    queue_url: str,
    queue_arn: str,
    region: str,
    batch_size: int,
    timeout: int,
) -> int:
    """Receive one batch, run the handler on it here, delete what succeeded; the number received."""
    messages = _receive(sqs, queue_url, batch_size)
    if not messages:
        return 0
    event = sqs_event(messages, queue_arn, region)
    failed = _failed_ids(messages, lambda: handler(event, LocalContext(function_name, timeout)))
    _delete_succeeded(sqs, queue_url, messages, failed)
    return len(messages)


class SqsEventSource:
    """One queue feeding one function, at most `max_concurrency` invocations at once.

    `deliveries` counts the records handed to the function (a record delivered twice counts
    twice) and `invocations` the events; both only grow.
    """

    def __init__(
        self,
        function: LambdaFunction,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        batch_size: int,
        max_concurrency: int,
    ) -> None:
        self.function, self.queue_url, self.queue_arn = function, queue_url, queue_arn
        self.batch_size, self.max_concurrency = batch_size, max_concurrency
        self.deliveries = 0
        self.invocations = 0
        self._sqs = sqs
        self._region = str(sqs.meta.region_name)
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._stopping = threading.Event()
        self._enabled = threading.Event()
        self._enabled.set()
        self._receiving = threading.Lock()  # held while a receive is in flight
        # Ended invocations, settled by one thread: a done-callback runs on the pool's own thread,
        # which must not wait for SQS.
        self._ended: queue.SimpleQueue[tuple[list[dict[str, Any]], Future[Any]] | None] = queue.SimpleQueue()
        name = f"{function.name}-event-source"
        self._receiver = threading.Thread(target=self._receive_loop, name=name, daemon=True)
        self._settler = threading.Thread(target=self._settle_loop, name=f"{name}-settler", daemon=True)

    def start(self) -> SqsEventSource:
        self._settler.start()
        self._receiver.start()
        return self

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Receive no more; running invocations get `grace_seconds` to end, then are abandoned.

        An abandoned invocation's records stay in flight and reappear after their visibility timeout.
        """
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._receiver.is_alive():
            self._receiver.join(timeout=RECEIVE_WAIT_SECONDS + 15)
        deadline = time.monotonic() + grace_seconds
        for _ in range(self.max_concurrency):  # every slot back means every invocation was settled
            if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break
        self._ended.put(None)
        if self._settler.is_alive():
            self._settler.join(timeout=5)

    def disable(self) -> None:
        """Receive nothing until `enable`, as a mapping updated with Enabled=false; returns once no
        receive is in flight. Running invocations go on."""
        self._enabled.clear()
        with self._receiving:
            pass

    def enable(self) -> None:
        self._enabled.set()

    def _receive_loop(self) -> None:
        while not self._stopping.is_set():
            if not self._enabled.wait(timeout=0.5) or not self._slots.acquire(timeout=0.5):
                continue
            try:
                with self._receiving:
                    ready = self._enabled.is_set() and not self._stopping.is_set()
                    delivered = ready and self._deliver_batch()
            except Exception as error:  # an AWS hiccup or a broken pool must not end the source; say it
                print(f"event source {self.function.name}: {type(error).__name__}: {error}", file=sys.stderr)
                self._slots.release()
                self._stopping.wait(1)
                continue
            if not delivered:
                self._slots.release()

    def _deliver_batch(self) -> bool:
        """Receive a batch and start its invocation, which keeps the slot; False when none came."""
        messages = _receive(self._sqs, self.queue_url, self.batch_size)
        if not messages:
            return False
        invocation = self.function.submit(sqs_event(messages, self.queue_arn, self._region))
        self.invocations += 1
        self.deliveries += len(messages)
        invocation.add_done_callback(functools.partial(self._ended_with, messages))
        return True

    def _ended_with(self, messages: list[dict[str, Any]], invocation: Future[Any]) -> None:
        self._ended.put((messages, invocation))

    def _settle_loop(self) -> None:
        while (entry := self._ended.get()) is not None:
            messages, invocation = entry
            try:
                failed = _failed_ids(messages, invocation.result)
                _delete_succeeded(self._sqs, self.queue_url, messages, failed)
            except Exception as error:  # the records reappear later, as after a failed delete in AWS
                print(f"event source {self.function.name}: {type(error).__name__}: {error}", file=sys.stderr)
            finally:
                self._slots.release()
