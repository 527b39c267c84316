"""Incoming CMS webhooks: each sender's signature is accepted as it signs it, and nothing else is.

Signatures are built here from each scheme as its sender's source writes it (see imagegen.logic.hooks_in),
not with the module's helpers; Sanity's own published test vectors pin the base64url detail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from imagegen.errors import InvalidRequestError, WebhookRejectedError
from imagegen.logic.hooks_in import TOLERANCE, HookRequest, verify_hook

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SECRET = "tenant-secret-one"
CONTENTFUL_SECRET = "c" * 64  # Contentful's signing secrets are 64 characters
STANDARD_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
GHOST_BODY = json.dumps(
    {
        "post": {
            "current": {
                "id": "6523a1",
                "title": "Spring menu",
                "updated_at": "2026-11-22T11:59:00.000Z",
                "html": "<p>Asparagus</p>",
            },
            "previous": {"title": "Spring"},
        }
    }
).encode()
SANITY_BODY = json.dumps({"_id": "post-42", "_type": "post", "title": "Hello"}).encode()
CONTENTFUL_BODY = json.dumps({"sys": {"id": "5KsDBWseXY6QegucYAoacS", "type": "Entry"}}).encode()
STANDARD_BODY = json.dumps({"type": "post.updated", "data": {"post_id": "p-7"}}).encode()


class Seen:
    """The replay store as a set: answers whether the key was there, then records it."""

    def __init__(self) -> None:
        self.keys: dict[str, datetime] = {}

    def __call__(self, key: str, expires_at: datetime) -> bool:
        before = key in self.keys
        self.keys[key] = expires_at
        return before


def _ms(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


def ghost_headers(body: bytes, secret: str = SECRET, at: datetime = NOW) -> dict[str, str]:
    t = _ms(at)
    digest = hmac.new(secret.encode(), body + t.encode(), hashlib.sha256).hexdigest()
    return {"X-Ghost-Signature": f"sha256={digest}, t={t}"}


def sanity_headers(body: bytes, secret: str = SECRET, at: datetime = NOW) -> dict[str, str]:
    t = _ms(at)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).digest()
    v1 = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return {"sanity-webhook-signature": f"t={t},v1={v1}", "sanity-operation": "update"}


def contentful_headers(
    body: bytes, secret: str = CONTENTFUL_SECRET, at: datetime = NOW, path: str = "/api/hooks/contentful"
) -> dict[str, str]:
    """As node-apps-toolkit's signRequest: sorted lowercase headers `k:v` joined by `;`, hex HMAC."""
    t = _ms(at)
    signed = {"x-contentful-topic": "ContentManagement.Entry.publish"}
    names = sorted([*signed, "x-contentful-signed-headers", "x-contentful-timestamp"])
    canonical_headers = {**signed, "x-contentful-timestamp": t}
    canonical_headers["x-contentful-signed-headers"] = ",".join(names)
    joined = ";".join(f"{k}:{canonical_headers[k]}" for k in names)
    message = f"POST\n{path}\n{joined}\n".encode() + body
    return {
        "X-Contentful-Topic": "ContentManagement.Entry.publish",
        "X-Contentful-Timestamp": t,
        "X-Contentful-Signed-Headers": ",".join(names),
        "X-Contentful-Signature": hmac.new(secret.encode(), message, hashlib.sha256).hexdigest(),
    }


def standard_headers(
    body: bytes, secret: str = STANDARD_SECRET, at: datetime = NOW, msg_id: str = "msg_1"
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


Signer = Callable[..., dict[str, str]]
CASES: dict[str, tuple[Signer, bytes, str]] = {
    "ghost": (ghost_headers, GHOST_BODY, SECRET),
    "sanity": (sanity_headers, SANITY_BODY, SECRET),
    "contentful": (contentful_headers, CONTENTFUL_BODY, CONTENTFUL_SECRET),
    "standard": (standard_headers, STANDARD_BODY, STANDARD_SECRET),
}
OTHER_SECRETS = {"standard": "whsec_" + base64.b64encode(b"another-key-another-key!").decode()}
SIGNATURE_HEADER = {
    "ghost": "X-Ghost-Signature",
    "sanity": "sanity-webhook-signature",
    "contentful": "X-Contentful-Signature",
    "standard": "webhook-signature",
}
SOURCES = list(CASES)


def _verify(source: str, headers: dict[str, str], body: bytes, secret: str, **kw: Any) -> Any:
    request = HookRequest(headers=headers, body=body, method="POST", path=f"/api/hooks/{source}")
    return verify_hook(source, request, secret, now=kw.get("now", NOW), seen=kw.get("seen", Seen()))


@pytest.mark.parametrize("source", SOURCES)
def test_a_correctly_signed_current_hook_is_accepted(source: str) -> None:
    sign, body, secret = CASES[source]
    verified = _verify(source, sign(body), body, secret)
    assert verified.event.source == source
    assert verified.replay_key.startswith(f"{source}:")


@pytest.mark.parametrize("source", SOURCES)
def test_the_wrong_secret_is_refused(source: str) -> None:
    sign, body, secret = CASES[source]
    other = OTHER_SECRETS.get(source, "d" * 64)
    with pytest.raises(WebhookRejectedError, match="does not match"):
        _verify(source, sign(body, other), body, secret)


@pytest.mark.parametrize("source", SOURCES)
def test_a_tampered_body_is_refused(source: str) -> None:
    sign, body, secret = CASES[source]
    headers = sign(body)
    with pytest.raises(WebhookRejectedError, match="does not match"):
        _verify(source, headers, body.replace(b'"', b"'", 1) + b" ", secret)


@pytest.mark.parametrize("source", SOURCES)
def test_a_missing_signature_header_is_refused(source: str) -> None:
    sign, body, secret = CASES[source]
    headers = {k: v for k, v in sign(body).items() if k.lower() != SIGNATURE_HEADER[source].lower()}
    with pytest.raises(WebhookRejectedError, match="missing"):
        _verify(source, headers, body, secret)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("garbage", ["sha256", "t=,v1=", "v1,", "x" * 300, "t=abc, sha256=zz"])
def test_a_malformed_signature_header_is_refused(source: str, garbage: str) -> None:
    sign, body, secret = CASES[source]
    headers = {**sign(body), SIGNATURE_HEADER[source]: garbage}
    with pytest.raises(WebhookRejectedError):
        _verify(source, headers, body, secret)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("offset", [-(TOLERANCE + timedelta(seconds=1)), TOLERANCE + timedelta(seconds=1)])
def test_a_timestamp_outside_five_minutes_is_refused(source: str, offset: timedelta) -> None:
    # Given a signature that is valid for its own (old or future) timestamp
    sign, body, secret = CASES[source]
    headers = sign(body, secret, NOW + offset)
    # Then the window alone refuses it
    with pytest.raises(WebhookRejectedError, match="5 minutes"):
        _verify(source, headers, body, secret)


@pytest.mark.parametrize("source", SOURCES)
def test_a_timestamp_just_inside_the_window_is_accepted(source: str) -> None:
    sign, body, secret = CASES[source]
    for offset in (-TOLERANCE + timedelta(seconds=1), TOLERANCE - timedelta(seconds=1)):
        assert _verify(source, sign(body, secret, NOW + offset), body, secret).event.source == source


@pytest.mark.parametrize("source", SOURCES)
def test_a_replay_is_refused_and_its_key_expires_with_the_window(source: str) -> None:
    sign, body, secret = CASES[source]
    headers = sign(body)
    seen = Seen()
    first = _verify(source, headers, body, secret, seen=seen)
    with pytest.raises(WebhookRejectedError, match="replay"):
        _verify(source, headers, body, secret, seen=seen)
    assert seen.keys == {first.replay_key: first.signed_at + TOLERANCE}


@pytest.mark.parametrize("source", SOURCES)
def test_a_refused_signature_records_no_replay_key(source: str) -> None:
    sign, body, secret = CASES[source]
    seen = Seen()
    with pytest.raises(WebhookRejectedError):
        _verify(source, sign(body, OTHER_SECRETS.get(source, "e" * 64)), body, secret, seen=seen)
    assert seen.keys == {}


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_header_name_casing_does_not_matter(source: str, case: Callable[[str], str]) -> None:
    sign, body, secret = CASES[source]
    headers = {case(k): v for k, v in sign(body).items()}
    assert _verify(source, headers, body, secret).event.source == source


def test_a_header_sent_twice_under_two_casings_is_refused() -> None:
    headers = ghost_headers(GHOST_BODY)
    headers["x-ghost-signature"] = headers["X-Ghost-Signature"]
    with pytest.raises(WebhookRejectedError, match="twice"):
        _verify("ghost", headers, GHOST_BODY, SECRET)


def test_an_unknown_source_is_refused() -> None:
    with pytest.raises(WebhookRejectedError, match="unknown webhook source"):
        _verify("wordpress", ghost_headers(GHOST_BODY), GHOST_BODY, SECRET)


def test_sanity_matches_the_toolkits_own_test_vectors() -> None:
    # sanity-io/webhook-toolkit test/signature.test.ts: known answers for (payload, timestamp, secret).
    vectors = [
        (b'{"_id":"resume"}', "test", "t=1633519811129,v1=tLa470fx7qkLLEcMOcEUFuBbRSkGujyskxrNXcoh0N0"),
        (
            b'{"title":"GROQ-Hooks are neat"}',
            "try-me",
            "t=1633518820676,v1=e7C9h2sfbFfc4V7TEz7PSOp4IoNzl0UdVsBV-1wgdeA",
        ),
    ]
    for body, secret, header in vectors:
        signed_at = datetime.fromtimestamp(int(header[2:15]) / 1000, tz=UTC)
        verified = _verify("sanity", {"Sanity-Webhook-Signature": header}, body, secret, now=signed_at)
        assert verified.signed_at == signed_at


def test_sanity_accepts_a_space_after_the_comma_as_its_toolkit_does() -> None:
    headers = sanity_headers(SANITY_BODY)
    headers["sanity-webhook-signature"] = headers["sanity-webhook-signature"].replace(",v1=", ", v1=")
    assert _verify("sanity", headers, SANITY_BODY, SECRET).event.post_id == "post-42"


def test_ghost_timestamps_are_milliseconds() -> None:
    # A seconds timestamp read as milliseconds lands in 1970: far outside the window.
    t = str(int(NOW.timestamp()))
    digest = hmac.new(SECRET.encode(), GHOST_BODY + t.encode(), hashlib.sha256).hexdigest()
    with pytest.raises(WebhookRejectedError, match="old"):
        _verify("ghost", {"x-ghost-signature": f"sha256={digest}, t={t}"}, GHOST_BODY, SECRET)


def test_ghost_post_event_carries_id_title_update_and_content_hash() -> None:
    event = _verify("ghost", ghost_headers(GHOST_BODY), GHOST_BODY, SECRET).event
    assert (event.event_type, event.post_id, event.title) == ("post", "6523a1", "Spring menu")
    assert event.updated_at == "2026-11-22T11:59:00.000Z"
    assert event.content_hash == hashlib.sha256(b"<p>Asparagus</p>").hexdigest()
    assert not event.deleted


def test_ghost_deletion_reads_the_previous_state() -> None:
    body = json.dumps({"post": {"current": {}, "previous": {"id": "6523a1", "title": "Gone"}}}).encode()
    event = _verify("ghost", ghost_headers(body), body, SECRET).event
    assert event.deleted and event.post_id == "6523a1" and event.content_hash is None


def test_a_signed_body_that_is_not_json_is_an_invalid_request() -> None:
    body = b"not json"
    with pytest.raises(InvalidRequestError, match="not JSON"):
        _verify("ghost", ghost_headers(body), body, SECRET)


def test_contentful_signed_headers_are_part_of_the_signature() -> None:
    headers = contentful_headers(CONTENTFUL_BODY)
    headers["X-Contentful-Topic"] = "ContentManagement.Entry.delete"
    with pytest.raises(WebhookRejectedError, match="does not match"):
        _verify("contentful", headers, CONTENTFUL_BODY, CONTENTFUL_SECRET)


def test_contentful_unsigned_headers_may_change() -> None:
    headers = {**contentful_headers(CONTENTFUL_BODY), "X-Contentful-Webhook-Name": "anything"}
    event = _verify("contentful", headers, CONTENTFUL_BODY, CONTENTFUL_SECRET).event
    assert (event.event_type, event.post_id) == ("ContentManagement.Entry.publish", "5KsDBWseXY6QegucYAoacS")


def test_contentful_path_and_method_are_signed() -> None:
    headers = contentful_headers(CONTENTFUL_BODY)
    for method, path in [("PUT", "/api/hooks/contentful"), ("POST", "/api/hooks/contentful2")]:
        request = HookRequest(headers=headers, body=CONTENTFUL_BODY, method=method, path=path)
        with pytest.raises(WebhookRejectedError, match="does not match"):
            verify_hook("contentful", request, CONTENTFUL_SECRET, now=NOW, seen=Seen())


def test_contentful_query_is_percent_encoded_as_the_toolkit_does() -> None:
    # getNormalizedEncodedURI: encodeURIComponent on the query ("=" -> %3D, "&" -> %26), then encodeURI.
    path = "/api/hooks/contentful?tenant=a b&x=1"
    headers = contentful_headers(CONTENTFUL_BODY, path="/api/hooks/contentful?tenant%253Da%2520b%2526x%253D1")
    request = HookRequest(headers=headers, body=CONTENTFUL_BODY, method="POST", path=path)
    assert verify_hook("contentful", request, CONTENTFUL_SECRET, now=NOW, seen=Seen()).event.post_id


def test_standard_webhooks_accepts_any_of_several_signatures() -> None:
    # Key rotation: the sender signs with the old and the new secret; the receiver knows one of them.
    old = standard_headers(STANDARD_BODY, OTHER_SECRETS["standard"])["webhook-signature"]
    headers = standard_headers(STANDARD_BODY)
    # and entries this receiver cannot use (another version, bad base64) are skipped, not fatal.
    headers["webhook-signature"] = f"v2,abc v1,!!! {old} {headers['webhook-signature']}"
    event = _verify("standard", headers, STANDARD_BODY, STANDARD_SECRET).event
    assert (event.event_type, event.post_id) == ("post.updated", "p-7")


def test_standard_webhooks_replay_key_is_the_message_id() -> None:
    # Two deliveries of one message carry fresh signatures but the same id: the second is a replay.
    seen = Seen()
    first = standard_headers(STANDARD_BODY, msg_id="msg_same")
    again = standard_headers(STANDARD_BODY, at=NOW + timedelta(seconds=5), msg_id="msg_same")
    _verify("standard", first, STANDARD_BODY, STANDARD_SECRET, seen=seen)
    with pytest.raises(WebhookRejectedError, match="replay"):
        _verify("standard", again, STANDARD_BODY, STANDARD_SECRET, seen=seen)


def test_standard_webhooks_agrees_with_the_librarys_own_verify() -> None:
    # With the real clock, the library's verify() and ours accept the same request.
    now = datetime.now(tz=UTC)
    headers = standard_headers(STANDARD_BODY, at=now)
    assert Webhook(STANDARD_SECRET).verify(STANDARD_BODY, headers) == json.loads(STANDARD_BODY)
    assert _verify("standard", headers, STANDARD_BODY, STANDARD_SECRET, now=now).event.post_id == "p-7"
