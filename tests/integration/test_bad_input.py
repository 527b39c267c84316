"""Bad input of any kind: a 4xx JSON error, and nothing stored anywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest

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
