"""Signed outgoing webhooks on the local stack: the owner's secret over the API, a job's webhook_url
checked at creation, deliveries reaching a receiver on loopback through the delivery function, signed
so that the `standardwebhooks` library verifies them, and a batch's events fed to the webhook queue
by the events function from the jobs table's stream.

Most tests put delivery messages on the queue themselves, to script the receiver's answers. The
stack's retry waits are scaled down (5 s and 300 s become about 1 s each). Cost: one stack start and
about 10 s of deliveries."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from imagegen.logic.webhooks_out import event_id
from imagegen.models.responses import CountsOut
from imagegen.models.webhooks import WebhookDelivery, WebhookEvent
from tests.e2e.conftest import Client, start_stack
from tests.webhook_receiver import Receiver


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    stack = start_stack(WEBHOOK_RETRY_SCALE="0.002")
    try:
        yield Client(stack)
    finally:
        stack.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def delivery(url: str, owner: str = "alice") -> WebhookDelivery:
    counts = CountsOut(total=1, completed=1, failed=0, cancelled=0, pending=0)
    event = WebhookEvent.model_validate(
        {
            "type": "job.completed",
            "timestamp": datetime.now(UTC),
            "data": {"batch_id": uuid.uuid4().hex, "state": "completed", "counts": counts, "percent": 100},
        }
    )
    return WebhookDelivery(owner=owner, url=url, event=event)


def enqueue(client: Client, message: WebhookDelivery) -> None:
    client.aws("sqs").send_message(
        QueueUrl=client.stack.resource("WebhookQueue"), MessageBody=message.model_dump_json()
    )


def settled(client: Client, seconds: float = 20) -> None:
    """Wait until the webhook queue holds nothing: no message waiting, in flight or delayed."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        attributes = client.aws("sqs").get_queue_attributes(
            QueueUrl=client.stack.resource("WebhookQueue"), AttributeNames=names
        )["Attributes"]
        if not any(int(attributes[name]) for name in names):
            return
        time.sleep(0.1)
    raise AssertionError(f"the webhook queue still holds messages after {seconds}s")


def test_a_delivery_reaches_a_loopback_receiver_signed_with_the_owners_secret(
    client: Client, receiver: Receiver
) -> None:
    # Given the owner's secret, read over the API (made on first read, the same on the next)
    first = client.get("/api/webhooks/secret")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    secret = first.json()["secret"]
    assert secret.startswith("whsec_") and client.get("/api/webhooks/secret").json()["secret"] == secret
    # When a delivery is queued
    message = delivery(f"{receiver.url}/ok")
    enqueue(client, message)
    # Then the receiver gets it, and the standard library verifies it with that secret
    (got,) = receiver.wait_for("/ok", 1)
    body = Webhook(secret).verify(got.body, got.headers)
    assert body["data"]["batch_id"] == message.event.data.batch_id
    assert got.headers["webhook-id"] == event_id(message.event)
    assert got.headers["Host"] == receiver.url.removeprefix("http://")


def test_a_receiver_that_fails_twice_still_gets_the_event(client: Client, receiver: Receiver) -> None:
    receiver.answers["/flaky"] = [503, 500, 200]
    secret = client.get("/api/webhooks/secret", sub="bob").json()["secret"]
    enqueue(client, delivery(f"{receiver.url}/flaky", owner="bob"))
    attempts = receiver.wait_for("/flaky", 3)
    assert len({got.headers["webhook-id"] for got in attempts}) == 1  # one event, retried
    Webhook(secret).verify(attempts[-1].body, attempts[-1].headers)
    settled(client)
    assert len(receiver.at("/flaky")) == 3  # delivered: no fourth attempt


def test_a_redirect_is_never_followed(client: Client, receiver: Receiver) -> None:
    # Given receivers that answer 302 to the metadata address and to another path of the receiver
    receiver.answers["/to-metadata"] = [302]
    receiver.locations["/to-metadata"] = "http://169.254.169.254/latest/meta-data/"
    receiver.answers["/to-trap"] = [302]
    receiver.locations["/to-trap"] = f"{receiver.url}/trap"
    enqueue(client, delivery(f"{receiver.url}/to-metadata"))
    enqueue(client, delivery(f"{receiver.url}/to-trap"))
    receiver.wait_for("/to-metadata", 1)
    receiver.wait_for("/to-trap", 1)
    settled(client)
    # Then each was asked once, not retried, and the redirect's target got nothing
    assert len(receiver.at("/to-metadata")) == 1 and len(receiver.at("/to-trap")) == 1
    assert receiver.at("/trap") == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://169.254.169.254/latest/meta-data/", "https"),
        ("https://10.0.0.1/hook", "private"),
        ("https://[fd00::1]/hook", "private"),
    ],
)
def test_a_job_with_an_internal_webhook_url_is_refused_and_nothing_is_created(
    client: Client, url: str, reason: str
) -> None:
    owner = f"carol-{uuid.uuid4().hex[:8]}"
    answer = client.post(
        "/api/icons/generate/batch", {"categories": ["tools"], "webhook_url": url}, sub=owner
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request" and reason in answer.json()["message"]
    assert client.get("/api/icons/batches", sub=owner).json()["batches"] == []


def test_a_job_keeps_its_webhook_and_shows_it_without_a_secret(client: Client, receiver: Receiver) -> None:
    url = f"{receiver.url}/jobs?tenant=7"
    body = {
        "prompt": "a lighthouse",
        "post_id": "p1",
        "section_id": "s1",
        "webhook_url": url,
        "webhook_events": ["job.completed", "item.failed"],
    }
    accepted = client.post("/api/images/generate", body)
    assert accepted.status_code == 202, accepted.text
    status = client.get(accepted.json()["status_url"]).json()
    assert status["webhook"] == {"url": url, "events": ["job.completed", "item.failed"]}
    assert "whsec_" not in json.dumps(status)
    # And its end is delivered there, the only event it asked for that happened
    (end,) = receiver.wait_for("/jobs?tenant=7", 1)
    assert json.loads(end.body)["type"] == "job.completed"


def test_a_rotation_keeps_the_previous_secret_signing_for_a_day(client: Client, receiver: Receiver) -> None:
    before = client.get("/api/webhooks/secret", sub="dave").json()["secret"]
    rotated = client.post("/api/webhooks/secret/rotate", sub="dave")
    assert rotated.status_code == 200
    after = rotated.json()
    assert after["secret"] != before and after["previous_valid_until"] is not None
    assert client.get("/api/webhooks/secret", sub="dave").json()["secret"] == after["secret"]
    enqueue(client, delivery(f"{receiver.url}/rotated", owner="dave"))
    (got,) = receiver.wait_for("/rotated", 1)
    for secret in (before, after["secret"]):
        Webhook(secret).verify(got.body, got.headers)


def test_a_batch_with_a_webhook_url_reports_each_item_and_its_end_signed(
    client: Client, receiver: Receiver
) -> None:
    # Given dave's secret and a batch of three whose webhook asks for every event
    secret = client.get("/api/webhooks/secret", sub="dave").json()["secret"]
    body = {
        "categories": ["camping", "garden", "music"],
        "size": "256x256",
        "webhook_url": f"{receiver.url}/dave",
    }
    accepted = client.post("/api/icons/generate/batch", body, sub="dave")
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    # When the workers draw it (the events function reads the jobs table's stream and queues deliveries)
    client.wait_until_done(accepted.headers["Location"], sub="dave")
    got = receiver.wait_for("/dave", 4)
    # Then each item's completion and the job's end arrive once each, verified by the standard library
    events = [Webhook(secret).verify(delivery.body, delivery.headers) for delivery in got]
    assert sorted((e["type"], (e["data"].get("item") or {}).get("index", -1)) for e in events) == [
        ("item.completed", 0),
        ("item.completed", 1),
        ("item.completed", 2),
        ("job.completed", -1),
    ]
    assert {e["data"]["batch_id"] for e in events} == {batch_id}
    end = next(e for e in events if e["type"] == "job.completed")
    assert end["data"]["state"] == "completed" and end["data"]["percent"] == 100
    assert all(
        e["data"]["item"]["image_url"].startswith("/api/images/") for e in events if e["data"].get("item")
    )
    assert len({delivery.headers["webhook-id"] for delivery in got}) == 4
    settled(client)
    assert len(receiver.at("/dave")) == 4  # no repeat
