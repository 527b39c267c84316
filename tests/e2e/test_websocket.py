"""Live progress over WebSocket on the local stack: tickets, $connect, subscribe and the notifier
posting through the emulated management API (issue 12, part 4)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from imagegen.config import settings_from
from imagegen.dal.clients import reset_clients
from imagegen.local.aws import FAKE_CREDENTIALS
from imagegen.logic.websocket import ticket_hash
from imagegen.logic.ws_notify import websocket_publisher
from imagegen.models.domain import ItemState, JobState
from imagegen.models.progress import ProgressEvent, ProgressType
from imagegen.models.responses import CountsOut
from imagegen.models.webhooks import WebhookItem
from tests.e2e.conftest import Client, worker_disabled

RECV_SECONDS = 10


@pytest.fixture(scope="module")
def batch(client: Client) -> str:
    """One of alice's batches (two offline icons), done: the events the stack's own events function
    pushes for it are over (its stream is read every 100 ms), so the notifier tests below see only
    the events they publish themselves."""
    answer = client.post("/api/icons/generate/batch", {"categories": ["camping", "garden"]})
    assert answer.status_code == 202, answer.text
    client.wait_until_done(answer.headers["Location"])
    time.sleep(1)
    return str(answer.json()["batch_id"])


@pytest.fixture
def publish(client: Client, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The notifier as the events function builds it, run here against the stack's table and
    management endpoint (the functions' own settings)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", client.stack.aws.endpoint)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    reset_clients()
    env = client.stack.function_env("WebSocketFunction")
    yield websocket_publisher(settings_from(env))
    reset_clients()


def ws_url(client: Client) -> str:
    assert client.stack.websocket is not None  # the template declares a WebSocket API
    return client.stack.websocket.url


def ticket(client: Client, sub: str = "alice") -> dict[str, Any]:
    answer = client.post("/api/ws/ticket", sub=sub)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def receive(socket: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(socket.recv(timeout=RECV_SECONDS)))


def opened(url: str) -> ClientConnection:
    return connect(url, open_timeout=RECV_SECONDS, legacy=True)  # closed by each test


def subscribed(client: Client, batch_id: str, sub: str = "alice") -> tuple[ClientConnection, dict[str, Any]]:
    return subscribed_with(ticket(client, sub)["url"], batch_id)


def subscribed_with(url: str, batch_id: str) -> tuple[ClientConnection, dict[str, Any]]:
    socket = opened(url)
    socket.send(json.dumps({"action": "subscribe", "batch_id": batch_id}))
    return socket, receive(socket)


def refusal(url: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        opened(url).close()
    return refused.value.response.status_code


def event(
    batch_id: str, kind: ProgressType, index: int | None, state: ItemState | None, done: int
) -> ProgressEvent:
    item = None
    if index is not None and state is not None:
        url = f"/api/images/icons/x/{index}.png" if state == ItemState.COMPLETED else None
        item = WebhookItem(index=index, key=f"icons/x/{index}.png", state=state, image_url=url)
    return ProgressEvent(
        type=kind,
        job_id=batch_id,
        owner="alice",
        at=datetime.now(UTC),
        state=JobState.COMPLETED if kind == ProgressType.JOB_COMPLETED else JobState.RUNNING,
        counts=CountsOut(total=2, completed=done, failed=0, cancelled=0, pending=2 - done),
        percent=50.0 * done,
        item=item,
    )


def test_a_ticket_opens_a_connection_that_gets_its_batchs_snapshot(client: Client, batch: str) -> None:
    # Given a ticket minted with alice's token
    minted = ticket(client)
    assert minted["expires_in"] == 60 and minted["url"].startswith(ws_url(client))
    # When she connects with it and subscribes to her batch
    socket, snapshot = subscribed_with(minted["url"], batch)
    socket.close()
    # Then the first message is the batch's state
    assert snapshot["type"] == "snapshot" and snapshot["batch_id"] == batch
    assert snapshot["counts"]["total"] == 2 and 0 <= snapshot["percent"] <= 100
    assert snapshot["state"] == "completed" and snapshot["percent"] == 100


def test_a_connection_without_a_valid_ticket_is_refused(client: Client) -> None:
    url = ws_url(client)
    # No ticket: API Gateway's 401 (no identity source); a wrong one: the authorizer's 403
    assert refusal(url) == 401
    assert refusal(f"{url}?ticket={'A' * 43}") == 403
    # A ticket works once
    minted = ticket(client)
    opened(minted["url"]).close()
    assert refusal(minted["url"]) == 403
    # An expired ticket (its row outlived its minute: TTL deletes late)
    expired = "B" * 43
    client.aws("dynamodb").put_item(
        TableName=client.stack.resource("ConnectionsTable"),
        Item={
            "pk": {"S": f"ticket#{ticket_hash(expired)}"},
            "sk": {"S": "ticket"},
            "owner": {"S": "alice"},
            "expires_at": {"N": str(int(time.time()) - 1)},
        },
    )
    assert refusal(f"{url}?ticket={expired}") == 403


def test_another_owners_batch_answers_like_an_unknown_one(client: Client, batch: str) -> None:
    # Given bob's connection
    socket = opened(ticket(client, "bob")["url"])
    # When he subscribes to alice's batch, and to a batch that does not exist
    socket.send(json.dumps({"action": "subscribe", "batch_id": batch}))
    theirs = receive(socket)
    unknown_id = "0" * 32
    socket.send(json.dumps({"action": "subscribe", "batch_id": unknown_id}))
    unknown = receive(socket)
    socket.send("hello")
    other = receive(socket)
    socket.close()
    # Then both are the same error, naming only the id he sent
    assert theirs["type"] == "error" and theirs["error"] == "not_found"
    assert theirs["message"].replace(batch, "ID") == unknown["message"].replace(unknown_id, "ID")
    assert other["error"] == "unknown_action"


def test_the_notifier_delivers_events_in_order_and_drops_gone_clients(
    client: Client, batch: str, publish: Any
) -> None:
    # Given alice subscribed, and a subscription left by a client whose $disconnect never ran
    socket, _ = subscribed(client, batch)
    table = client.stack.resource("ConnectionsTable")
    dynamodb = client.aws("dynamodb")
    gone = "R0NFdmFuaXNoZWQ="
    for sk, extra in (("conn", {}), (f"sub#{batch}", {"job_id": {"S": batch}, "connection_id": {"S": gone}})):
        row = {"pk": {"S": f"conn#{gone}"}, "sk": {"S": sk}, "owner": {"S": "alice"}}
        dynamodb.put_item(
            TableName=table, Item={**row, **extra, "expires_at": {"N": str(int(time.time()) + 600)}}
        )
    events = [
        event(batch, ProgressType.ITEM_RUNNING, 0, ItemState.RUNNING, 0),
        event(batch, ProgressType.ITEM_COMPLETED, 0, ItemState.COMPLETED, 1),
        event(batch, ProgressType.ITEM_RUNNING, 1, ItemState.RUNNING, 1),
        event(batch, ProgressType.ITEM_COMPLETED, 1, ItemState.COMPLETED, 2),
        event(batch, ProgressType.JOB_COMPLETED, None, None, 2),
    ]
    # When the notifier publishes them
    publish(events)
    # Then she gets each, in order, with the image's URL and no bytes
    received = [receive(socket) for _ in events]
    socket.close()
    assert [(m["type"], m.get("item", {}).get("index")) for m in received] == [
        ("item.running", 0),
        ("item.completed", 0),
        ("item.running", 1),
        ("item.completed", 1),
        ("job.completed", None),
    ]
    assert received[1]["item"]["image_url"] == "/api/images/icons/x/0.png"
    assert received[-1]["state"] == "completed" and received[-1]["percent"] == 100
    # And the gone client (410) has no rows left
    left = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"conn#{gone}"}},
    )
    assert left["Count"] == 0


def test_a_closed_client_is_forgotten(client: Client, batch: str, publish: Any) -> None:
    # Given alice subscribed, then gone
    socket, _ = subscribed(client, batch)
    table = client.stack.resource("ConnectionsTable")
    dynamodb = client.aws("dynamodb")

    def subscribers() -> int:
        answer = dynamodb.query(
            TableName=table,
            IndexName="job-index",
            KeyConditionExpression="job_id = :job",
            ExpressionAttributeValues={":job": {"S": batch}},
        )
        return int(answer["Count"])

    before = subscribers()
    socket.close()
    # When $disconnect has run (or, had it not, the next post's 410): slow on busy cores, waited for
    deadline = time.monotonic() + 3 * RECV_SECONDS
    while subscribers() >= before and time.monotonic() < deadline:
        publish([event(batch, ProgressType.ITEM_RUNNING, 0, ItemState.RUNNING, 0)])
        time.sleep(0.1)
    # Then its subscription is gone
    assert subscribers() == before - 1


def test_a_subscriber_sees_every_items_progress_and_the_jobs_end(client: Client) -> None:
    # Given alice subscribed to a batch of six before any of its items started
    categories = ["camping", "garden", "kitchen", "music", "travel", "weather"]
    with worker_disabled(client.stack):
        answer = client.post("/api/icons/generate/batch", {"categories": categories, "size": "256x256"})
        assert answer.status_code == 202, answer.text
        batch_id = answer.json()["batch_id"]
        socket, snapshot = subscribed(client, batch_id)
    assert (snapshot["state"], snapshot["counts"]["pending"]) == ("queued", 6)
    # When the workers draw it, the messages the events function pushes from the jobs table's stream
    messages: list[dict[str, Any]] = []
    while not messages or messages[-1]["type"] != "job.completed":
        messages.append(receive(socket))
    socket.close()
    # Then each item is seen starting, then done, with its image's URL (never its bytes)
    for index in range(6):
        seen = [m for m in messages if m.get("item", {}).get("index") == index]
        assert [m["type"] for m in seen] == ["item.running", "item.completed"], (index, seen)
        assert seen[-1]["item"]["image_url"].startswith("/api/images/")
    # And the job's end comes last, once, with the counts the status route answers
    status = client.get(f"/api/jobs/{batch_id}").json()
    assert [m["type"] for m in messages].count("job.completed") == 1
    assert (messages[-1]["state"], messages[-1]["counts"], messages[-1]["percent"]) == (
        "completed",
        status["counts"],
        100,
    )
    done = [m["counts"]["completed"] for m in messages if m["type"] == "item.completed"]
    assert done == sorted(done) and done[-1] == 6
    assert all(len(json.dumps(m)) < 4096 for m in messages)
