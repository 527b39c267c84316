"""The local stack on its shipped defaults against a fake OpenAI as slow as the real one, time-compressed.

Latencies are drawn from gpt-image-2's distribution at medium quality (p50 45 s, p99 120 s) and
compressed 5 times, the account allows 10 images a minute (x 5), and the service gets only its
limits and its own default timeout in the same compressed seconds. Not more: process scheduling
does not compress, and a call may start only 5 % of a slot late (RATE_LIMIT_TARGET), 63 ms here; at
20 times, 16 ms, a loaded CI machine made items miss their slots and come back a third time.
Bench figures, with the 12 s windows of the real provider and side-by-side comparisons, come from
bench/real_provider.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from imagegen.local.fake_openai import FakeOpenAI
from imagegen.providers.registry import MODELS
from tests.e2e.conftest import Client, start_stack

pytestmark = pytest.mark.e2e
COMPRESS = 5
LIMIT = 10  # images a minute


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(
        latency=None,
        seed=7,
        time_scale=1 / COMPRESS,
        images_per_minute=LIMIT * COMPRESS,
        window_seconds=60 / COMPRESS,
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(fake: FakeOpenAI) -> Iterator[Client]:
    stack = start_stack(
        OPENAI_API_KEY="sk-e2e-fake-key",
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_RATE_LIMIT_RPM=str(LIMIT * COMPRESS),
        OPENAI_RATE_LIMIT_TPM="100000000",
        OPENAI_TIMEOUT=str(MODELS["gpt-image-2"].call_timeout("medium") / COMPRESS),
    )
    try:
        yield Client(stack)
    finally:
        stack.stop()


def test_every_billed_call_becomes_an_image_each_delivered_at_most_twice_and_costed(
    client: Client, fake: FakeOpenAI
) -> None:
    # Given a batch of 12 icons at medium quality, more than the limit allows at once
    images = 12
    body = {"categories": ["kites", "tents", "boots"], "variations_per_category": 4, "quality": "medium"}
    accepted = client.post("/api/icons/generate/batch", {**body, "use_cache": False})
    assert accepted.status_code == 202
    # When it runs through the local stack
    status = client.wait_until_done(accepted.json()["status_url"], seconds=120)
    # Then every image is stored, and the provider billed one call per image, no more
    assert status["state"] == "completed" and status["counts"]["completed"] == images
    assert status["billed_calls"] == images
    deadline = time.monotonic() + 10
    while len(fake.billed) < images and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(fake.billed) == images and not any(call.abandoned for call in fake.billed)
    # Items that waited for their slot came back once
    assert client.stack.deliveries <= 2 * images, f"{client.stack.deliveries} deliveries for {images} images"
    # And the stats count what the provider billed, to the cent
    stats = client.get("/api/icons/stats").json()
    assert (stats["billed_calls"], stats["lost_calls"]) == (images, 0)
    billed_usd = sum(call.usd or 0 for call in fake.billed)
    assert stats["actual_cost_usd"] == pytest.approx(billed_usd, abs=1e-4)
    (model,) = stats["by_model"]
    assert (model["model"], model["images"], model["billed_calls"]) == ("gpt-image-2", images, images)
    assert model["estimated_cost_usd"] == pytest.approx(billed_usd, rel=0.05)  # the token table's estimate
    # And the metadata of an image says what it cost
    result = client.get(accepted.json()["result_url"]).json()
    location = client.get(result["items"][0]["metadata_url"]).headers["location"]
    metadata = client.http.get(location).json()
    assert metadata["billed_calls"] == 1 and metadata["cost_usd"] > 0 and metadata["cost_usd_estimate"] > 0
