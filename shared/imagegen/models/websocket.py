"""Live progress over WebSocket (issue 12, part 4): the ticket, the client's messages and ours.

A browser cannot set headers on a WebSocket handshake, so the client first mints a short-lived,
single-use ticket with its bearer token and puts it in the connect URL's query string.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from imagegen.models.responses import CountsOut

TICKET_TTL_SECONDS = 60
# API Gateway closes any WebSocket connection after two hours: rows live no longer than that.
CONNECTION_TTL_SECONDS = 2 * 3600
MAX_SUBSCRIPTIONS = 100  # jobs one connection may follow
MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket frame limit
MAX_ERROR_CHARS = 1000  # an item's error as sent: a message stays far below the frame limit
# The ticket's alphabet and length (secrets.token_urlsafe(32)): anything else is refused unread.
TICKET_PATTERN = r"^[A-Za-z0-9_-]{43}$"
# A job id as the API issues it (32 hex digits); bounded here, looked up by owner in logic.
BatchId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class TicketOut(BaseModel):
    """What `POST /api/ws/ticket` answers: connect to `url` (the ticket is in its query) within
    `expires_in` seconds; the ticket works once."""

    ticket: str
    url: str
    expires_in: int


class SubscribeIn(BaseModel):
    """The client's `{"action": "subscribe", "batch_id": "..."}`."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["subscribe"]
    batch_id: BatchId


class ItemOut(BaseModel):
    index: int
    state: str
    image_url: str | None = None
    error: str | None = None


class ProgressMessage(BaseModel):
    """One change of a subscribed job (`type` is a ProgressEvent's), or its state when subscribing
    (`snapshot`). Where the image is, never its bytes."""

    type: str
    batch_id: str
    state: str
    counts: CountsOut
    percent: float
    at: datetime | None = None
    item: ItemOut | None = None


class ErrorMessage(BaseModel):
    type: Literal["error"] = "error"
    error: str
    message: str


class Subscriber(BaseModel):
    """A connection following a job, and the owner it was opened by."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    owner: str
