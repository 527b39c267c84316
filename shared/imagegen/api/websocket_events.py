"""The WebSocket API's routes ($connect, $disconnect, subscribe, $default) as API Gateway invokes
the WebSocket function: the event's route key picks the use case, a message is the route's answer."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from imagegen.api.job_views import status_out
from imagegen.logic import websocket
from imagegen.logic.services import default_services
from imagegen.models.websocket import ErrorMessage, ProgressMessage


def _answer(message: BaseModel | None = None, status: int = 200) -> dict[str, Any]:
    answer: dict[str, Any] = {"statusCode": status}
    if message is not None:  # sent to the client: the subscribe and $default routes have route responses
        answer["body"] = message.model_dump_json(exclude_none=True)
    return answer


def _subscribe(connection_id: str, body: str | None, now: int) -> dict[str, Any]:
    outcome = websocket.subscribe(
        connection_id, body, websocket.default_connections(), default_services(), now
    )
    if isinstance(outcome, ErrorMessage):
        return _answer(outcome)
    status = status_out(outcome)
    snapshot = ProgressMessage(
        type="snapshot",
        batch_id=status.batch_id,
        state=status.state,
        counts=status.counts,
        percent=status.percent,
    )
    return _answer(snapshot)


def handle(event: dict[str, Any]) -> dict[str, Any]:
    """One WebSocket event; $connect runs after the ticket authorizer, whose context names the owner."""
    context = event["requestContext"]
    connection_id, route = context["connectionId"], context["routeKey"]
    now = int(time.time())
    if route == "$connect":
        owner = (context.get("authorizer") or {}).get("owner")
        if not owner:  # API Gateway runs the authorizer first: this is a deployment fault
            return _answer(status=403)
        websocket.connect(connection_id, owner, websocket.default_connections(), now)
        return _answer()
    if route == "$disconnect":
        websocket.disconnect(connection_id, websocket.default_connections())
        return _answer()
    if route == "subscribe":
        return _subscribe(connection_id, event.get("body"), now)
    return _answer(websocket.unknown_action())
