"""The local stack generating through the OpenAI provider: real SDK, fake OpenAI server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from imagegen.local.fake_openai import FakeOpenAI
from tests.e2e.conftest import Client, start_stack
from tests.helpers import png_size

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(fake_openai: FakeOpenAI) -> Iterator[Client]:
    stack = start_stack(OPENAI_API_KEY="sk-e2e-fake-key", OPENAI_BASE_URL=fake_openai.base_url)
    try:
        yield Client(stack)
    finally:
        stack.stop()


def test_icons_are_drawn_by_openai_when_a_key_is_set(client: Client, fake_openai: FakeOpenAI) -> None:
    answer = client.post("/api/icons/generate", {"category": "tools", "quality": "low"}, Prefer="wait=25")
    assert answer.status_code == 200
    item = answer.json()["items"][0]
    assert item["state"] == "completed"
    redirect = client.get(item["metadata_url"])
    metadata = httpx.get(redirect.headers["location"]).json()
    assert (metadata["provider"], metadata["model"], metadata["quality"]) == ("openai", "gpt-image-2", "low")
    assert fake_openai.requests[-1]["size"] == "1024x1024"
    image = httpx.get(client.get(item["image_url"]).headers["location"]).content
    assert png_size(image) == (1024, 1024)


def test_a_moderation_refusal_fails_the_item_with_its_reason(client: Client, fake_openai: FakeOpenAI) -> None:
    fake_openai.push("moderation")
    answer = client.post("/api/icons/generate", {"category": "tools"}, Prefer="wait=25")
    assert answer.status_code == 200
    body = answer.json()
    assert body["state"] == "failed"
    assert body["items"][0]["error"] == "refused by OpenAI's safety system"
