"""OpenAI's webhooks in: a verified `batch.*` event for one of our provider batches starts its collect.

OpenAI signs with Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature; a whsec_ secret,
EVENTS.md). The `standardwebhooks` library verifies the signature and the 5-minute timestamp window,
so the API function needs no SDK. The answer is quick (OpenAI retries slow or failed deliveries): the
collect itself runs in the economy function. A delivery sent twice, or one racing the scheduled poll,
only sends a second collect message, which stores nothing twice (logic.economy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache

from aws_lambda_powertools import Logger
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from imagegen.config import Settings
from imagegen.errors import WebhookRejectedError
from imagegen.logic.services import Services
from imagegen.models.economy import CollectMessage, ProviderHookOut

logger = Logger(child=True)
BATCH_EVENTS = frozenset({"batch.completed", "batch.failed", "batch.expired", "batch.cancelled"})


@cache
def _secret_at(arn: str) -> str:
    from imagegen.dal.secrets import get_secret

    return get_secret(arn)


def webhook_secret(settings: Settings) -> str | None:
    """OPENAI_WEBHOOK_SECRET, else the secret named by OPENAI_WEBHOOK_SECRET_ARN; None: not set up."""
    if settings.openai_webhook_secret is not None:
        return settings.openai_webhook_secret.get_secret_value()
    if settings.openai_webhook_secret_arn:
        return _secret_at(settings.openai_webhook_secret_arn)
    return None


def receive_openai_webhook(headers: Mapping[str, str], body: bytes, services: Services) -> ProviderHookOut:
    secret = webhook_secret(services.settings)
    if not secret:
        raise WebhookRejectedError("OpenAI webhooks are not set up here (OPENAI_WEBHOOK_SECRET)")
    try:
        Webhook(secret).verify(body, dict(headers))
    except WebhookVerificationError as error:  # its message names the check, never the secret
        raise WebhookRejectedError(f"the OpenAI webhook failed verification: {error}") from None
    try:
        event = json.loads(body)
        kind, batch_id = event.get("type"), (event.get("data") or {}).get("id")
    except (ValueError, AttributeError):
        raise WebhookRejectedError("the OpenAI webhook's body is not an event") from None
    if kind not in BATCH_EVENTS or not isinstance(batch_id, str):
        return ProviderHookOut(outcome="ignored")
    if services.jobs.get_provider_batch(batch_id) is None or services.economy_queue is None:
        logger.info("webhook for a batch that is not ours", batch_id=batch_id, type=kind)
        return ProviderHookOut(outcome="ignored", batch_id=batch_id)
    services.economy_queue.send(CollectMessage(batch_id=batch_id))
    logger.info("provider batch ended; collecting", batch_id=batch_id, type=kind)
    return ProviderHookOut(outcome="collecting", batch_id=batch_id)
