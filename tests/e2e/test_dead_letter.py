"""A worker that keeps failing: retried by SQS, then dead-lettered, and its item says why."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Client, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def broken() -> Iterator[Client]:
    # Every write to the images bucket fails: the worker raises on each delivery.
    stack = start_stack(IMAGES_BUCKET="imagegen-bucket-that-does-not-exist")
    try:
        yield Client(stack)
    finally:
        stack.stop()


def test_failing_item_is_retried_five_times_then_lands_in_the_dlq(broken: Client) -> None:
    accepted = broken.post("/api/icons/generate", {"category": "tools"})
    assert accepted.status_code == 202
    status = broken.wait_until_done(accepted.headers["location"], seconds=120)
    assert status["state"] == "failed" and status["counts"]["failed"] == 1
    item = broken.get(status["result_url"]).json()["items"][0]
    assert item["error"] == "gave up after 5 attempts (last: NoSuchBucket)"
    assert item["image_url"] is None
    deadline_checks = 50
    while broken.queue_depth("GenerateDeadLetterQueue") == 0 and deadline_checks:
        time.sleep(0.2)
        deadline_checks -= 1
    assert broken.queue_depth("GenerateDeadLetterQueue") == 1
    assert broken.queue_depth("GenerateQueue") == 0


def test_the_receive_count_is_one_setting_for_the_worker_and_the_queue() -> None:
    # Given WORKER_MAX_RECEIVES=3: the template's WorkerMaxReceives feeds the queue's maxReceiveCount too
    stack = start_stack(IMAGES_BUCKET="imagegen-bucket-that-does-not-exist", WORKER_MAX_RECEIVES="3")
    try:
        broken = Client(stack)
        accepted = broken.post("/api/icons/generate", {"category": "tools"})
        status = broken.wait_until_done(accepted.headers["location"], seconds=120)
        # Then the item gives up on the third delivery, and the queue dead-letters it at the next receive
        item = broken.get(status["result_url"]).json()["items"][0]
        assert item["error"] == "gave up after 3 attempts (last: NoSuchBucket)"
        deadline_checks = 50
        while broken.queue_depth("GenerateDeadLetterQueue") == 0 and deadline_checks:
            time.sleep(0.2)
            deadline_checks -= 1
        assert (broken.queue_depth("GenerateDeadLetterQueue"), broken.queue_depth("GenerateQueue")) == (1, 0)
        assert stack.deliveries == 3
    finally:
        stack.stop()
