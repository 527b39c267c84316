"""The emulated SQS event source on a moto server: bounded concurrency, deletes, retries, stop."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imagegen.local.aws import EmulatedAws
from imagegen.local.lambdas import LambdaFunction
from imagegen.local.poller import SqsEventSource, sqs_client

ECHO = Path(__file__).parents[1] / "data" / "functions" / "echo"
VISIBILITY_SECONDS = 4


def wait_until(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds} s")
        time.sleep(0.1)


class Harness:
    """A fresh queue, the echo function and an event source between them."""

    def __init__(self, moto: EmulatedAws, log: Path) -> None:
        self.sqs = sqs_client(moto.endpoint)
        self.queue_url = self.sqs.create_queue(
            QueueName=f"events-{uuid.uuid4().hex[:12]}",
            Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)},
        )["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.log = log
        self.function: LambdaFunction | None = None
        self.source: SqsEventSource | None = None

    def start(self, containers: int, batch_size: int, max_concurrency: int) -> SqsEventSource:
        self.function = LambdaFunction("echo", ECHO, {"ECHO_LOG": str(self.log)}, 30, containers)
        for warming in self.function.warm(max_concurrency):
            warming.result(timeout=60)
        self.source = SqsEventSource(
            self.function, self.sqs, self.queue_url, self.queue_arn, batch_size, max_concurrency
        ).start()
        return self.source

    def send(self, *bodies: dict[str, Any]) -> list[str]:
        return [
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))["MessageId"]
            for body in bodies
        ]

    def invocations(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def depth(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def succeeded(self) -> Counter[str]:
        return Counter(
            message_id
            for call in self.invocations()
            if not call["raised"]
            for message_id in call["ids"]
            if message_id not in call["failed"]
        )

    def close(self) -> None:
        if self.source:
            self.source.stop(grace_seconds=1)
        if self.function:
            self.function.close(grace_seconds=1)


@pytest.fixture
def harness(moto: EmulatedAws, tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(moto, tmp_path / "invocations.jsonl")
    yield harness
    harness.close()


def most_at_once(calls: list[dict[str, Any]]) -> int:
    """The largest number of invocations whose [started, ended] spans overlap."""
    edges = sorted([(c["started"], 1) for c in calls] + [(c["ended"], -1) for c in calls])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_every_message_is_delivered_at_most_max_concurrency_at_once_and_deleted_once_handled(
    harness: Harness,
) -> None:
    # Given a function with four containers behind a source allowed two invocations at once
    source = harness.start(containers=4, batch_size=3, max_concurrency=2)
    # When twelve messages arrive, one of which its handler reports as failed the first time
    ids = harness.send(*[{"sleep": 0.3} for _ in range(11)], {"sleep": 0.3, "fail_first": True})
    wait_until(lambda: set(harness.succeeded()) == set(ids) and harness.depth() == 0)
    # Then each was handled once, the failed one once more after its visibility timeout
    calls = harness.invocations()
    assert harness.succeeded() == Counter(ids)
    assert most_at_once(calls) <= 2
    assert Counter(message_id for call in calls for message_id in call["ids"])[ids[-1]] == 2
    assert all(len(call["ids"]) <= 3 for call in calls)
    assert (source.deliveries, source.invocations) == (13, len(calls))
    # And stopping an idle source is quick
    began = time.monotonic()
    source.stop()
    assert time.monotonic() - began < 15


def test_an_invocation_that_raises_leaves_its_whole_batch_to_be_delivered_again(harness: Harness) -> None:
    ids = harness.send({"sleep": 0}, {"raise_first": True}, {"sleep": 0})
    source = harness.start(containers=1, batch_size=10, max_concurrency=1)
    wait_until(lambda: set(harness.succeeded()) == set(ids) and harness.depth() == 0)
    calls = harness.invocations()
    raised = next(call for call in calls if call["raised"])
    later = [call for call in calls if call["started"] > raised["ended"]]
    assert set(raised["ids"]) <= {message_id for call in later for message_id in call["ids"]}
    assert harness.succeeded() == Counter(ids)
    assert source.deliveries == sum(len(call["ids"]) for call in calls)


def test_stop_abandons_a_running_invocation_quickly_and_leaves_its_message_in_the_queue(
    harness: Harness,
) -> None:
    # Given an invocation that would run for a minute
    source = harness.start(containers=1, batch_size=1, max_concurrency=1)
    harness.send({"sleep": 60})
    wait_until(lambda: source.invocations == 1)
    # When the source and the function stop, each with a one-second grace
    began = time.monotonic()
    source.stop(grace_seconds=1)
    assert harness.function is not None
    harness.function.close(grace_seconds=1)
    # Then both return long before the invocation would have, and the message was not deleted
    assert time.monotonic() - began < 20
    assert harness.invocations() == []
    assert harness.depth() == 1


def test_a_disabled_source_receives_nothing_until_it_is_enabled(harness: Harness) -> None:
    # Given a running source, disabled (as UpdateEventSourceMapping Enabled=false)
    source = harness.start(containers=1, batch_size=10, max_concurrency=1)
    source.disable()
    # When messages arrive while it is disabled
    ids = harness.send({"sleep": 0}, {"sleep": 0})
    time.sleep(3)  # three of the source's one-second polls
    # Then none is delivered, and they wait in the queue
    assert harness.invocations() == [] and harness.depth() == 2
    # And once enabled, each is delivered and deleted
    source.enable()
    wait_until(lambda: set(harness.succeeded()) == set(ids) and harness.depth() == 0)
