"""The connections table on moto and its in-memory fake (tests/unit/test_websocket.py) behave alike."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from imagegen.dal.connections_table import ConnectionsTable
from imagegen.logic.websocket import ConnectionsStore
from imagegen.models.websocket import Subscriber
from tests.integration.conftest import Deployed
from tests.unit.test_websocket import FakeConnections

NOW = 1_800_000_000


def scenario(store: ConnectionsStore) -> list[Any]:
    """Every call of the store's protocol, with the answers a caller sees."""
    seen: list[Any] = []
    store.put_ticket("h1", "alice", NOW + 60)
    store.put_ticket("h2", "alice", NOW - 1)
    seen += [store.take_ticket("h1", NOW), store.take_ticket("h1", NOW), store.take_ticket("h2", NOW)]
    seen.append(store.take_ticket("never", NOW))
    store.put_connection("c1", "alice", NOW + 7200)
    store.put_connection("c2", "alice", NOW + 7200)
    store.put_connection("old", "alice", NOW - 1)
    seen += [store.connection("c1", NOW), store.connection("old", NOW), store.connection("none", NOW)]
    store.subscribe("c1", "job1", "alice", NOW + 7200)
    store.subscribe("c1", "job1", "alice", NOW + 7200)  # twice: one subscription
    store.subscribe("c1", "job2", "alice", NOW + 7200)
    store.subscribe("c2", "job1", "alice", NOW + 7200)
    store.subscribe("old", "job1", "alice", NOW - 1)
    seen += [store.subscriptions("c1"), sorted(store.subscribers("job1", NOW), key=lambda s: s.connection_id)]
    store.drop_connection("c1")
    seen += [store.connection("c1", NOW), store.subscriptions("c1"), store.subscribers("job1", NOW)]
    seen.append(store.subscribers("job2", NOW))
    return seen


def test_the_fake_answers_as_the_table_does(deployed: Deployed) -> None:
    table = ConnectionsTable(deployed.name("ConnectionsTable"))
    seen = scenario(table)
    assert seen == scenario(FakeConnections())
    # a ticket once, never expired or unknown; live connections only; one row per subscription
    assert seen[:7] == ["alice", None, None, None, ("alice", NOW + 7200), None, None]
    assert seen[7] == 2 and [s.connection_id for s in seen[8]] == ["c1", "c2"]
    assert seen[9:] == [None, 0, [Subscriber(connection_id="c2", owner="alice")], []]


def test_a_ticket_is_taken_once_even_by_racing_connects(deployed: Deployed) -> None:
    table = ConnectionsTable(deployed.name("ConnectionsTable"))
    table.put_ticket("h", "alice", NOW + 60)
    with ThreadPoolExecutor(8) as pool:
        owners = list(pool.map(lambda _: table.take_ticket("h", NOW), range(8)))
    assert owners.count("alice") == 1 and owners.count(None) == 7
