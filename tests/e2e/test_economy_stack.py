"""The economy function on the local stack: its schedule's timer and its queue's event source (issue 15).

One stack whose schedules fire every half second (LOCAL_SCHEDULE_SECONDS); about 8 s in all."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.conftest import Client, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def economy() -> Iterator[Client]:
    stack = start_stack(LOCAL_SCHEDULE_SECONDS="0.5")
    try:
        yield Client(stack)
    finally:
        if any(source.running for source in stack.schedule_sources):  # the last test stops it itself
            stack.stop()


def _wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds}s"
        time.sleep(0.05)


def test_the_schedule_invokes_the_economy_function_with_the_poll(economy: Client) -> None:
    (poll,) = economy.stack.schedule_sources
    assert poll.function.name == "EconomyFunction" and poll.event == {"action": "poll"}
    # Then it fires again and again (the first tick starts the function's container) and each poll
    # of a stack with no provider batch checks none
    _wait_for(lambda: poll.invocations >= 2 and poll.last_result is not None)
    assert poll.last_result == {"checked": 0}
    assert poll.failures == 0


def test_a_message_on_the_economy_queue_reaches_the_function_and_a_failure_comes_back(
    economy: Client,
) -> None:
    sqs = economy.aws("sqs")
    queue_url = economy.stack.resource("EconomyQueue")
    (source,) = [s for s in economy.stack.event_sources if s.function.name == "EconomyFunction"]
    assert source.batch_size == 1 and source.max_concurrency == 2
    # Given a visibility timeout of a second (the template's is 90 minutes), so a record the
    # function reports as failed is received again within the test. The source is paused meanwhile:
    # moto reads the timeout when a long poll begins, and the source is always in one.
    source.disable()
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "1"})
    source.enable()
    before = source.deliveries
    # When a message that is no economy message is sent
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"action": "no such action"}))
    # Then the function gets it, fails it, and SQS delivers it again: it was not deleted
    _wait_for(lambda: source.deliveries >= before + 2)


def test_stop_ends_the_timer_promptly_and_nothing_fires_after_it(economy: Client) -> None:
    (poll,) = economy.stack.schedule_sources
    assert poll.running
    economy.stack.stop()
    assert not poll.running
    fired = poll.invocations
    time.sleep(1.0)  # two periods
    assert poll.invocations == fired
