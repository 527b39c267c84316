"""The events table's hook rows on moto, and the in-memory fake held to the same answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from imagegen.dal.events_table import HooksTable
from imagegen.logic.hooks import HooksStore
from imagegen.models.hooks import HookTenant
from tests.integration.conftest import Deployed
from tests.unit.fakes import FakeHooks

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["dynamodb", "fake"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return FakeHooks()
    deployed: Deployed = request.getfixturevalue("deployed")
    return HooksTable(deployed.name("EventsTable"))


def test_tenants_and_owner_pointers(store: HooksStore) -> None:
    tenant = HookTenant(hook_id="h1", owner="a#b", source="ghost", secret="s1", created_at=NOW.isoformat())
    assert store.tenant("h1") is None and store.hook_of("a#b", "ghost") is None
    store.save(tenant)
    rotated = tenant.model_copy(
        update={
            "secret": "s2",
            "previous_secret": "s1",
            "previous_until": (NOW + timedelta(hours=1)).isoformat(),
        }
    )
    store.save(rotated)
    assert store.tenant("h1") == rotated
    assert store.hook_of("a#b", "ghost") == "h1"
    # An owner id holding the key's separator reaches no other owner's row.
    assert store.hook_of("a", "b#ghost") is None and store.hook_of("a#b", "sanity") is None


def test_replay_keys_are_recorded_once_and_can_be_forgotten(store: HooksStore) -> None:
    assert store.seen("h1", "ghost:abc", NOW) is False
    assert store.seen("h1", "ghost:abc", NOW) is True
    assert store.seen("h2", "ghost:abc", NOW) is False  # per hook
    store.forget("h1", "ghost:abc")
    assert store.seen("h1", "ghost:abc", NOW) is False


def test_a_section_is_claimed_when_its_content_changes(store: HooksStore) -> None:
    assert store.claim_section("o", "p", "s", "hash1") == ""
    assert store.claim_section("o", "p", "s", "hash1") is None
    assert store.claim_section("o2", "p", "s", "hash1") == ""  # per owner
    assert store.claim_section("o", "p", "s", "hash2") == "hash1"
    store.restore_section("o", "p", "s", "hash1")
    assert store.claim_section("o", "p", "s", "hash1") is None
    store.restore_section("o", "p", "s", "")
    assert store.claim_section("o", "p", "s", "hash1") == ""
