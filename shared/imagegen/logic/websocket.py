"""Live progress over WebSocket: tickets, connections and subscriptions (issue 12, part 4).

The stores are injected (a ConnectionsTable in AWS, a fake in unit tests); times are unix seconds.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from functools import cache
from typing import Protocol
from urllib.parse import urlencode

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from imagegen.errors import JobNotFoundError
from imagegen.logic.job_reads import owned_job
from imagegen.logic.services import Services
from imagegen.models.domain import Caller, Job
from imagegen.models.messages import readable
from imagegen.models.websocket import (
    CONNECTION_TTL_SECONDS,
    MAX_SUBSCRIPTIONS,
    TICKET_PATTERN,
    TICKET_TTL_SECONDS,
    ErrorMessage,
    SubscribeIn,
    Subscriber,
    TicketOut,
)

logger = Logger(child=True)


class ConnectionsStore(Protocol):
    def put_ticket(self, ticket_hash: str, owner: str, expires_at: int) -> None: ...
    def take_ticket(self, ticket_hash: str, now: int) -> str | None: ...
    def put_connection(self, connection_id: str, owner: str, expires_at: int) -> None: ...
    def connection(self, connection_id: str, now: int) -> tuple[str, int] | None: ...
    def subscriptions(self, connection_id: str) -> int: ...
    def subscribe(self, connection_id: str, job_id: str, owner: str, expires_at: int) -> None: ...
    def subscribers(self, job_id: str, now: int) -> list[Subscriber]: ...
    def drop_connection(self, connection_id: str) -> None: ...


@cache
def default_connections() -> ConnectionsStore:
    """The connections table named by CONNECTIONS_TABLE, built once per process."""
    from imagegen.config import get_settings
    from imagegen.dal.connections_table import ConnectionsTable

    return ConnectionsTable(get_settings().connections_table)


def ticket_hash(ticket: str) -> str:
    """What the table keeps of a ticket: a leaked table row cannot be replayed as a ticket."""
    return hashlib.sha256(ticket.encode()).hexdigest()


def mint_ticket(owner: str, websocket_url: str, store: ConnectionsStore, now: int) -> TicketOut:
    """A single-use ticket for `owner`, valid TICKET_TTL_SECONDS, and the URL that carries it."""
    ticket = secrets.token_urlsafe(32)
    store.put_ticket(ticket_hash(ticket), owner, now + TICKET_TTL_SECONDS)
    return TicketOut(
        ticket=ticket,
        url=f"{websocket_url}?{urlencode({'ticket': ticket})}",
        expires_in=TICKET_TTL_SECONDS,
    )


def redeem_ticket(ticket: str | None, store: ConnectionsStore, now: int) -> str | None:
    """The ticket's owner, spending it; None for a missing, malformed, unknown, used or expired one."""
    if not ticket or not re.fullmatch(TICKET_PATTERN, ticket):
        return None
    return store.take_ticket(ticket_hash(ticket), now)


def connect(connection_id: str, owner: str, store: ConnectionsStore, now: int) -> None:
    store.put_connection(connection_id, owner, now + CONNECTION_TTL_SECONDS)
    logger.info("websocket connected", connection_id=connection_id)


def disconnect(connection_id: str, store: ConnectionsStore) -> None:
    store.drop_connection(connection_id)
    logger.info("websocket disconnected", connection_id=connection_id)


def _error(code: str, message: str) -> ErrorMessage:
    return ErrorMessage(error=code, message=message)


def subscribe(
    connection_id: str, body: str | None, store: ConnectionsStore, services: Services, now: int
) -> Job | ErrorMessage:
    """Follow one of the owner's jobs (the job, for its snapshot), or an error message: another
    owner's job and an unknown one answer alike."""
    try:
        request = SubscribeIn.model_validate_json(body or "")
    except ValidationError as invalid:
        return _error("invalid_request", readable(invalid.errors()))
    opened = store.connection(connection_id, now)
    if opened is None:  # the row expired or was dropped: API Gateway will close it soon
        return _error("not_connected", "this connection is closed; connect again with a new ticket")
    owner, expires_at = opened
    try:
        job = owned_job(request.batch_id, Caller(sub=owner, scopes=frozenset()), services)
    except JobNotFoundError as missing:
        return _error(missing.code, str(missing))
    if store.subscriptions(connection_id) >= MAX_SUBSCRIPTIONS:
        return _error("too_many_subscriptions", f"a connection follows at most {MAX_SUBSCRIPTIONS} batches")
    store.subscribe(connection_id, job.job_id, owner, expires_at)
    return job


def unknown_action() -> ErrorMessage:
    return _error("unknown_action", 'send {"action": "subscribe", "batch_id": "..."}')
