"""Outgoing webhooks (issue 12, part 3): per-owner `whsec_` secrets, their rotation, and signing an event
into the Standard Webhooks headers and body with the `standardwebhooks` library. Pure: the clock and the
randomness are the caller's or the stdlib's `secrets`. logic.webhook_sending stores the secrets and signs
each attempt.

A delivery is signed when it is sent, not when the event happens: receivers refuse a webhook-timestamp
older than 5 minutes, and retries run for a day. The webhook-id stays the same across retries, so a
receiver can drop a delivery it already handled."""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from standardwebhooks import Webhook

from imagegen.models.webhooks import ITEM_EVENTS, SECRET_PREFIX, OwnerWebhookSecret, WebhookEvent

SECRET_BYTES = 32  # within the spec's 24-64, and the size of the HMAC-SHA256 output
ROTATION_GRACE = timedelta(hours=24)  # how long the previous secret still signs after a rotation


def new_webhook_secret() -> str:
    """A fresh `whsec_<base64>` secret from the operating system's randomness."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def rotate_secret(
    current: OwnerWebhookSecret | None, now: datetime, grace: timedelta = ROTATION_GRACE
) -> OwnerWebhookSecret:
    """The owner's first secret, or a new one that keeps the current one signing for `grace`."""
    if current is None:
        return OwnerWebhookSecret(secret=new_webhook_secret(), created_at=now)
    return OwnerWebhookSecret(
        secret=new_webhook_secret(),
        created_at=now,
        previous_secret=current.secret,
        previous_valid_until=now + grace,
    )


def signing_secrets(stored: OwnerWebhookSecret, now: datetime) -> list[str]:
    """The secrets a delivery sent at `now` is signed with: the current one, and the previous one
    during its grace period (the spec's space-separated signatures exist for this)."""
    keys = [stored.secret]
    if stored.previous_secret and stored.previous_valid_until and now < stored.previous_valid_until:
        keys.append(stored.previous_secret)
    return keys


def event_id(event: WebhookEvent) -> str:
    """The webhook-id: derived from what the event is about, so the same event queued twice (the
    queues deliver at least once) carries one id and receivers can deduplicate on it."""
    subject = f"{event.data.batch_id}:{event.type}"
    if event.type in ITEM_EVENTS and event.data.item is not None:
        subject += f":{event.data.item.index}"
    return "msg_" + hashlib.sha256(subject.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SignedDelivery:
    """What one attempt sends: these headers and exactly these body bytes (the signature covers them)."""

    headers: dict[str, str]
    body: str


def sign_event(event: WebhookEvent, keys: list[str], now: datetime) -> SignedDelivery:
    """The Standard Webhooks headers and JSON body of one delivery attempt made at `now` (aware)."""
    if not keys:
        raise ValueError("a delivery needs at least one secret")
    if now.tzinfo is None:
        raise ValueError("sign with an aware datetime: a naive one would be read as local time")
    seconds = math.floor(now.timestamp())
    # Webhook.sign replaces the tzinfo with UTC rather than converting: hand it a UTC instant.
    signed_at = datetime.fromtimestamp(seconds, UTC)
    message_id = event_id(event)
    body = event.model_dump_json()
    signatures = " ".join(Webhook(key).sign(message_id, signed_at, body) for key in keys)
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": signatures,
    }
    return SignedDelivery(headers=headers, body=body)
