"""In-memory stand-ins for the outgoing webhooks' ports: the secrets rows, the queue, the receiver."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from imagegen.config import Settings
from imagegen.logic.webhook_sending import WebhookServices
from imagegen.models.webhooks import OwnerWebhookSecret, WebhookAnswer, WebhookDelivery

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


class FakeSecrets:
    def __init__(self) -> None:
        self.rows: dict[str, OwnerWebhookSecret] = {}
        self.gone: dict[tuple[str, str], int] = {}

    def get(self, owner: str) -> OwnerWebhookSecret | None:
        return self.rows.get(owner)

    def put(self, owner: str, stored: OwnerWebhookSecret, replacing: OwnerWebhookSecret | None) -> bool:
        current = self.rows.get(owner)
        if (current is None) != (replacing is None) or (
            current and replacing and current.secret != replacing.secret
        ):
            return False
        self.rows[owner] = stored
        return True

    def mark_gone(self, owner: str, url: str, expires_at: int) -> None:
        self.gone[(owner, url)] = expires_at

    def is_gone(self, owner: str, url: str, now: datetime) -> bool:
        return self.gone.get((owner, url), 0) > now.timestamp()


class FakeOutbox:
    def __init__(self) -> None:
        self.sent: list[tuple[list[WebhookDelivery], float]] = []
        self.dead: list[WebhookDelivery] = []

    def send(self, deliveries: list[WebhookDelivery], delay_seconds: float = 0) -> None:
        self.sent.append((list(deliveries), delay_seconds))

    def dead_letter(self, delivery: WebhookDelivery) -> None:
        self.dead.append(delivery)


@dataclass
class FakeReceiver:
    """Answers each POST with the next scripted status (None: no answer), and records what came."""

    script: list[int | None] = field(default_factory=lambda: [200])
    retry_after: str | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, url: str, address: Any, headers: dict[str, str], body: str) -> WebhookAnswer:
        self.calls.append({"url": url, "address": str(address), "headers": headers, "body": body})
        status = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return WebhookAnswer(status, self.retry_after, None if status else "ReadTimeoutError")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def public_dns(host: str) -> list[str]:
    return {"hooks.example.com": ["93.184.215.14"], "rebound.example.com": ["93.184.215.15"]}.get(host, [])


@dataclass
class FakeWebhookServices(WebhookServices):
    secrets: FakeSecrets
    outbox: FakeOutbox
    post: FakeReceiver
    clock: Clock = field(default_factory=Clock)


def make_webhook_services(receiver: FakeReceiver | None = None, **settings: Any) -> FakeWebhookServices:
    return FakeWebhookServices(
        settings=Settings(**settings),
        secrets=FakeSecrets(),
        outbox=FakeOutbox(),
        post=receiver or FakeReceiver(),
        resolve_host=public_dns,
        clock=Clock(),
    )
