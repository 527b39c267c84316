"""Economy jobs end to end: the local stack, the real SDK, and the fake OpenAI's Batch API on loopback.

The stack polls open provider batches every second (LOCAL_SCHEDULE_SECONDS) and the fake announces
every batch that ends with a signed webhook, so the two race in every test here. Batches take one to
three seconds (`batch_seconds`); the module runs in about 40 s."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from imagegen.local.fake_openai import FakeOpenAI
from imagegen.providers.prices import cost_from_usage, estimate_image_cost
from tests.e2e.conftest import Client, start_stack

pytestmark = pytest.mark.e2e
SECRET = "whsec_" + base64.b64encode(b"imagegen-e2e-openai-webhook-secret").decode()
ENDED = ("completed", "partially_failed", "failed", "cancelled")
CATEGORIES = ["coffee", "books", "bicycles", "gardening", "pets", "cameras", "music", "shoes", "tea", "toys"]


@pytest.fixture(scope="module")
def client(fake_openai: FakeOpenAI) -> Iterator[Client]:
    stack = start_stack(
        OPENAI_API_KEY="sk-e2e-fake-key",
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_WEBHOOK_SECRET=SECRET,
        LOCAL_SCHEDULE_SECONDS="1",
        OPENAI_RATE_LIMIT_RPM="600",  # items sent back to the standard path are drawn at once
        QUOTA_IMAGES_PER_DAY="0",
    )
    try:
        yield Client(stack)
    finally:
        stack.stop()


@pytest.fixture(autouse=True)
def fake(fake_openai: FakeOpenAI, client: Client) -> FakeOpenAI:
    """The fake as each test starts: one-second batches, one signed webhook per batch that ends."""
    fake_openai.configure(
        batch_seconds=1.0,
        batch_window_seconds=24 * 3600.0,
        batch_failures={},
        webhook_url=f"{client.stack.url}/api/openai/webhook",
        webhook_secret=SECRET,
        webhook_deliveries=1,
    )
    return fake_openai


def _economy_batch(
    client: Client, categories: list[str], variations: int = 1, **extra: Any
) -> dict[str, Any]:
    body = {
        "categories": categories,
        "variations_per_category": variations,
        "priority": "economy",
        "quality": "low",
        "use_cache": False,
        **extra,
    }
    answer = client.post("/api/icons/generate/batch", body)
    assert answer.status_code == 202, answer.text
    accepted = dict(answer.json())
    assert accepted["priority"] == "economy"
    return accepted


def _wait(client: Client, url: str, until: Any, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = dict(client.get(url).json())
        if until(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"{url}: condition not met in {seconds}s; last status: {status}")


def _ended(client: Client, url: str) -> dict[str, Any]:
    return _wait(client, url, lambda status: status["state"] in ENDED)


def _metadata(client: Client, item: dict[str, Any]) -> dict[str, Any]:
    redirect = client.get(item["metadata_url"])
    assert redirect.status_code == 302
    return httpx.get(redirect.headers["location"]).json()  # type: ignore[no-any-return]


def _batch_lines_billed(fake: FakeOpenAI, batch_ids: list[str]) -> int:
    return sum(call.batch_id in batch_ids for call in fake.billed)


def test_an_economy_batch_of_20_icons_is_drawn_by_the_batch_api_at_half_the_standard_cost(
    client: Client, fake: FakeOpenAI
) -> None:
    fake.configure(batch_seconds=3.0)  # long enough to see the job submitted
    sync_calls = len(fake.requests)
    accepted = _economy_batch(client, CATEGORIES, variations=2)
    submitted = _wait(client, accepted["status_url"], lambda status: status["provider_batches"])
    assert submitted["state"] == "submitted_to_provider"
    assert submitted["priority"] == "economy"
    status = _ended(client, accepted["status_url"])
    assert status["state"] == "completed", status
    assert status["counts"]["completed"] == 20
    assert status["billed_calls"] == 20
    batch_ids = status["provider_batches"]
    assert len(fake.requests) == sync_calls  # not one synchronous call
    assert _batch_lines_billed(fake, batch_ids) == 20

    # The same icon through the standard path, to compare what each costs.
    standard = client.post(
        "/api/icons/generate",
        {"category": "coffee", "quality": "low", "use_cache": False, "priority": "standard"},
        Prefer="wait=25",
    ).json()
    assert standard["state"] == "completed"
    standard_metadata = _metadata(client, standard["items"][0])
    assert standard_metadata["priority"] == "standard"
    assert standard_metadata["cost_usd"] > 0

    items = client.get(accepted["result_url"]).json()["items"]
    assert len({item["key"] for item in items}) == 20
    for item in items:
        assert item["state"] == "completed"
        metadata = _metadata(client, item)
        assert metadata["priority"] == "economy"
        assert metadata["provider_batch_id"] in batch_ids
        if (item["category"], item["variation"]) == ("coffee", 1):  # the standard icon's twin
            assert metadata["prompt"] == standard_metadata["prompt"]
            standard_usage = {k: v for k, v in standard_metadata["usage"].items() if v is not None}
            assert metadata["usage"] == standard_usage  # the same tokens: only the price differs
            assert metadata["cost_usd"] == pytest.approx(standard_metadata["cost_usd"] / 2)
        full_cost = cost_from_usage(metadata["model"], metadata["usage"])
        assert full_cost is not None
        assert metadata["cost_usd"] == pytest.approx(full_cost / 2)
        full_estimate = estimate_image_cost(
            metadata["model"], metadata["width"], metadata["height"], metadata["quality"], metadata["prompt"]
        )
        assert metadata["cost_usd_estimate"] == pytest.approx(full_estimate / 2)
        image = client.get(item["image_url"])
        assert image.status_code == 302
        assert httpx.get(image.headers["location"]).content.startswith(b"\x89PNG")


def test_three_failing_lines_end_the_job_partially_failed_with_their_reasons(
    client: Client, fake: FakeOpenAI
) -> None:
    fake.configure(batch_failures={1: "moderation", 4: "moderation", 7: "moderation"})
    accepted = _economy_batch(client, CATEGORIES)
    status = _ended(client, accepted["status_url"])
    assert status["state"] == "partially_failed"
    assert (status["counts"]["completed"], status["counts"]["failed"]) == (7, 3)
    items = client.get(accepted["result_url"]).json()["items"]
    failed = [item for item in items if item["state"] == "failed"]
    assert [item["index"] for item in failed] == [1, 4, 7]
    assert {item["error"] for item in failed} == {"refused by OpenAI's safety system"}


def test_cancel_mid_way_cancels_the_provider_batch(client: Client, fake: FakeOpenAI) -> None:
    fake.configure(batch_seconds=30.0)
    accepted = _economy_batch(client, CATEGORIES)
    submitted = _wait(client, accepted["status_url"], lambda status: status["provider_batches"])
    (batch_id,) = submitted["provider_batches"]
    cancelled = client.post(f"/api/icons/batch/{accepted['batch_id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["cancel_requested"] is True
    status = _ended(client, accepted["status_url"])
    assert status["state"] == "cancelled"
    assert fake.batch_api.batches[batch_id].status == "cancelled"
    items = client.get(accepted["result_url"]).json()["items"]
    assert {item["state"] for item in items} <= {"cancelled", "completed"}
    assert status["counts"]["cancelled"] >= 1
    drawn = [item for item in items if item["state"] == "completed"]  # drawn before the cancel: kept
    assert len(drawn) == _batch_lines_billed(fake, [batch_id])


def test_a_duplicated_webhook_and_a_racing_poll_store_nothing_twice(client: Client, fake: FakeOpenAI) -> None:
    fake.configure(webhook_deliveries=2)
    (economy,) = (
        source for source in client.stack.event_sources if source.function.name == "EconomyFunction"
    )
    before = economy.deliveries
    accepted = _economy_batch(client, CATEGORIES[:6])
    status = _ended(client, accepted["status_url"])
    assert status["state"] == "completed"
    (batch_id,) = status["provider_batches"]
    hooks = [hook for hook in fake.sent_webhooks if hook.batch_id == batch_id]
    assert len(hooks) == 2
    # A submit, two collects from the webhooks and at least one from the poll (every second).
    _wait(client, accepted["status_url"], lambda _: economy.deliveries - before >= 4, seconds=10)
    items = client.get(accepted["result_url"]).json()["items"]
    assert [item["billed_calls"] for item in items] == [1] * 6
    assert status["billed_calls"] == 6
    keys = [key for item in items for key in (item["key"], item["key"].rsplit(".", 1)[0] + "_metadata.json")]
    assert all(key in client.keys("icons/") for key in keys)
    assert _batch_lines_billed(fake, [batch_id]) == 6


def test_without_webhooks_the_scheduled_poll_collects(client: Client, fake: FakeOpenAI) -> None:
    fake.configure(webhook_url=None)
    accepted = _economy_batch(client, CATEGORIES[:3])
    status = _ended(client, accepted["status_url"])
    assert status["state"] == "completed"
    (batch_id,) = status["provider_batches"]
    assert not [hook for hook in fake.sent_webhooks if hook.batch_id == batch_id]


def test_lines_an_expired_batch_did_not_draw_go_back_to_the_standard_path(
    client: Client, fake: FakeOpenAI
) -> None:
    fake.configure(batch_seconds=20.0, batch_window_seconds=1.5)  # the window closes before the lines
    sync_calls = len(fake.requests)
    accepted = _economy_batch(client, CATEGORIES[:4])
    status = _ended(client, accepted["status_url"])
    assert status["state"] == "completed"
    (batch_id,) = status["provider_batches"]
    assert fake.batch_api.batches[batch_id].status == "expired"
    items = client.get(accepted["result_url"]).json()["items"]
    priorities = [_metadata(client, item)["priority"] for item in items]
    redrawn = priorities.count("standard")
    assert redrawn >= 1
    assert len(fake.requests) - sync_calls == redrawn  # each one synchronous call, at the full price


def test_a_forged_openai_webhook_is_refused(client: Client) -> None:
    body = b'{"type": "batch.completed", "data": {"id": "batch_x"}}'
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": "v1,AAAA",
    }
    answer = client.http.post("/api/openai/webhook", content=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"] == "webhook_rejected"
