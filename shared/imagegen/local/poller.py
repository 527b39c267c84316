"""The SQS event source mapping, emulated: pollers that call the worker with SQS-shaped events.

moto runs no Lambdas without Docker (and with use_docker=false its mapping deletes messages
unprocessed), so each poller receives, invokes the worker handler in its own process, and deletes
only the records the handler did not report as failed, as the AWS mapping does with
ReportBatchItemFailures. Failed records reappear after their visibility timeout, and SQS moves
them to the dead-letter queue after maxReceiveCount receives.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import sys
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import boto3

from imagegen.local.lambdas import LocalContext, load_handler


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
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


def _poll(
    function_name: str,
    code_dir: str,
    env: dict[str, str],
    queue_url: str,
    queue_arn: str,
    batch_size: int,
    timeout: int,
    stop: Event,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()  # noqa: TID251 - a function sees exactly its configured environment
    os.environ.update(env)  # noqa: TID251 - the emulated Lambda runtime sets the function's env
    handler = load_handler(Path(code_dir))
    sqs = boto3.session.Session().client("sqs")
    region = sqs.meta.region_name
    while not stop.is_set():
        try:
            poll_once(sqs, handler, function_name, queue_url, queue_arn, region, batch_size, timeout)
        except Exception as error:  # an AWS hiccup must not kill the poller; say it and go on
            print(f"poller: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            stop.wait(1)


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
    """Receive one batch, run the worker on it, delete what succeeded; the number received."""
    answer = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=batch_size,
        WaitTimeSeconds=1,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages = answer.get("Messages", [])
    if not messages:
        return 0
    try:
        result = handler(sqs_event(messages, queue_arn, region), LocalContext(function_name, timeout))
        failed = {failure["itemIdentifier"] for failure in (result or {}).get("batchItemFailures", [])}
    except Exception:  # a function error: Lambda retries the whole batch
        failed = {message["MessageId"] for message in messages}
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
        )
    return len(messages)


class QueuePollers:
    """`count` poller processes feeding one queue to one function."""

    def __init__(self, count: int, **poll_args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._processes = [
            context.Process(
                target=_poll, kwargs={**poll_args, "stop": self._stop}, daemon=True, name=f"poller-{n}"
            )
            for n in range(count)
        ]

    def start(self) -> None:
        for process in self._processes:
            process.start()

    def stop(self) -> None:
        self._stop.set()
        for process in self._processes:
            process.join(timeout=15)
            if process.is_alive():
                process.terminate()
