"""Outgoing webhooks (issue 12, part 3): the owner's signing secret (read, created on first use,
rotated) and one delivery attempt per WebhookQueue message.

An attempt checks the URL again (a name may now resolve somewhere else), connects to the address it
checked, signs with the owner's secrets of this moment (webhook-id stays the event's id on every
retry) and follows logic.webhook_delivery's schedule: a retry is a new message, delayed, the attempt
counted in it. Nothing a receiver does can make an attempt raise: only AWS errors do, and then SQS
delivers the same message again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Protocol
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger

from imagegen.config import Settings, get_settings
from imagegen.errors import InvalidRequestError
from imagegen.logic.webhook_delivery import AttemptOutcome, NextStep, after_attempt
from imagegen.logic.webhook_urls import IPAddress, Resolver, check_webhook_url, resolve_with_dns
from imagegen.logic.webhooks_out import event_id, rotate_secret, sign_event, signing_secrets
from imagegen.models.domain import Caller
from imagegen.models.webhooks import OwnerWebhookSecret, WebhookAnswer, WebhookDelivery

logger = Logger(child=True)

GONE_FOR = timedelta(days=30)  # an endpoint that answered 410 gets no events for this long
_WRITE_TRIES = 5


class SecretStore(Protocol):
    def get(self, owner: str) -> OwnerWebhookSecret | None: ...
    def put(self, owner: str, stored: OwnerWebhookSecret, replacing: OwnerWebhookSecret | None) -> bool: ...
    def mark_gone(self, owner: str, url: str, expires_at: int) -> None: ...
    def is_gone(self, owner: str, url: str, now: datetime) -> bool: ...


class DeliveryOutbox(Protocol):
    def send(self, deliveries: list[WebhookDelivery], delay_seconds: float = 0) -> None: ...
    def dead_letter(self, delivery: WebhookDelivery) -> None: ...


Poster = Callable[[str, IPAddress, dict[str, str], str], WebhookAnswer]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class WebhookServices:
    settings: Settings
    secrets: SecretStore
    outbox: DeliveryOutbox
    post: Poster
    resolve_host: Resolver = resolve_with_dns
    clock: Callable[[], datetime] = _utc_now


@cache
def webhook_services() -> WebhookServices:
    """The real dependencies, built once per process."""
    from imagegen.dal.events_table import WebhookSecrets
    from imagegen.dal.webhook_http import post_webhook
    from imagegen.dal.webhook_queue import WebhookQueue

    settings = get_settings()
    return WebhookServices(
        settings=settings,
        secrets=WebhookSecrets(settings.events_table),
        outbox=WebhookQueue(settings.webhook_queue_url, settings.webhook_dlq_url),
        post=post_webhook,
    )


def owner_secret(owner: str, services: WebhookServices) -> OwnerWebhookSecret:
    """The owner's secret, created on first use (two first uses at once agree on one)."""
    for _ in range(_WRITE_TRIES):
        stored = services.secrets.get(owner)
        if stored is not None:
            return stored
        created = rotate_secret(None, services.clock())
        if services.secrets.put(owner, created, replacing=None):
            return created
    raise RuntimeError("the webhook secret kept changing while it was read")


def read_secret(caller: Caller, services: WebhookServices) -> OwnerWebhookSecret:
    return owner_secret(caller.sub, services)


def rotate_owner_secret(caller: Caller, services: WebhookServices) -> OwnerWebhookSecret:
    """A new secret; the one it replaces keeps signing (beside it) for webhooks_out.ROTATION_GRACE."""
    for _ in range(_WRITE_TRIES):
        current = owner_secret(caller.sub, services)
        rotated = rotate_secret(current, services.clock())
        if services.secrets.put(caller.sub, rotated, replacing=current):
            logger.info("webhook secret rotated", owner=caller.sub)
            return rotated
    raise RuntimeError("the webhook secret kept changing while it was rotated")


class _NoAnswer(Exception):
    """The URL's name did not resolve: like a receiver that did not answer, worth a retry."""


def _addresses(url: str, services: WebhookServices) -> list[IPAddress]:
    def resolve(host: str) -> list[str]:
        try:
            return services.resolve_host(host)
        except OSError as error:
            raise _NoAnswer(type(error).__name__) from error

    return check_webhook_url(url, resolve, services.settings.webhook_allow_loopback)


def deliver(delivery: WebhookDelivery, services: WebhookServices) -> AttemptOutcome | None:
    """Make the attempt `delivery` stands for, and queue what follows; the attempt's outcome, or None
    when it was not made (not due yet, or the endpoint is gone)."""
    now = services.clock()
    log: dict[str, Any] = {
        "webhook_id": event_id(delivery.event),
        "batch_id": delivery.event.data.batch_id,
        "event_type": delivery.event.type.value,
        "attempt": delivery.attempt,
        "host": urlsplit(delivery.url).hostname,  # never the whole URL: its query may hold a token
    }
    if delivery.due_at is not None and delivery.due_at > now:  # a wait longer than SQS's delay
        services.outbox.send([delivery], (delivery.due_at - now).total_seconds())
        return None
    if services.secrets.is_gone(delivery.owner, delivery.url, now):
        logger.info("webhook endpoint gone: event dropped", **log)
        return None
    try:
        addresses = _addresses(delivery.url, services)
    except InvalidRequestError as refused:
        logger.warning("webhook refused before connecting", reason=str(refused), **log)
        return AttemptOutcome.GIVE_UP
    except _NoAnswer as unresolved:
        answer = WebhookAnswer(None, problem=f"name did not resolve ({unresolved})")
    else:
        keys = signing_secrets(owner_secret(delivery.owner, services), now)
        signed = sign_event(delivery.event, keys, now)
        answer = services.post(delivery.url, addresses[0], signed.headers, signed.body)
    step = after_attempt(delivery.attempt, answer.status, answer.retry_after, now)
    _follow(step, delivery, services, now)
    logger.info(
        "webhook attempt", outcome=step.outcome.value, status=answer.status, problem=answer.problem, **log
    )
    return step.outcome


def _follow(step: NextStep, delivery: WebhookDelivery, services: WebhookServices, now: datetime) -> None:
    if step.outcome is AttemptOutcome.RETRY and step.delay is not None:
        delay = step.delay * services.settings.webhook_retry_scale
        retry = delivery.model_copy(
            update={"attempt": delivery.attempt + 1, "due_at": now + timedelta(seconds=delay)}
        )
        services.outbox.send([retry], delay)
    elif step.outcome is AttemptOutcome.EXHAUSTED:
        services.outbox.dead_letter(delivery)
    elif step.outcome is AttemptOutcome.DISABLE_ENDPOINT:
        services.secrets.mark_gone(delivery.owner, delivery.url, int((now + GONE_FOR).timestamp()))
