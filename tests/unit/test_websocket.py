"""Live progress over WebSocket: tickets, subscriptions and the notifier, with in-memory fakes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from imagegen.errors import ConnectionGoneError
from imagegen.logic import websocket
from imagegen.logic.ws_notify import message_of, notify
from imagegen.models.domain import Counts, ItemState, Job, JobState
from imagegen.models.progress import ProgressEvent, ProgressType
from imagegen.models.responses import CountsOut
from imagegen.models.webhooks import WebhookItem
from imagegen.models.websocket import MAX_MESSAGE_BYTES, MAX_SUBSCRIPTIONS, ErrorMessage, Subscriber
from tests.unit.fakes import FakeServices, make_services

NOW = 1_800_000_000
ALICE_JOB, BOB_JOB = "a" * 32, "b" * 32


class FakeConnections:
    """The connections table in memory, keyed as the real one (dal/connections_table.py)."""

    def __init__(self) -> None:
        self.tickets: dict[str, tuple[str, int]] = {}
        self.connections: dict[str, tuple[str, int]] = {}
        self.subs: dict[tuple[str, str], tuple[str, int]] = {}  # (connection, job) -> owner, expires_at
        self.dropped: list[str] = []

    def put_ticket(self, ticket_hash: str, owner: str, expires_at: int) -> None:
        assert ticket_hash not in self.tickets
        self.tickets[ticket_hash] = (owner, expires_at)

    def take_ticket(self, ticket_hash: str, now: int) -> str | None:
        found = self.tickets.get(ticket_hash)
        if found is None or found[1] <= now:
            return None
        del self.tickets[ticket_hash]
        return found[0]

    def put_connection(self, connection_id: str, owner: str, expires_at: int) -> None:
        self.connections[connection_id] = (owner, expires_at)

    def connection(self, connection_id: str, now: int) -> tuple[str, int] | None:
        found = self.connections.get(connection_id)
        return found if found and found[1] > now else None

    def subscriptions(self, connection_id: str) -> int:
        return sum(1 for conn, _ in self.subs if conn == connection_id)

    def subscribe(self, connection_id: str, job_id: str, owner: str, expires_at: int) -> None:
        self.subs[(connection_id, job_id)] = (owner, expires_at)

    def subscribers(self, job_id: str, now: int) -> list[Subscriber]:
        return [
            Subscriber(connection_id=conn, owner=owner)
            for (conn, job), (owner, expires_at) in sorted(self.subs.items())
            if job == job_id and expires_at > now
        ]

    def drop_connection(self, connection_id: str) -> None:
        self.dropped.append(connection_id)
        self.connections.pop(connection_id, None)
        self.subs = {key: value for key, value in self.subs.items() if key[0] != connection_id}


class FakePoster:
    def __init__(self, gone: set[str] | None = None) -> None:
        self.gone = gone or set()
        self.posts: list[tuple[str, bytes]] = []

    def post(self, connection_id: str, data: bytes) -> None:
        if connection_id in self.gone:
            raise ConnectionGoneError(connection_id)
        self.posts.append((connection_id, data))


def progress(
    job_id: str, kind: ProgressType, index: int | None = None, owner: str = "alice"
) -> ProgressEvent:
    item = None
    if index is not None:
        item = WebhookItem(
            index=index, key=f"k/{index}.png", state=ItemState.COMPLETED, image_url=f"/i/{index}"
        )
    return ProgressEvent(
        type=kind,
        job_id=job_id,
        owner=owner,
        at=datetime(2027, 1, 1, tzinfo=UTC),
        state=JobState.RUNNING,
        counts=CountsOut(total=3, completed=1, failed=0, cancelled=0, pending=2),
        percent=33.3,
        item=item,
    )


# -- tickets ---------------------------------------------------------------------------------
def test_a_ticket_is_stored_hashed_and_works_once() -> None:
    store = FakeConnections()
    minted = websocket.mint_ticket("alice", "wss://ws.example/live", store, NOW)
    assert minted.expires_in == 60 and minted.url == f"wss://ws.example/live?ticket={minted.ticket}"
    assert minted.ticket not in str(store.tickets)  # only its hash is kept
    assert websocket.redeem_ticket(minted.ticket, store, NOW + 59) == "alice"
    assert websocket.redeem_ticket(minted.ticket, store, NOW + 59) is None


def test_an_expired_or_malformed_ticket_is_refused() -> None:
    store = FakeConnections()
    minted = websocket.mint_ticket("alice", "wss://ws.example/live", store, NOW)
    assert websocket.redeem_ticket(minted.ticket, store, NOW + 60) is None
    for malformed in (None, "", "short", minted.ticket + "x", "ö" * 43):
        assert websocket.redeem_ticket(malformed, store, NOW) is None


def test_two_tickets_differ() -> None:
    store = FakeConnections()
    tickets = {websocket.mint_ticket("alice", "wss://x", store, NOW).ticket for _ in range(20)}
    assert len(tickets) == 20


# -- subscriptions ---------------------------------------------------------------------------
def _services_with_jobs() -> FakeServices:
    services = make_services()
    moment = datetime(2027, 1, 1, tzinfo=UTC)
    for job_id, owner in ((ALICE_JOB, "alice"), (BOB_JOB, "bob")):
        job = Job(
            job_id=job_id,
            owner=owner,
            kind="batch",
            state=JobState.RUNNING,
            counts=Counts(total=4, completed=1),
            created_at=moment,
            updated_at=moment,
        )
        services.jobs.create(job, [], NOW + 3600)
    return services


def test_subscribing_to_an_own_job_records_it_and_another_owners_looks_unknown() -> None:
    store, services = FakeConnections(), _services_with_jobs()
    websocket.connect("c1", "alice", store, NOW)
    own = websocket.subscribe(
        "c1", f'{{"action": "subscribe", "batch_id": "{ALICE_JOB}"}}', store, services, NOW
    )
    assert isinstance(own, Job) and own.job_id == ALICE_JOB
    assert store.subscribers(ALICE_JOB, NOW) == [Subscriber(connection_id="c1", owner="alice")]
    theirs = websocket.subscribe(
        "c1", f'{{"action": "subscribe", "batch_id": "{BOB_JOB}"}}', store, services, NOW
    )
    unknown = websocket.subscribe(
        "c1", f'{{"action": "subscribe", "batch_id": "{"c" * 32}"}}', store, services, NOW
    )
    assert isinstance(theirs, ErrorMessage) and isinstance(unknown, ErrorMessage)
    assert theirs.error == unknown.error == "not_found"
    assert theirs.message.replace(BOB_JOB, "ID") == unknown.message.replace("c" * 32, "ID")
    assert store.subscribers(BOB_JOB, NOW) == []


@pytest.mark.parametrize(
    "body", ["", "not json", '{"action": "subscribe"}', '{"action": "subscribe", "batch_id": "../x"}']
)
def test_a_malformed_subscribe_is_an_error_message(body: str) -> None:
    store, services = FakeConnections(), _services_with_jobs()
    websocket.connect("c1", "alice", store, NOW)
    answer = websocket.subscribe("c1", body, store, services, NOW)
    assert isinstance(answer, ErrorMessage) and answer.error == "invalid_request"


def test_a_connection_follows_a_bounded_number_of_jobs() -> None:
    store, services = FakeConnections(), _services_with_jobs()
    websocket.connect("c1", "alice", store, NOW)
    for n in range(MAX_SUBSCRIPTIONS):
        store.subscribe("c1", f"job{n}", "alice", NOW + 100)
    answer = websocket.subscribe(
        "c1", f'{{"action": "subscribe", "batch_id": "{ALICE_JOB}"}}', store, services, NOW
    )
    assert isinstance(answer, ErrorMessage) and answer.error == "too_many_subscriptions"


def test_a_closed_connection_cannot_subscribe() -> None:
    store, services = FakeConnections(), _services_with_jobs()
    answer = websocket.subscribe(
        "gone", f'{{"action": "subscribe", "batch_id": "{ALICE_JOB}"}}', store, services, NOW
    )
    assert isinstance(answer, ErrorMessage) and answer.error == "not_connected"


# -- the notifier ----------------------------------------------------------------------------
def test_notify_posts_in_the_order_given_to_each_subscriber() -> None:
    store, poster = FakeConnections(), FakePoster()
    store.subscribe("c1", ALICE_JOB, "alice", NOW + 100)
    store.subscribe("c2", ALICE_JOB, "alice", NOW + 100)
    events = [
        progress(ALICE_JOB, ProgressType.ITEM_RUNNING, 0),
        progress(ALICE_JOB, ProgressType.ITEM_COMPLETED, 0),
        progress(ALICE_JOB, ProgressType.JOB_COMPLETED),
    ]
    assert notify(events, store, poster, NOW) == 6
    for connection in ("c1", "c2"):
        sent = [data for conn, data in poster.posts if conn == connection]
        assert sent == [message_of(event) for event in events]


def test_a_gone_client_is_dropped_and_the_others_still_get_everything() -> None:
    store, poster = FakeConnections(), FakePoster(gone={"c1"})
    store.put_connection("c1", "alice", NOW + 100)
    store.subscribe("c1", ALICE_JOB, "alice", NOW + 100)
    store.subscribe("c2", ALICE_JOB, "alice", NOW + 100)
    events = [progress(ALICE_JOB, ProgressType.ITEM_COMPLETED, n) for n in range(3)]
    assert notify(events, store, poster, NOW) == 3
    assert store.dropped == ["c1"]  # once, at the first post
    assert store.subscribers(ALICE_JOB, NOW) == [Subscriber(connection_id="c2", owner="alice")]
    assert [conn for conn, _ in poster.posts] == ["c2", "c2", "c2"]


def test_only_the_jobs_owners_connections_get_its_events() -> None:
    store, poster = FakeConnections(), FakePoster()
    store.subscribe("mallory", ALICE_JOB, "mallory", NOW + 100)  # a row no subscribe would write
    store.subscribe("expired", ALICE_JOB, "alice", NOW - 1)
    store.subscribe("c2", BOB_JOB, "bob", NOW + 100)
    notify([progress(ALICE_JOB, ProgressType.ITEM_COMPLETED, 0)], store, poster, NOW)
    assert poster.posts == []


def test_a_message_carries_where_the_image_is_and_stays_under_the_frame_limit() -> None:
    event = progress(ALICE_JOB, ProgressType.ITEM_FAILED, 2)
    failed = event.model_copy(update={"item": event.item.model_copy(update={"error": "x" * 500_000})})  # type: ignore[union-attr]
    data = message_of(failed)
    assert len(data) <= MAX_MESSAGE_BYTES
    message = json.loads(data)
    assert message["type"] == "item.failed" and message["batch_id"] == ALICE_JOB
    assert message["item"] == {"index": 2, "state": "completed", "image_url": "/i/2", "error": "x" * 1000}
    assert set(message) == {"type", "batch_id", "state", "counts", "percent", "at", "item"}
