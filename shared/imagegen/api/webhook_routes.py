"""GET /api/webhooks/secret (made on first read) and POST /api/webhooks/secret/rotate: the secret
every webhook of the caller's jobs is signed with (Standard Webhooks)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from imagegen.api.http import caller_of, documented, json_response
from imagegen.logic.webhook_sending import read_secret, rotate_owner_secret, webhook_services
from imagegen.models.responses import WebhookSecretOut
from imagegen.models.webhooks import OwnerWebhookSecret

router = Router()
_SECRET = documented()
_NO_STORE = {"Cache-Control": "no-store"}  # a secret: no cache on the way may keep it


def secret_out(stored: OwnerWebhookSecret) -> WebhookSecretOut:
    return WebhookSecretOut(
        secret=stored.secret, created_at=stored.created_at, previous_valid_until=stored.previous_valid_until
    )


@router.get(
    "/api/webhooks/secret",
    summary="Your webhook signing secret (whsec_...), made on first read",
    tags=["webhooks"],
    responses=_SECRET,
)
def webhook_secret() -> Response[WebhookSecretOut]:
    return json_response(200, secret_out(read_secret(caller_of(router), webhook_services())), _NO_STORE)


@router.post(
    "/api/webhooks/secret/rotate",
    summary="A new webhook secret; the previous one keeps signing for 24 hours",
    tags=["webhooks"],
    responses=_SECRET,
)
def rotate_webhook_secret() -> Response[WebhookSecretOut]:
    rotated = rotate_owner_secret(caller_of(router), webhook_services())
    return json_response(200, secret_out(rotated), _NO_STORE)
