"""A web page's view of the local stack: presigned URLs it can use with no token, and CORS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.conftest import Client, start_stack
from tests.helpers import png_size

pytestmark = pytest.mark.e2e

PAGE = "http://localhost:5173"  # an allowed origin, as a dev server's page would have
TTL = 20  # PRESIGN_TTL_SECONDS for this stack: short, so the expiry can be checked near the clock
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    stack = start_stack(CORS_ALLOWED_ORIGINS=f"{PAGE},https://cms.example.com", PRESIGN_TTL_SECONDS=str(TTL))
    try:
        yield Client(stack)
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def icon_result(client: Client) -> dict[str, Any]:
    """Alice's icon with a 64 px derivative, waited for: the result a page would show."""
    body = {"category": "pets", "derivatives": [64], "use_cache": False}
    answer = client.post("/api/icons/generate", body, Prefer="wait=25")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    assert result["state"] == "completed"
    return result


def _no_token_get(url: str) -> httpx.Response:
    return httpx.get(url, headers={"Origin": PAGE})  # what an <img src> sends: no Authorization


def _signed_at_and_lifetime(url: str) -> tuple[datetime, int]:
    query = parse_qs(urlsplit(url).query)
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed_at, int(query["X-Amz-Expires"][0])


def test_a_results_presigned_urls_give_the_png_metadata_and_derivative_without_a_token(
    client: Client, icon_result: dict[str, Any]
) -> None:
    item = icon_result["items"][0]
    assert item["image_url"] == f"/api/images/{item['key']}"  # the API path is kept as it was
    # The URL points at the emulated S3 on loopback, which a browser on this machine reaches.
    assert item["download_url"].startswith(client.stack.aws.endpoint + "/")

    image = _no_token_get(item["download_url"])
    assert image.status_code == 200
    assert image.content.startswith(PNG_SIGNATURE) and png_size(image.content) == (1024, 1024)
    bucket = client.aws("s3").get_object(Bucket=client.stack.resource("ImagesBucket"), Key=item["key"])
    assert image.content == bucket["Body"].read()

    metadata = _no_token_get(item["metadata_download_url"])
    assert metadata.status_code == 200 and metadata.json()["category"] == "pets"

    (derivative,) = item["derivatives"]
    assert derivative["size"] == "64x64" and derivative["image_url"] == f"/api/images/{derivative['key']}"
    assert png_size(_no_token_get(derivative["download_url"]).content) == (64, 64)


def test_presigned_urls_expire_after_presign_ttl_seconds_and_say_when(
    client: Client, icon_result: dict[str, Any]
) -> None:
    before = datetime.now(UTC)
    result = client.get(f"/api/icons/batch/{icon_result['batch_id']}/result").json()
    item = result["items"][0]
    expires_at = datetime.fromisoformat(item["download_url_expires_at"])
    # Given PRESIGN_TTL_SECONDS=20, each URL is signed for 20 s (SigV4: X-Amz-Date + X-Amz-Expires)...
    for url in (item["download_url"], item["metadata_download_url"], item["derivatives"][0]["download_url"]):
        signed_at, lifetime = _signed_at_and_lifetime(url)
        assert lifetime == TTL
        # ...and the answer's expiry is that moment, never later than the URL's own.
        assert timedelta(0) <= signed_at + timedelta(seconds=lifetime) - expires_at <= timedelta(seconds=1)
    assert before - timedelta(seconds=1) <= expires_at - timedelta(seconds=TTL) <= datetime.now(UTC)
    # Asking again gives fresh URLs: a page whose URLs ran out reloads the result.
    assert datetime.fromisoformat(icon_result["items"][0]["download_url_expires_at"]) <= expires_at


def test_an_image_link_as_json_for_a_page_that_cannot_follow_a_redirect(
    client: Client, icon_result: dict[str, Any]
) -> None:
    item = icon_result["items"][0]
    redirect = client.get(item["image_url"])
    assert redirect.status_code == 302  # the original behaviour stays the default
    link = client.http.get(item["image_url"], headers={**client.auth(), "Accept": "application/json"})
    assert link.status_code == 200 and link.headers["cache-control"] == "private, no-store"
    body = link.json()
    assert body["key"] == item["key"]
    assert _signed_at_and_lifetime(body["download_url"])[1] == TTL
    assert datetime.fromisoformat(body["download_url_expires_at"]) > datetime.now(UTC)
    assert _no_token_get(body["download_url"]).content.startswith(PNG_SIGNATURE)


def test_another_users_result_and_image_give_no_url(client: Client, icon_result: dict[str, Any]) -> None:
    item = icon_result["items"][0]
    for path in (f"/api/icons/batch/{icon_result['batch_id']}/result", item["image_url"]):
        for accept in ("application/json", "*/*"):
            stranger = client.http.get(path, headers={**client.auth("mallory"), "Accept": accept})
            assert stranger.status_code == 404 and stranger.json()["error"] == "not_found"
            assert "X-Amz-" not in stranger.text and "location" not in stranger.headers


def test_preflight_from_an_allowed_origin_is_answered_without_a_token(client: Client) -> None:
    preflight = client.http.options(
        "/api/icons/generate",
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key,prefer",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == PAGE
    allowed_headers = {
        h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type", "idempotency-key", "prefer"} <= allowed_headers
    assert {"GET", "POST"} <= set(preflight.headers["access-control-allow-methods"].split(","))
    assert int(preflight.headers["access-control-max-age"]) > 0


def test_preflight_from_another_origin_gets_no_cors_headers(client: Client) -> None:
    preflight = client.http.options(
        "/api/icons/generate",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert not [name for name in preflight.headers if name.lower().startswith("access-control-")]


def test_answers_carry_cors_headers_for_allowed_origins_only(
    client: Client, icon_result: dict[str, Any]
) -> None:
    path = f"/api/icons/batch/{icon_result['batch_id']}/status"
    allowed = client.http.get(path, headers={**client.auth(), "Origin": "https://cms.example.com"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://cms.example.com"
    assert "location" in allowed.headers["access-control-expose-headers"].lower()
    assert allowed.headers["vary"] == "Origin"
    # An error a page must be able to read (no token) carries them too, as API Gateway's do.
    unauthorized = client.http.get(path, headers={"Origin": PAGE})
    assert unauthorized.status_code == 401 and unauthorized.headers["access-control-allow-origin"] == PAGE
    other = client.http.get(path, headers={**client.auth(), "Origin": "https://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
