"""The local stack over HTTP: the original curl examples, auth, ownership, cancel, bad input."""

from __future__ import annotations

import httpx
import jwt
import pytest

from tests.e2e.conftest import Client
from tests.helpers import png_size, token

pytestmark = pytest.mark.e2e

ORIGINAL_ICON = {
    "category": "office supplies",
    "style": "modern",
    "color_scheme": "brand_colors",
    "custom_elements": ["pen", "stapler", "paper"],
}
ORIGINAL_BATCH = {
    "categories": ["electronics", "tools", "automotive"],
    "style": "flat",
    "variations_per_category": 2,
}


def _fetch_png(client: Client, image_url: str, sub: str = "alice") -> bytes:
    redirect = client.get(image_url, sub)
    assert redirect.status_code == 302
    image = httpx.get(redirect.headers["location"])
    assert image.status_code == 200
    return image.content


def test_original_single_icon_curl_example(client: Client) -> None:
    accepted = client.post("/api/icons/generate", ORIGINAL_ICON)
    assert accepted.status_code == 202
    status = client.wait_until_done(accepted.headers["location"])
    assert status["state"] == "completed"
    result = client.get(status["result_url"]).json()
    assert png_size(_fetch_png(client, result["items"][0]["image_url"])) == (1024, 1024)
    metadata = client.get(result["items"][0]["metadata_url"])
    assert metadata.status_code == 302
    assert httpx.get(metadata.headers["location"]).json()["category"] == "office supplies"


def test_original_batch_curl_example_gives_six_pngs(client: Client) -> None:
    accepted = client.post("/api/icons/generate/batch", ORIGINAL_BATCH)
    assert accepted.status_code == 202
    body = accepted.json()
    assert body["total"] == 6
    status = client.wait_until_done(body["status_url"])
    assert (status["state"], status["counts"]["completed"], status["percent"]) == ("completed", 6, 100.0)
    items = client.get(body["result_url"]).json()["items"]
    assert len({item["key"] for item in items}) == 6
    for item in items:
        assert png_size(_fetch_png(client, item["image_url"])) == (1024, 1024)
    listed = client.get("/api/icons/batches").json()["batches"]
    assert body["batch_id"] in [batch["batch_id"] for batch in listed]


def test_blog_image_waited_for_lands_under_the_post_section(client: Client) -> None:
    body = {"prompt": "A cosy reading corner with books and coffee", "post_id": "53", "section_id": "2"}
    answer = client.post("/api/images/generate", body, Prefer="wait=25")
    assert answer.status_code == 200
    item = answer.json()["items"][0]
    assert item["key"].startswith("posts/53/sections/2/raw/") and item["key"].endswith(".png")
    assert png_size(_fetch_png(client, item["image_url"])) == (1792, 1024)
    assert item["key"].removesuffix(".png") + "_metadata.json" in client.keys("posts/53/sections/2/raw/")


def test_requests_without_a_valid_token_never_reach_a_handler(client: Client) -> None:
    before = client.keys()
    no_token = client.http.post("/api/icons/generate", json=ORIGINAL_ICON)
    assert no_token.status_code == 401 and no_token.json() == {"message": "Unauthorized"}
    forged = jwt.encode({"sub": "alice"}, "x" * 40, algorithm="HS256")
    unsigned = jwt.encode({"sub": "alice"}, "", algorithm="none")  # pyjwt reads "" as no key
    for bad in (
        forged,
        unsigned,
        token("alice", secret=client.stack.jwt_secret, exp=1, iat=0),
        token("alice", secret=client.stack.jwt_secret, aud="other"),
    ):
        answer = client.http.post(
            "/api/icons/generate", json=ORIGINAL_ICON, headers={"Authorization": f"Bearer {bad}"}
        )
        assert answer.status_code == 403 and answer.json() == {"message": "Forbidden"}
    for path in (
        "/api/icons/batches",
        "/api/openapi.json",
        "/api/images/icons/x/y.png",
        "/api/icons/categories/suggestions?q=tools",
    ):
        assert client.http.get(path).status_code == 401
    assert client.keys() == before


def test_another_users_batch_and_images_are_404(client: Client) -> None:
    answer = client.post("/api/icons/generate", {"category": "pets"}, Prefer="wait=25")
    assert answer.status_code == 200
    result = answer.json()
    batch_id, image_url = result["batch_id"], result["items"][0]["image_url"]
    for path in (f"/api/icons/batch/{batch_id}/status", f"/api/icons/batch/{batch_id}/result", image_url):
        stranger = client.get(path, "mallory")
        assert stranger.status_code == 404 and stranger.json()["error"] == "not_found"
    assert client.post(f"/api/icons/batch/{batch_id}/cancel", sub="mallory").status_code == 404
    assert client.get(image_url).status_code == 302


def test_cancel_mid_batch_over_http_keeps_counts_consistent(client: Client) -> None:
    accepted = client.post(
        "/api/icons/generate/batch", {"categories": [f"shop {n}" for n in range(40)]}
    ).json()
    cancelled = client.post(f"/api/icons/batch/{accepted['batch_id']}/cancel")
    assert cancelled.status_code == 200
    status = client.wait_until_done(accepted["status_url"])
    counts = status["counts"]
    assert status["state"] == "cancelled"
    assert counts["cancelled"] > 0
    assert counts["completed"] + counts["failed"] + counts["cancelled"] == counts["total"] == 40
    stored = [key for key in client.keys("icons/") if accepted["batch_id"] in key and key.endswith(".png")]
    assert len(stored) == counts["completed"]
    again = client.post(f"/api/icons/batch/{accepted['batch_id']}/cancel")
    assert again.status_code == 200 and again.json()["counts"] == counts


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/icons/generate", "{oops", 400),
        ("/api/icons/generate/batch", {"categories": ["c"] * 101}, 400),
        ("/api/images/generate", {"prompt": "x", "post_id": "../53", "section_id": "2"}, 400),
        ("/api/images/generate", {"prompt": "x" * 70_000, "post_id": "53", "section_id": "2"}, 413),
    ],
)
def test_bad_input_over_http_is_a_json_4xx(client: Client, path: str, body: object, status: int) -> None:
    content = body if isinstance(body, str) else None
    answer = client.http.post(
        path,
        content=content,
        json=None if content else body,
        headers={**client.auth(), "Content-Type": "application/json"},
    )
    assert answer.status_code == status
    assert set(answer.json()) == {"error", "message"}


def test_unknown_routes_are_404_and_openapi_is_served(client: Client) -> None:
    assert client.get("/api/nothing-here").status_code == 404
    document = client.get("/api/openapi.json").json()
    assert "/api/icons/batch/{batch_id}/status" in document["paths"]
