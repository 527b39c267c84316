"""Push ProgressEvents to their jobs' WebSocket subscribers (issue 12, part 4).

`websocket_publisher()` is the entry point the events function calls with each batch of events from
the jobs table's stream; `notify` does the work with injected stores, for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from aws_lambda_powertools import Logger

from imagegen.config import Settings, get_settings
from imagegen.errors import ConnectionGoneError
from imagegen.logic.websocket import ConnectionsStore
from imagegen.models.progress import ProgressEvent
from imagegen.models.websocket import MAX_ERROR_CHARS, MAX_MESSAGE_BYTES, ItemOut, ProgressMessage

logger = Logger(child=True)
Publisher = Callable[[list[ProgressEvent]], None]


class Poster(Protocol):
    def post(self, connection_id: str, data: bytes) -> None:
        """Deliver `data` to the client, or raise ConnectionGoneError (410)."""


def message_of(event: ProgressEvent) -> bytes:
    """The JSON a subscriber receives for one event: where the image is, never its bytes."""
    item = None
    if event.item is not None:
        error = event.item.error[:MAX_ERROR_CHARS] if event.item.error else None
        item = ItemOut(
            index=event.item.index, state=event.item.state.value, image_url=event.item.image_url, error=error
        )
    message = ProgressMessage(
        type=event.type.value,
        batch_id=event.job_id,
        state=event.state.value,
        counts=event.counts,
        percent=event.percent,
        at=event.at,
        item=item,
    )
    data = message.model_dump_json(exclude_none=True).encode()
    if len(data) > MAX_MESSAGE_BYTES:  # only an image URL of ~128 KB could: send the counts alone
        data = message.model_copy(update={"item": None}).model_dump_json(exclude_none=True).encode()
    return data


def notify(events: list[ProgressEvent], store: ConnectionsStore, poster: Poster, now: int) -> int:
    """Post each event, in the order given, to its job's subscribers (only the job owner's
    connections); a gone client (410) is dropped with its subscriptions. Returns messages delivered."""
    delivered = 0
    gone: set[str] = set()
    subscribers_of: dict[str, list[str]] = {}
    for event in events:
        if event.job_id not in subscribers_of:
            subscribers_of[event.job_id] = [
                sub.connection_id for sub in store.subscribers(event.job_id, now) if sub.owner == event.owner
            ]
        data = message_of(event)
        for connection_id in subscribers_of[event.job_id]:
            if connection_id in gone:
                continue
            try:
                poster.post(connection_id, data)
            except ConnectionGoneError:
                gone.add(connection_id)
                store.drop_connection(connection_id)
                logger.info("websocket client gone", connection_id=connection_id)
                continue
            delivered += 1
    return delivered


def websocket_publisher(settings: Settings | None = None) -> Publisher:
    """`notify` on the connections table (CONNECTIONS_TABLE) through the WebSocket API's management
    endpoint (WEBSOCKET_MANAGEMENT_URL). Without that URL there is no WebSocket API: it does nothing."""
    from imagegen.dal.connections_table import ConnectionsTable
    from imagegen.dal.ws_management import ManagementApi

    settings = settings or get_settings()
    if not settings.websocket_management_url:
        logger.warning("WEBSOCKET_MANAGEMENT_URL is not set: progress is not pushed to WebSocket clients")
        return lambda events: None
    store = ConnectionsTable(settings.connections_table)
    poster = ManagementApi(settings.websocket_management_url)

    def publish(events: list[ProgressEvent]) -> None:
        notify(events, store, poster, int(time.time()))

    return publish
