"""Signed outgoing webhooks (issue 12): secrets, rotation, event bodies, and signatures a Standard
Webhooks receiver (the `standardwebhooks` library itself) accepts or refuses."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from imagegen.logic.webhooks_out import (
    event_id,
    new_webhook_secret,
    rotate_secret,
    sign_event,
    signing_secrets,
)
from imagegen.models.domain import ItemState, JobState
from imagegen.models.responses import CountsOut
from imagegen.models.webhooks import OwnerWebhookSecret, WebhookEvent

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
COUNTS = CountsOut(total=3, completed=1, failed=0, cancelled=0, pending=2)


def item_completed(index: int = 0, batch_id: str = "b-1") -> WebhookEvent:
    return WebhookEvent.model_validate(
        {
            "type": "item.completed",
            "timestamp": T0,
            "data": {
                "batch_id": batch_id,
                "state": "running",
                "counts": COUNTS,
                "percent": 33.3,
                "item": {
                    "index": index,
                    "key": "images/alice/b-1/cat.png",
                    "state": "completed",
                    "image_url": "/api/images/images/alice/b-1/cat.png",
                },
            },
        }
    )


def job_event(kind: str, state: str) -> WebhookEvent:
    data = {"batch_id": "b-1", "state": state, "counts": COUNTS, "percent": 100}
    return WebhookEvent.model_validate({"type": kind, "timestamp": T0, "data": data})


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    first, second = new_webhook_secret(), new_webhook_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second
    assert OwnerWebhookSecret(secret=first, created_at=T0).secret == first


@pytest.mark.parametrize(
    "secret",
    ["", "whsec_", "not-whsec", "whsec_!!!!", "whsec_" + base64.b64encode(b"short").decode()],
)
def test_a_stored_secret_must_be_whsec_base64_of_24_to_64_bytes(secret: str) -> None:
    with pytest.raises(ValidationError):
        OwnerWebhookSecret(secret=secret, created_at=T0)


def test_rotation_keeps_the_previous_secret_signing_for_the_grace_period_only() -> None:
    # Given an owner's first secret, rotated an hour later
    first = rotate_secret(None, T0)
    assert first.previous_secret is None
    rotated = rotate_secret(first, T0 + timedelta(hours=1), grace=timedelta(hours=24))
    assert rotated.secret != first.secret
    assert rotated.previous_secret == first.secret
    # Then both sign until the grace period ends, and only the new one after
    assert signing_secrets(rotated, T0 + timedelta(hours=2)) == [rotated.secret, first.secret]
    assert signing_secrets(rotated, T0 + timedelta(hours=25)) == [rotated.secret]
    assert signing_secrets(first, T0) == [first.secret]


def verify(secret: str, body: str, headers: dict[str, str]) -> Any:
    return Webhook(secret).verify(body, headers)


def test_a_receiver_verifies_a_signed_event_with_the_standardwebhooks_library() -> None:
    # Given an owner's secret and an event, signed now (the library checks against the real clock)
    secret = new_webhook_secret()
    now = datetime.now(UTC)
    delivery = sign_event(item_completed(), [secret], now)
    # Then the three headers are there and the receiver gets the event back
    assert delivery.headers["webhook-id"].startswith("msg_")
    assert delivery.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert delivery.headers["webhook-signature"].startswith("v1,")
    assert delivery.headers["content-type"] == "application/json"
    payload = verify(secret, delivery.body, delivery.headers)
    assert payload["type"] == "item.completed"
    assert payload["data"]["item"]["image_url"] == "/api/images/images/alice/b-1/cat.png"
    assert payload["data"]["counts"]["completed"] == 1


def test_a_timestamp_in_another_zone_is_signed_as_the_same_instant() -> None:
    secret = new_webhook_secret()
    now = datetime.now(timezone(timedelta(hours=-5)))
    delivery = sign_event(item_completed(), [secret], now)
    assert delivery.headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert verify(secret, delivery.body, delivery.headers)["type"] == "item.completed"
    with pytest.raises(ValueError, match="aware"):
        sign_event(item_completed(), [secret], datetime(2026, 11, 22, 3, 0))


def test_a_tampered_body_a_wrong_secret_or_an_old_timestamp_is_refused() -> None:
    secret = new_webhook_secret()
    delivery = sign_event(item_completed(), [secret], datetime.now(UTC))
    tampered = delivery.body.replace('"completed":1', '"completed":3')
    assert tampered != delivery.body
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify(secret, tampered, delivery.headers)
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify(new_webhook_secret(), delivery.body, delivery.headers)
    # A delivery signed 10 minutes ago (a replay) is past the receivers' 5-minute tolerance
    old = sign_event(item_completed(), [secret], datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(secret, old.body, old.headers)
    # and moving the timestamp header forward breaks the signature
    moved = {**old.headers, "webhook-timestamp": delivery.headers["webhook-timestamp"]}
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify(secret, old.body, moved)


def test_during_a_rotation_receivers_with_either_secret_verify() -> None:
    rotated = rotate_secret(rotate_secret(None, T0), datetime.now(UTC))
    now = datetime.now(UTC)
    delivery = sign_event(job_event("job.completed", "completed"), signing_secrets(rotated, now), now)
    assert len(delivery.headers["webhook-signature"].split(" ")) == 2
    assert rotated.previous_secret is not None
    for secret in (rotated.secret, rotated.previous_secret):
        assert verify(secret, delivery.body, delivery.headers)["type"] == "job.completed"
    with pytest.raises(ValueError, match="at least one secret"):
        sign_event(item_completed(), [], now)


def test_the_webhook_id_is_the_same_for_the_same_event_and_differs_between_events() -> None:
    assert event_id(item_completed(0)) == event_id(item_completed(0))
    ids = {
        event_id(item_completed(0)),
        event_id(item_completed(1)),
        event_id(item_completed(0, batch_id="b-2")),
        event_id(job_event("job.completed", "completed")),
        event_id(job_event("job.cancelled", "cancelled")),
    }
    assert len(ids) == 5
    # and retries, signed later, keep it
    later = sign_event(item_completed(), [new_webhook_secret()], T0 + timedelta(hours=5))
    assert later.headers["webhook-id"] == event_id(item_completed())


def test_the_body_is_the_event_and_nothing_more() -> None:
    body = json.loads(
        sign_event(job_event("job.completed", "partially_failed"), [new_webhook_secret()], T0).body
    )
    assert set(body) == {"type", "timestamp", "data"}
    assert set(body["data"]) == {"batch_id", "state", "counts", "percent", "item"}
    assert body["data"]["item"] is None
    assert body["timestamp"] == "2026-11-22T03:00:00Z"


@pytest.mark.parametrize(
    ("kind", "state"),
    [("job.completed", "completed"), ("job.completed", "failed"), ("job.cancelled", "cancelled")],
)
def test_job_events_carry_a_finished_job_state(kind: str, state: str) -> None:
    assert job_event(kind, state).data.state == JobState(state)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "job.completed"}, "carries no item"),
        ({"type": "item.failed"}, "needs an item in state failed"),
        ({"data": {"item": None}}, "needs an item in state completed"),
        ({"data": {"item": {"image_url": "data:image/png;base64,iVBORw0KGgo="}}}, "not contain it"),
        ({"data": {"item": {"png": "iVBORw0KGgo="}}}, "Extra inputs"),
        ({"data": {"percent": 101}}, "less than or equal to 100"),
        ({"type": "item.started"}, "Input should be"),
    ],
)
def test_events_that_do_not_hold_together_or_carry_image_bytes_are_refused(
    change: dict[str, Any], reason: str
) -> None:
    document = item_completed().model_dump(mode="json")
    for field, value in change.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                if isinstance(inner_value, dict):
                    document[field][inner].update(inner_value)
                else:
                    document[field][inner] = inner_value
        else:
            document[field] = value
    with pytest.raises(ValidationError, match=reason):
        WebhookEvent.model_validate(document)


@pytest.mark.parametrize(("kind", "state"), [("job.completed", "running"), ("job.cancelled", "completed")])
def test_a_job_event_with_the_wrong_job_state_is_refused(kind: str, state: str) -> None:
    with pytest.raises(ValidationError):
        job_event(kind, state)


def test_an_item_failed_event_carries_the_error() -> None:
    document = item_completed().model_dump(mode="json")
    document["type"] = "item.failed"
    document["data"]["item"].update(state="failed", image_url=None, error="the provider refused the prompt")
    event = WebhookEvent.model_validate(document)
    assert event.data.item is not None
    assert event.data.item.state is ItemState.FAILED
    assert event.data.item.error == "the provider refused the prompt"
