"""The local stack started with the original icon service's environment (OPENAI_MODEL=dall-e-3,
OPENAI_IMAGE_QUALITY=standard, ...) draws through the OpenAI provider: real SDK, fake OpenAI on
loopback. Before issue 10 every generation answered 400."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from imagegen.local.fake_openai import FakeOpenAI
from tests.e2e.conftest import Client, start_stack
from tests.helpers import png_size
from tests.unit.test_original_settings import ICON_SERVICE_ENV

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(fake_openai: FakeOpenAI) -> Iterator[Client]:
    environ = {
        **ICON_SERVICE_ENV,
        "OPENAI_API_KEY": "sk-e2e-fake-key",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_IMAGE_STYLE": "vivid",
    }
    stack = start_stack(**environ)
    try:
        yield Client(stack)
    finally:
        stack.stop()


def test_the_original_curl_example_draws_with_the_original_settings(
    client: Client, fake_openai: FakeOpenAI
) -> None:
    # Given the stack runs with OPENAI_MODEL=dall-e-3 and OPENAI_IMAGE_QUALITY=standard
    # When the icon service's own curl example is sent
    body = {
        "category": "office supplies",
        "style": "modern",
        "color_scheme": "brand_colors",
        "custom_elements": ["pen", "stapler", "paper"],
    }
    answer = client.post("/api/icons/generate", body, Prefer="wait=25")
    # Then the icon is drawn by the model that replaced dall-e-3, at standard's equivalent
    assert answer.status_code == 200, answer.text
    item = answer.json()["items"][0]
    assert item["state"] == "completed", item
    sent = fake_openai.requests[-1]
    assert (sent["model"], sent["quality"], sent["size"]) == ("gpt-image-2", "medium", "1024x1024")
    assert "style" not in sent  # GPT image models take no style: OPENAI_IMAGE_STYLE is not sent
    metadata = httpx.get(client.get(item["metadata_url"]).headers["location"]).json()
    assert (metadata["provider"], metadata["model"], metadata["requested_model"]) == (
        "openai",
        "gpt-image-2",
        "dall-e-3",
    )
    assert (metadata["quality"], metadata["requested_quality"], metadata["requested_style"]) == (
        "medium",
        "standard",
        "vivid",
    )
    image = httpx.get(client.get(item["image_url"]).headers["location"]).content
    assert png_size(image) == (1024, 1024)


def test_a_request_asking_for_hd_is_drawn_at_high(client: Client, fake_openai: FakeOpenAI) -> None:
    body = {"prompt": "a harbour at dawn", "post_id": "53", "section_id": "1", "quality": "hd"}
    answer = client.post("/api/images/generate", body, Prefer="wait=25")
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"][0]["state"] == "completed"
    assert (fake_openai.requests[-1]["quality"], fake_openai.requests[-1]["size"]) == ("high", "1792x1024")
