"""Every input is bounded: ids, prompts, sizes, batch shapes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from imagegen.models.requests import BatchRequest, BlogImageRequest, IconRequest

BLOG = {"prompt": "a lighthouse", "post_id": "53", "section_id": "2"}


@pytest.mark.parametrize(
    "changes",
    [
        {"post_id": "../etc"},
        {"post_id": "a/b"},
        {"section_id": ""},
        {"section_id": "x" * 65},
        {"filename": "name.png"},
        {"filename": ".."},
        {"prompt": ""},
        {"prompt": "x" * 4001},
        {"size": "1792x1023"},
        {"size": "100x100"},
        {"size": "4096x1024"},
        {"size": "3840x256"},
        {"size": "big"},
        {"unknown": 1},
    ],
)
def test_blog_request_refuses_bad_fields(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BlogImageRequest.model_validate({**BLOG, **changes})


def test_blog_request_defaults_to_the_original_scripts_size() -> None:
    request = BlogImageRequest.model_validate({**BLOG, "prompt": "x" * 4000, "filename": "hero-1_A"})
    assert request.size == "1792x1024"


@pytest.mark.parametrize(
    "body",
    [
        {"categories": []},
        {"categories": ["a"] * 101},
        {"categories": ["tools"], "variations_per_category": 11},
        {"categories": ["tools"], "variations_per_category": 0},
        {"categories": ["c"] * 51, "variations_per_category": 10},  # 510 items > 500
        {"categories": ["tools"], "style": "baroque"},
        {"categories": ["tools"], "color_scheme": "neon"},
        {"categories": ["<script>"]},
        {"categories": ["x" * 101]},
        {"categories": ["tools"], "custom_elements": ["e"] * 11},
    ],
)
def test_batch_request_refuses_bad_shapes(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BatchRequest.model_validate(body)


def test_batch_of_exactly_500_items_is_allowed() -> None:
    request = BatchRequest.model_validate({"categories": ["c"] * 50, "variations_per_category": 10})
    assert len(request.categories) * request.variations_per_category == 500


def test_unknown_style_error_lists_the_allowed_values() -> None:
    with pytest.raises(ValidationError) as caught:
        IconRequest.model_validate({"category": "tools", "style": "baroque"})
    assert "minimal" in str(caught.value) and "realistic" in str(caught.value)


def test_original_curl_example_is_a_valid_icon_request() -> None:
    request = IconRequest.model_validate(
        {
            "category": "office supplies",
            "style": "modern",
            "color_scheme": "brand_colors",
            "custom_elements": ["pen", "stapler", "paper"],
        }
    )
    assert request.size is None  # OPENAI_IMAGE_SIZE decides


HOOK = "https://hooks.example.com/imagegen"


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (BatchRequest, {"categories": ["tools"]}),
        (IconRequest, {"category": "tools"}),
        (BlogImageRequest, BLOG),
    ],
)
@pytest.mark.parametrize(
    ("webhook", "problem"),
    [
        ({"webhook_url": "https://h.example/" + "x" * 2048}, "2048"),
        ({"webhook_url": ""}, "at least 1"),
        ({"webhook_url": HOOK, "webhook_events": []}, "at least 1"),
        ({"webhook_url": HOOK, "webhook_events": ["item.running"]}, "item.completed"),
        ({"webhook_url": HOOK, "webhook_events": ["job.completed", "job.completed"]}, "unique"),
        ({"webhook_events": ["job.completed"]}, "go with a webhook_url"),
    ],
)
def test_webhook_fields_are_bounded_on_every_job_request(
    model: Any, fields: dict[str, Any], webhook: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        model.model_validate({**fields, **webhook})


def test_a_webhook_asks_for_every_event_unless_told() -> None:
    request = BatchRequest.model_validate({"categories": ["tools"], "webhook_url": HOOK})
    assert request.webhook_events == ["item.completed", "item.failed", "job.completed", "job.cancelled"]
    assert BatchRequest.model_validate({"categories": ["tools"]}).webhook_url is None
