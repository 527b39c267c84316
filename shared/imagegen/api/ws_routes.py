"""`POST /api/ws/ticket`: the short-lived ticket a WebSocket client connects with (live progress)."""

from __future__ import annotations

import time
from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from imagegen.api.http import caller_of, documented, json_response
from imagegen.config import get_settings
from imagegen.logic.websocket import default_connections, mint_ticket
from imagegen.models.websocket import TicketOut

router = Router()


@router.post(
    "/api/ws/ticket",
    summary="A single-use ticket (60 s) to open the live-progress WebSocket",
    description=(
        "Connect to `url` (the WebSocket API with the ticket in its query string) within `expires_in`"
        ' seconds, then send `{"action": "subscribe", "batch_id": "..."}` for each of your batches.'
    ),
    tags=["live progress"],
    responses=documented(
        ok={
            201: {
                "description": "The ticket and the URL to connect to (the ticket in its query string)",
                "content": {content_types.APPLICATION_JSON: {"model": TicketOut}},
            }
        }
    ),
)
def ws_ticket() -> Response[TicketOut]:
    settings = get_settings()
    if not settings.websocket_url:
        raise RuntimeError("WEBSOCKET_URL is not set")  # a deployment fault: answered 500
    ticket = mint_ticket(
        caller_of(router).sub, settings.websocket_url, default_connections(), int(time.time())
    )
    return json_response(HTTPStatus.CREATED, ticket)
