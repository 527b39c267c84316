"""Bad input of any kind: a 4xx JSON error, and nothing stored anywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest

from imagegen.local.lambdas import LocalContext
from tests.helpers import http_event
from tests.integration.conftest import Deployed

ICON = ("generate", "/api/icons/generate")
BLOG = ("generate", "/api/images/generate")
BATCH = ("batch", "/api/icons/generate/batch")
GOOD_BLOG = {"prompt": "a harbour", "post_id": "53", "section_id": "2"}

CASES: list[tuple[tuple[str, str], Any, int]] = [
    (ICON, "{not json", 400),
    (ICON, "", 400),
    (ICON, "[]", 400),
    (ICON, {}, 400),
    (ICON, {"category": ""}, 400),
    (ICON, {"category": "tools", "style": "baroque"}, 400),
    (ICON, {"category": "tools", "color_scheme": "neon"}, 400),
    (ICON, {"category": "tools", "size": "99999x1"}, 400),
    (ICON, {"category": "tools", "admin": True}, 400),
    (ICON, {"category": "tools", "custom_elements": ["x"] * 11}, 400),
    (BLOG, {**GOOD_BLOG, "post_id": "../../etc"}, 400),
    (BLOG, {**GOOD_BLOG, "section_id": "a/b"}, 400),
    (BLOG, {**GOOD_BLOG, "filename": "../hero"}, 400),
    (BLOG, {**GOOD_BLOG, "filename": "x" * 65}, 400),
    (BLOG, {**GOOD_BLOG, "prompt": "p" * 4001}, 400),
    (BLOG, {**GOOD_BLOG, "size": "1792x1000"}, 400),
    (BLOG, {"prompt": "no ids"}, 400),
    (BLOG, {**GOOD_BLOG, "model": "dall-e-9"}, 400),
    (BLOG, {**GOOD_BLOG, "model": "gpt-image-1.5"}, 400),  # cannot draw the 1792x1024 default
    (ICON, {"category": "tools", "quality": "ultra"}, 400),
    (ICON, {"category": "tools", "size": "3840x3840"}, 400),
    (BATCH, {"categories": []}, 400),
    (BATCH, {"categories": ["c"] * 101}, 400),
    (BATCH, {"categories": ["c"], "variations_per_category": 11}, 400),
    (BATCH, {"categories": ["c"] * 60, "variations_per_category": 10}, 400),
    (BATCH, {"categories": "tools"}, 400),
    (BATCH, json.dumps({"categories": ["tools"], "padding": " " * 70_000}), 413),
    (ICON, json.dumps({"category": "tools"}) + " " * 70_000, 413),
]


@pytest.mark.parametrize(("route", "body", "status"), CASES)
def test_bad_input_is_refused_with_a_json_error_and_stores_nothing(
    deployed: Deployed, route: tuple[str, str], body: Any, status: int
) -> None:
    function, path = route
    code, _, answer = deployed.call(function, "POST", path, body=body)
    assert code == status
    assert set(answer) == {"error", "message"} and answer["message"]
    assert deployed.table_rows() == 0
    assert deployed.keys() == []
    assert deployed.queue_depth() == 0


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/icons/batches", {"limit": "0"}),
        ("/api/icons/batches", {"limit": "1000"}),
        ("/api/icons/batches", {"cursor": "forged"}),
    ],
)
def test_bad_queries_are_refused(deployed: Deployed, path: str, query: dict[str, str]) -> None:
    code, _, answer = deployed.call("status", "GET", path, query=query)
    assert code == 400 and answer["error"] == "invalid_request"


@pytest.mark.parametrize(
    "key", ["../secret.png", "posts/53/sections/2/raw/../../x.png", "posts/53/sections/2/raw/hero.txt", "a"]
)
def test_odd_image_keys_are_simply_not_found(deployed: Deployed, key: str) -> None:
    code, _, answer = deployed.call("status", "GET", f"/api/images/{key}")
    assert code == 404 and answer["error"] == "not_found"


def test_unknown_batch_ids_are_404_not_500(deployed: Deployed) -> None:
    for job_id in ("nope", "0" * 32, "%00"):
        code, _, _ = deployed.call(
            "status", "GET", f"/api/icons/batch/{job_id}/status", path_parameters={"batch_id": job_id}
        )
        assert code == 404


# The message a caller reads for the typical mistakes: what is wrong, in the API's own words.
READABLE: list[tuple[tuple[str, str], Any, str]] = [
    (BLOG, {**GOOD_BLOG, "post_id": "../../etc"}, "post_id may only hold letters, digits, _ and -"),
    (BLOG, {**GOOD_BLOG, "filename": "x" * 65}, "filename may be at most 64 characters long"),
    (BLOG, {"prompt": "no ids"}, "post_id is required; section_id is required"),
    (ICON, {}, "category is required"),
    (ICON, {"category": "tools", "colour": "blue"}, "unknown field 'colour' (did you mean 'color_scheme'?)"),
    (ICON, {"category": "tools", "admin": True}, "unknown field 'admin'"),
    (
        ICON,
        '{"category": "tools",\n "style": modern}',
        "body is not valid JSON: line 2 column 11 (Expecting value)",
    ),
    (ICON, "", "the body must be a JSON object"),
    (ICON, "[]", "the body must be a JSON object"),
    (ICON, {"category": "tools", "size": "big"}, "size must be WIDTHxHEIGHT in pixels, such as 1024x1024"),
    (BLOG, {**GOOD_BLOG, "size": "1792x1000"}, "size: each side must be a multiple of 16"),
    (
        ICON,
        {"category": "tools", "quality": "ultra"},
        "quality must be one of 'low', 'medium', 'high', 'auto', 'standard' or 'hd'",
    ),
    (
        BATCH,
        {"categories": ["c"], "variations_per_category": 11},
        "variations_per_category must be at most 10",
    ),
    (BATCH, {"categories": "tools"}, "categories must be a list"),
]


@pytest.mark.parametrize(("route", "body", "message"), READABLE)
def test_bad_input_is_explained_in_the_callers_terms(
    deployed: Deployed, route: tuple[str, str], body: Any, message: str
) -> None:
    function, path = route
    code, _, answer = deployed.call(function, "POST", path, body=body)
    assert (code, answer) == (400, {"error": "invalid_request", "message": message})


def test_the_model_a_size_does_not_fit_is_named(deployed: Deployed) -> None:
    code, _, answer = deployed.call(
        "generate", "POST", "/api/images/generate", body={**GOOD_BLOG, "model": "gpt-image-1.5"}
    )
    message = "size must be one of 1024x1024, 1024x1536, 1536x1024 for gpt-image-1.5 (not 1792x1024)"
    assert (code, answer) == (400, {"error": "invalid_request", "message": message})


def test_bad_query_values_name_the_parameter(deployed: Deployed) -> None:
    code, _, answer = deployed.call("status", "GET", "/api/icons/batches", query={"limit": "0"})
    assert (code, answer) == (400, {"error": "invalid_request", "message": "limit must be at least 1"})


def _post_typed(deployed: Deployed, content_type: str | None, body: str) -> tuple[int, Any]:
    """POST an icon request with the given Content-Type, or none at all (as a bare HTTP client sends)."""
    event = http_event("POST", "/api/icons/generate", body=body)
    del event["headers"]["content-type"]
    if content_type is not None:
        event["headers"]["content-type"] = content_type
    response = deployed.handlers["generate"](event, LocalContext("generate", 29))
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(
    "content_type",
    [None, "application/x-www-form-urlencoded", "text/plain;charset=UTF-8"],  # none; curl -d; fetch(string)
)
def test_a_json_body_is_read_as_json_whatever_content_type_was_forgotten(
    deployed: Deployed, content_type: str | None
) -> None:
    # Given the body of the README's curl example sent without -H "Content-Type: application/json"
    code, answer = _post_typed(deployed, content_type, '{"category":"coffee shop","style":"modern"}')
    # Then it is accepted as if the header had been set
    assert code == 202, answer
    assert answer["total"] == 1 and deployed.queue_depth() == 1


def test_invalid_json_without_content_type_still_says_where(deployed: Deployed) -> None:
    code, answer = _post_typed(deployed, "application/x-www-form-urlencoded", '{"category": coffee}')
    assert (code, answer) == (
        400,
        {"error": "invalid_request", "message": "body is not valid JSON: line 1 column 14 (Expecting value)"},
    )


def test_a_body_in_another_format_is_refused_with_what_to_send(deployed: Deployed) -> None:
    code, answer = _post_typed(deployed, "application/xml", "<category>tools</category>")
    assert (code, answer) == (
        415,
        {
            "error": "unsupported_media_type",
            "message": "send the body as JSON with Content-Type: application/json",
        },
    )
    assert deployed.queue_depth() == 0
