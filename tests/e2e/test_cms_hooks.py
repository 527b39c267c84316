"""CMS webhooks in, end to end on the local stack: a Ghost-signed post event makes its sections' images;
the same post again makes nothing, a changed section only itself; bad signatures, old timestamps and
replays are refused 401 with nothing made."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e

POST_ID = "6565d0b1c2a3f40001a1b2c3"  # Ghost's ids are 24 hex digits


def ghost_post(
    intro: str = "Bees keep the orchard alive.", second: str = "A hive holds 50,000 bees."
) -> bytes:
    """A post.published body as Ghost serialises it: `{"post": {"current": {...}, "previous": {...}}}`."""
    html = (
        f"<p>{intro}</p><h2>Why bees matter</h2><p>They pollinate <em>most</em> fruit trees.</p>"
        f"<h2>Inside the hive</h2><p>{second}</p>"
    )
    current = {
        "id": POST_ID,
        "title": "The orchard's bees",
        "status": "published",
        "html": html,
        "custom_excerpt": "How bees and apples need each other",
        "updated_at": "2026-11-22T10:00:00.000Z",
    }
    return json.dumps({"post": {"current": current, "previous": {"status": "draft"}}}).encode()


def ghost_headers(secret: str, body: bytes, at_ms: int | None = None) -> dict[str, str]:
    """Signed as Ghost's webhook-trigger.js signs: sha256=<hex hmac(secret, body + t)>, t=<ms>."""
    ts = str(at_ms if at_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), body + ts.encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Ghost-Signature": f"sha256={digest}, t={ts}"}


def send(client: Client, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    # The hook URL as the service gave it, path and query, sent without any bearer token.
    parts = urlsplit(url)
    return client.http.post(f"{parts.path}?{parts.query}", content=body, headers=headers)


def section_keys(client: Client) -> list[str]:
    return [key for key in client.keys(f"posts/{POST_ID}/sections/") if key.endswith(".png")]


@pytest.fixture(scope="module")
def hook(client: Client) -> dict[str, Any]:
    made = client.post("/api/hooks/ghost/secret", sub="editor")
    assert made.status_code == 200, made.text
    return dict(made.json())


def test_the_owner_gets_a_hook_url_that_names_no_owner(client: Client, hook: dict[str, Any]) -> None:
    assert hook["source"] == "ghost"
    assert "editor" not in hook["url"]
    assert urlsplit(hook["url"]).path == "/api/hooks/ghost"
    again = client.get("/api/hooks/ghost/secret", sub="editor")
    assert again.json() == hook
    assert client.get("/api/hooks/ghost/secret", sub="someone-else").status_code == 404
    # Without a token the secret routes are API Gateway's 401, as every other JWT route.
    assert client.http.get("/api/hooks/ghost/secret").status_code == 401


def test_a_ghost_post_makes_its_sections_images_once(client: Client, hook: dict[str, Any]) -> None:
    # Given a Ghost-signed post.published event
    body = ghost_post()
    answer = send(client, hook["url"], body, ghost_headers(hook["secret"], body))
    # Then a blog job makes the hero and one image per h2 section
    assert answer.status_code == 202, answer.text
    created = answer.json()
    assert created["sections"] == ["hero", "why-bees-matter", "inside-the-hive"]
    status = client.wait_until_done(created["status_url"], sub="editor")
    assert status["state"] == "completed", status
    keys = section_keys(client)
    assert sorted(key.split("/")[3] for key in keys) == ["hero", "inside-the-hive", "why-bees-matter"]
    metadata_key = keys[0].removesuffix(".png") + "_metadata.json"
    metadata = json.loads(
        client.aws("s3")
        .get_object(Bucket=client.stack.resource("ImagesBucket"), Key=metadata_key)["Body"]
        .read()
    )
    assert metadata["post_id"] == POST_ID and metadata["section_id"] == keys[0].split("/")[3]
    assert metadata["prompt"]

    # When the same post arrives again (a new delivery, signed anew), nothing is made
    again = send(client, hook["url"], body, ghost_headers(hook["secret"], body))
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "unchanged"
    assert len(section_keys(client)) == 3

    # When one section's text changes, only that section gets a new image
    changed = ghost_post(second="A hive holds 60,000 bees in summer.")
    answer = send(client, hook["url"], changed, ghost_headers(hook["secret"], changed))
    assert answer.status_code == 202, answer.text
    assert answer.json()["sections"] == ["inside-the-hive"]
    assert client.wait_until_done(answer.json()["status_url"], sub="editor")["state"] == "completed"
    keys = section_keys(client)
    assert len(keys) == 4
    assert sum("/inside-the-hive/" in key for key in keys) == 2


def test_refused_webhooks_make_nothing(client: Client, hook: dict[str, Any]) -> None:
    body = ghost_post(intro="A new intro that would make a new hero.")
    before = section_keys(client)
    jobs_before = client.get("/api/jobs", sub="editor").json()

    bad = ghost_headers("not-the-secret", body)
    old = ghost_headers(hook["secret"], body, at_ms=int((time.time() - 600) * 1000))
    signed = ghost_headers(hook["secret"], body)
    unknown = hook["url"].replace("hook=", "hook=x")
    answers = {
        "bad signature": send(client, hook["url"], body, bad),
        "old timestamp": send(client, hook["url"], body, old),
        "unknown hook": send(client, unknown, body, signed),
        "wrong source": send(client, hook["url"].replace("/ghost?", "/sanity?"), body, signed),
        "tampered body": send(client, hook["url"], body.replace(b"new intro", b"odd intro"), signed),
    }
    for name, answer in answers.items():
        assert answer.status_code == 401, (name, answer.text)
        assert answer.json()["error"] == "webhook_rejected", name
        assert hook["secret"] not in answer.text and "editor" not in answer.text, name

    # The genuine delivery goes through once; its replay is refused
    first = send(client, hook["url"], body, signed)
    assert first.status_code == 202, first.text
    replay = send(client, hook["url"], body, signed)
    assert replay.status_code == 401 and "replay" in replay.json()["message"]
    jobs_after = client.get("/api/jobs", sub="editor").json()
    assert len(jobs_after["batches"]) == len(jobs_before["batches"]) + 1
    client.wait_until_done(first.json()["status_url"], sub="editor")
    assert len(section_keys(client)) == len(before) + 1  # the new hero only


def test_an_unpublished_post_makes_nothing(client: Client, hook: dict[str, Any]) -> None:
    body = json.dumps(
        {
            "post": {
                "current": {"id": POST_ID, "title": "The orchard's bees", "status": "draft"},
                "previous": {},
            }
        }
    ).encode()
    answer = send(client, hook["url"], body, ghost_headers(hook["secret"], body))
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "ignored"
