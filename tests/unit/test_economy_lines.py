"""Economy's pure parts: input lines, file splitting, output lines sorted, and which path a job takes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from imagegen.models.domain import ImageSpec
from imagegen.providers.openai_batches import input_line, parse_custom_id, sort_line, split_lines
from imagegen.providers.openai_provider import request_body
from imagegen.providers.prices import cost_from_usage
from imagegen.providers.registry import BATCH_ENDPOINT, BATCH_MAX_REQUESTS, DEFAULT_MODEL
from tests.unit.fakes import make_services

USAGE = {"input_tokens": 20, "output_tokens": 196, "input_tokens_details": {"text_tokens": 20}}


def _spec(**changes: Any) -> ImageSpec:
    base = {"kind": "icon", "prompt": "an icon of tea", "width": 1024, "height": 1024, "key": "icons/t.png"}
    return ImageSpec(**{**base, "model": DEFAULT_MODEL, "quality": "low", **changes})


def _line(custom_id: str, status: int, body: dict[str, Any], error: dict[str, Any] | None = None) -> str:
    response = {"status_code": status, "request_id": "req_1", "body": body}
    return json.dumps({"id": "batch_req_1", "custom_id": custom_id, "response": response, "error": error})


def test_an_input_line_asks_what_the_synchronous_call_asks() -> None:
    spec = _spec(background="transparent")
    line = json.loads(input_line("job1", 7, spec))
    assert line == {
        "custom_id": "job1:7",
        "method": "POST",
        "url": BATCH_ENDPOINT,
        "body": request_body(spec),
    }
    assert line["body"] == {
        "model": DEFAULT_MODEL,
        "prompt": "an icon of tea",
        "size": "1024x1024",
        "quality": "low",
        "n": 1,
        "output_format": "png",
        "background": "transparent",
    }
    assert parse_custom_id("job1:7") == ("job1", 7)
    assert parse_custom_id("job1") is None
    assert parse_custom_id("job1:x") is None


def test_files_are_split_by_lines_and_by_bytes_in_order() -> None:
    lines = [b"x" * 10] * 7
    assert split_lines(lines, max_lines=3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert split_lines(lines, max_lines=100, max_bytes=25) == [[0, 1], [2, 3], [4, 5], [6]]
    assert split_lines(lines, max_lines=10 * BATCH_MAX_REQUESTS) == [list(range(7))]  # never past the API's
    assert split_lines([]) == []


def test_an_image_line_becomes_an_image_billed_at_half_price() -> None:
    png = b"\x89PNG fake bytes"
    body = {"data": [{"b64_json": base64.b64encode(png).decode()}], "usage": USAGE}
    result = sort_line(_line("job1:0", 200, body))
    assert result is not None and result.outcome == "image"
    image = result.image(_spec(), "batch_1")
    assert image.data == png
    assert image.cost_usd == pytest.approx(cost_from_usage(DEFAULT_MODEL, USAGE) / 2)  # type: ignore[operator]
    assert image.details == {"provider_batch_id": "batch_1"}
    assert image.billed_calls == 1


@pytest.mark.parametrize(
    ("status", "error", "outcome", "reason"),
    [
        (400, {"code": "moderation_blocked", "message": "no"}, "failed", "refused by OpenAI's safety system"),
        (
            400,
            {"code": "invalid_value", "message": "bad size"},
            "failed",
            "OpenAI refused the request (bad size)",
        ),
        (429, {"code": "insufficient_quota"}, "failed", "the OpenAI account has insufficient quota"),
        (429, {"code": "rate_limit_exceeded"}, "retry", "OpenAI answered 429"),
        (500, {"code": "server_error"}, "retry", "OpenAI answered 500"),
    ],
)
def test_error_lines_are_sorted_as_the_synchronous_path_sorts_its_errors(
    status: int, error: dict[str, Any], outcome: str, reason: str
) -> None:
    result = sort_line(_line("job1:3", status, {"error": error}))
    assert result is not None
    assert (result.outcome, result.reason) == (outcome, reason)


def test_lines_a_batch_never_ran_say_why() -> None:
    expired = sort_line(
        json.dumps({"custom_id": "j:1", "response": None, "error": {"code": "batch_expired"}})
    )
    cancelled = sort_line(
        json.dumps({"custom_id": "j:2", "error": {"code": "batch_cancelled", "message": "m"}})
    )
    assert expired is not None and expired.outcome == "expired"
    assert cancelled is not None and (cancelled.outcome, cancelled.reason) == (
        "cancelled",
        "m (batch_cancelled)",
    )
    assert sort_line("not json") is None
    assert sort_line(json.dumps({"no": "custom id"})) is None


def test_a_line_without_an_image_is_refused() -> None:
    result = sort_line(_line("job1:0", 200, {"data": []}))
    assert result is not None
    with pytest.raises(Exception, match="no image"):
        result.image(_spec(), "batch_1")


@pytest.mark.parametrize(
    ("asked", "new_images", "settings", "provider", "expected"),
    [
        ("economy", 3, {}, "openai", "economy"),
        (None, 3, {}, "openai", "standard"),
        (None, 50, {"economy_min_items": 50}, "openai", "economy"),
        (None, 49, {"economy_min_items": 50}, "openai", "standard"),
        ("standard", 500, {"economy_min_items": 50}, "openai", "standard"),
        ("economy", 3, {}, "offline", "standard"),  # no Batch API: drawn at once, free
        ("economy", 0, {}, "openai", "standard"),  # every image came from the cache
    ],
)
def test_which_path_a_job_takes(
    asked: str | None, new_images: int, settings: dict[str, Any], provider: str, expected: str
) -> None:
    from imagegen.logic.economy import job_priority

    services = make_services(**settings)
    services.economy_queue = object()  # type: ignore[assignment]
    specs = [_spec()] * new_images
    assert job_priority(asked, new_images, specs, provider, services) == expected  # type: ignore[arg-type]


def test_a_model_the_batch_api_does_not_take_is_drawn_on_the_standard_path() -> None:
    from imagegen.logic.economy import job_priority

    services = make_services()
    services.economy_queue = object()  # type: ignore[assignment]
    assert job_priority("economy", 1, [_spec(model="gpt-image-2.6-flare")], "openai", services) == "standard"
    services.economy_queue = None  # a stack without the economy function
    assert job_priority("economy", 1, [_spec()], "openai", services) == "standard"
