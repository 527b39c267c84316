"""Outgoing webhooks against moto: the secrets rows and the queues held to the unit tests' fakes, and
AWS mode (no WEBHOOK_ALLOW_LOOPBACK) refusing a name that resolves to loopback, at creation and at
send time, before any connection."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from imagegen.dal.events_table import WebhookSecrets
from imagegen.dal.webhook_queue import WebhookQueue
from imagegen.local.lambdas import LocalContext, load_handler
from imagegen.local.poller import poll_once
from imagegen.logic.webhook_sending import webhook_services
from imagegen.logic.webhooks_out import rotate_secret
from imagegen.models.responses import CountsOut
from imagegen.models.webhooks import WebhookDelivery, WebhookEvent
from tests.integration.conftest import Deployed, forget_caches
from tests.unit.webhook_fakes import FakeSecrets
from tests.webhook_receiver import Receiver

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


@pytest.fixture
def webhooks(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    """The deployed resources, with the delivery function's settings as the template gives them."""
    monkeypatch.setenv("EVENTS_TABLE", deployed.name("EventsTable"))
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", deployed.name("WebhookQueue"))
    monkeypatch.setenv("WEBHOOK_DLQ_URL", deployed.name("WebhookDeadLetterQueue"))
    forget_caches()
    webhook_services.cache_clear()
    yield deployed
    webhook_services.cache_clear()


def delivery(url: str) -> WebhookDelivery:
    counts = CountsOut(total=1, completed=0, failed=0, cancelled=1, pending=0)
    event = WebhookEvent.model_validate(
        {
            "type": "job.cancelled",
            "timestamp": T0,
            "data": {"batch_id": "b-1", "state": "cancelled", "counts": counts, "percent": 100},
        }
    )
    return WebhookDelivery(owner="alice", url=url, event=event)


def test_secret_rows_and_queues_behave_as_the_unit_tests_fakes_do(webhooks: Deployed) -> None:
    # Each write of a secret row holds only over what its writer read, on moto and on the fake alike
    for secrets in (WebhookSecrets(webhooks.name("EventsTable")), FakeSecrets()):
        first = rotate_secret(None, T0)
        assert secrets.get("alice") is None
        assert secrets.put("alice", first, replacing=None) is True
        assert secrets.put("alice", rotate_secret(None, T0), replacing=None) is False  # a second first read
        rotated = rotate_secret(first, T0 + timedelta(minutes=1))
        assert secrets.put("alice", rotated, replacing=rotate_secret(None, T0)) is False  # a stale read
        assert secrets.put("alice", rotated, replacing=first) is True
        assert secrets.get("alice") == rotated and rotated.previous_secret == first.secret
        assert secrets.get("bob") is None
        secrets.mark_gone("alice", "https://a.example/h", int((T0 + timedelta(days=1)).timestamp()))
        assert secrets.is_gone("alice", "https://a.example/h", T0) is True
        assert secrets.is_gone("alice", "https://a.example/h", T0 + timedelta(days=2)) is False  # expired
        assert secrets.is_gone("bob", "https://a.example/h", T0) is False
    # Deliveries go in batches of ten; a dead-lettered one lands on the DLQ
    queue = WebhookQueue(webhooks.name("WebhookQueue"), webhooks.name("WebhookDeadLetterQueue"))
    queue.send([delivery(f"https://a.example/{n}") for n in range(12)])
    queue.dead_letter(delivery("https://a.example/dead"))
    assert webhooks.queue_depth("WebhookQueue") == 12
    (dead,) = boto3.client("sqs").receive_message(QueueUrl=webhooks.name("WebhookDeadLetterQueue"))[
        "Messages"
    ]
    assert WebhookDelivery.model_validate_json(dead["Body"]).url == "https://a.example/dead"


def _record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": "r",
        "body": body,
        "attributes": {},
        "eventSource": "aws:sqs",
    }


def test_aws_mode_refuses_loopback_at_creation_and_at_send_time_before_any_connection(
    webhooks: Deployed,
) -> None:
    assert "WEBHOOK_ALLOW_LOOPBACK" not in os.environ
    # A job whose webhook_url names a host that resolves to loopback is refused, nothing created
    body = {"categories": ["tools"], "webhook_url": "https://localhost/hook"}
    status, _, answer = webhooks.call("batch", "POST", "/api/icons/generate/batch", body=body)
    assert status == 400 and "loopback" in answer["message"]
    assert webhooks.table_rows() == 0 and webhooks.queue_depth() == 0
    # Messages to a loopback receiver, by name (https) and by address (http), are refused when sent
    receiver = Receiver().start()
    try:
        port = receiver.server.server_address[1]
        queue = WebhookQueue(webhooks.name("WebhookQueue"))
        queue.send([delivery(f"https://localhost:{port}/by-name"), delivery(f"{receiver.url}/by-address")])
        handler = load_handler(webhooks.template.code_dir("DeliveryFunction"))
        arn = webhooks.template.physical["WebhookQueue"]["Arn"]
        sqs = boto3.client("sqs")
        received = poll_once(
            sqs, handler, "delivery", webhooks.name("WebhookQueue"), arn, "us-east-1", 10, 60
        )
        assert received == 2
        assert receiver.received == []  # no connection was made
        assert webhooks.queue_depth("WebhookQueue") == 0  # and no retry queued
        assert webhooks.queue_depth("WebhookDeadLetterQueue") == 0
    finally:
        receiver.stop()
    # A record that is not a delivery fails alone; the batch's others are handled
    refused = delivery("https://10.0.0.1/hook").model_dump_json()
    event = {"Records": [_record("m-1", refused), _record("m-2", "{}")]}
    assert handler(event, LocalContext("delivery", 60)) == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
