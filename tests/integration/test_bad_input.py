"""Bad input of any kind: a 4xx JSON error, and nothing stored anywhere."""

from __future__ import annotations

import base64
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


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/xml", "<category>tools</category>"),
        # schemathesis (issue 11): a multipart type without a boundary was a 500 from Powertools' parser
        ("multipart/form-data", '{"category": "tools"}'),
        (
            "multipart/form-data; boundary=x",
            '--x\r\nContent-Disposition: form-data; name="category"\r\n\r\nt\r\n--x--',
        ),
    ],
)
def test_a_body_in_another_format_is_refused_with_what_to_send(
    deployed: Deployed, content_type: str, body: str
) -> None:
    code, answer = _post_typed(deployed, content_type, body)
    assert (code, answer) == (
        415,
        {
            "error": "unsupported_media_type",
            "message": "send the body as JSON with Content-Type: application/json",
        },
    )
    assert deployed.queue_depth() == 0


# Audit findings (issue 11): bodies Powertools mishandled (500s) or read too leniently (coercions).
def _base64_event(path: str, raw: bytes) -> dict[str, Any]:
    """The event API Gateway sends for a body it takes as binary: base64, isBase64Encoded true."""
    event = http_event("POST", path, body=base64.b64encode(raw).decode())
    event["isBase64Encoded"] = True
    return event


NOT_UTF8: list[tuple[str, bytes]] = [
    ("three random bytes", bytes([0x77, 0x83, 0x91])),
    ("latin-1", '{"category": "café"}'.encode("latin-1")),
    ("UTF-16 with its BOM", '{"category": "tools"}'.encode("utf-16")),
    ("binary (a PNG header)", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
]


@pytest.mark.parametrize(("_", "raw"), NOT_UTF8, ids=[name for name, _ in NOT_UTF8])
def test_a_body_that_is_not_utf8_text_is_a_400(deployed: Deployed, _: str, raw: bytes) -> None:
    response = deployed.handlers["generate"](
        _base64_event("/api/icons/generate", raw), LocalContext("generate", 29)
    )
    assert response["statusCode"] == 400
    assert json.loads(response["body"]) == {
        "error": "invalid_request",
        "message": "the body is not UTF-8 text: send JSON encoded as UTF-8",
    }
    assert (deployed.table_rows(), deployed.keys(), deployed.queue_depth()) == (0, [], 0)


def test_a_base64_encoded_utf8_json_body_is_still_read(deployed: Deployed) -> None:
    # Given a well-formed request that API Gateway passed on base64-encoded (a binary media type)
    raw = json.dumps({"category": "café"}).encode()
    response = deployed.handlers["generate"](
        _base64_event("/api/icons/generate", raw), LocalContext("generate", 29)
    )
    # Then it is taken as if it had come as text
    assert response["statusCode"] == 202, response["body"]
    assert deployed.queue_depth() == 1


STRICT: list[tuple[str, tuple[str, str], Any, str]] = [
    (
        "nested 1,000 deep",
        ICON,
        '{"category": "tools", "x": ' + "[" * 1000 + "]" * 1000 + "}",
        "the body nests JSON too deeply",
    ),
    ("an array wrapping the request", ICON, [{"category": "tools"}], "the body must be a JSON object"),
    ("null as the body", ICON, "null", "the body must be a JSON object"),
    ("NUL in a prompt", BLOG, {**GOOD_BLOG, "prompt": "a harbour\u0000at dusk"}, "prompt must not hold NUL"),
    (
        "NUL in an element",
        ICON,
        {"category": "tools", "custom_elements": ["a\u0000"]},
        "custom_elements[0] must",
    ),
    ("NUL in a category", ICON, {"category": "tools\u0000"}, "category must start with"),
    ("NUL in a style", ICON, {"category": "tools", "style": "modern\u0000"}, "style must be one of"),
    (
        "a count as a string",
        BATCH,
        {"categories": ["c"], "variations_per_category": "2"},
        "variations_per_category must be a whole number",
    ),
    (
        "true for a count",
        BATCH,
        {"categories": ["c"], "variations_per_category": True},
        "variations_per_category must be a whole number",
    ),
    ("an amount as a string", BLOG, {**GOOD_BLOG, "max_cost_usd": "5"}, "max_cost_usd must be a number"),
    (
        "a flag as a string",
        ICON,
        {"category": "tools", "use_cache": "false"},
        "use_cache must be true or false",
    ),
    ("a flag as a number", ICON, {"category": "tools", "use_cache": 0}, "use_cache must be true or false"),
    ("a sub-cent budget", BLOG, {**GOOD_BLOG, "max_cost_usd": 1e-320}, "max_cost_usd must be at least 0.01"),
    (
        "a null size",
        ICON,
        {"category": "tools", "size": None},
        "size must not be null: leave it out for its default",
    ),
    (
        "a null blog size",
        BLOG,
        {**GOOD_BLOG, "size": None},
        "size must not be null: leave it out for its default",
    ),
]


@pytest.mark.parametrize(("_", "route", "body", "said"), STRICT, ids=[case[0] for case in STRICT])
def test_audit_findings_on_bodies_are_400s_in_the_callers_terms(
    deployed: Deployed, _: str, route: tuple[str, str], body: Any, said: str
) -> None:
    function, path = route
    code, _headers, answer = deployed.call(function, "POST", path, body=body)
    assert code == 400, answer
    assert answer["error"] == "invalid_request" and answer["message"].startswith(said), answer
    assert "\x00" not in answer["message"] and "Input should" not in answer["message"]
    assert (deployed.table_rows(), deployed.keys(), deployed.queue_depth()) == (0, [], 0)


def test_strict_types_still_take_what_json_means(deployed: Deployed) -> None:
    # Given a budget written as a whole number, real booleans and counts, and a prompt on two lines
    code, _, answer = deployed.call(
        "generate",
        "POST",
        "/api/images/generate",
        body={
            **GOOD_BLOG,
            "prompt": "a harbour\n\tat dusk",
            "max_cost_usd": 5,
            "use_cache": False,
            "size": "1024x1024",
        },
    )
    assert code == 202, answer
    code, _, answer = deployed.call(
        "batch",
        "POST",
        "/api/icons/generate/batch",
        body={"categories": ["tools"], "variations_per_category": 2},
    )
    assert code == 202, answer
