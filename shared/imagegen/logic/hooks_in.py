"""Verify incoming CMS webhooks (issue 12, part 2: `POST /api/hooks/{source}`). Not wired yet.

Pure logic: the caller passes the raw body bytes, the headers, the tenant's secret, the clock and a
`seen(key, expires_at)` callable (the replay store: it records the key and answers whether it was
there before; a DynamoDB conditional put later). Every refusal is a WebhookRejectedError (401); a
correctly signed body that is not usable JSON is an InvalidRequestError (400).

Order of checks: the signature first (an unsigned caller learns nothing else), then the timestamp
window, then replay. The replay key lives only until its signed time leaves the window, because
after that the timestamp check refuses the same request by itself.

What was checked against each sender's own source (2026-11-22, through the code search index):
- Ghost, ghost/core/core/server/services/webhooks/webhook-trigger.js: the header is
  `sha256=${hmac_sha256(secret, `${reqPayload}${ts}`).hex}, t=${ts}` with ts = Date.now() (ms) and
  reqPayload the JSON body sent; one signature per request. serialize.js: the body is
  `{"<resource>": {"current": {...}, "previous": {...}}}` and the event name is sent nowhere.
- Sanity, sanity-io/webhook-toolkit src/signature.ts: `t=<ms>,v1=<base64url(hmac_sha256(secret,
  `${t}.${payload}`)), unpadded>`, parsed with /^t=(\\d+)[, ]+v1=([^, ]+)$/ (one signature; timestamps
  in milliseconds, at least 2021-01-01).
- Contentful, contentful/node-apps-toolkit src/requests/{verify-request,sign-request,utils}.ts: the
  signed headers are picked by name from the lowercased, trimmed request headers; the timestamp and
  signed-headers headers are (re)set to their values; the canonical request is
  `METHOD\\nencodedPath\\nk:v;k:v (sorted by key)\\nbody`, HMAC-SHA256 hex; timestamps in ms.
- Standard Webhooks: the `standardwebhooks` library signs; its `verify()` reads the system clock,
  which cannot be injected, so the header parsing and the window are done here with the same rules.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from standardwebhooks.webhooks import Webhook

from imagegen.errors import InvalidRequestError, WebhookRejectedError
from imagegen.models.hooks import HOOK_SOURCES, HookEvent, HookSource, VerifiedHook

# Both ways: an old request may be a replay, a future one a clock we cannot trust. Five minutes is the
# Standard Webhooks reference libraries' tolerance; Contentful's toolkit defaults to 30 s (past only).
TOLERANCE = timedelta(minutes=5)
Seen = Callable[[str, datetime], bool]

_GHOST_PART = re.compile(r"(sha256|t)=([^,\s]+)")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,16}")
_SANITY_HEADER = re.compile(r"t=([0-9]{1,16})[, ]+v1=([^, ]+)")
_CONTENTFUL_METHODS = frozenset({"GET", "PATCH", "HEAD", "POST", "DELETE", "OPTIONS", "PUT"})
_CF_SIGNATURE = "x-contentful-signature"
_CF_TIMESTAMP = "x-contentful-timestamp"
_CF_SIGNED_HEADERS = "x-contentful-signed-headers"


@dataclass(frozen=True)
class HookRequest:
    """The parts of an HTTP request a signature may cover."""

    headers: Mapping[str, str]
    body: bytes
    method: str = "POST"
    path: str = "/"


@dataclass(frozen=True)
class _Signed:
    signed_at: datetime
    replay_key: str


def verify_hook(source: str, request: HookRequest, secret: str, *, now: datetime, seen: Seen) -> VerifiedHook:
    """The event a correctly signed, current, first-seen webhook carries; WebhookRejectedError if not."""
    if source not in HOOK_SOURCES:
        raise WebhookRejectedError(f"unknown webhook source; expected one of {', '.join(HOOK_SOURCES)}")
    headers = _lower_headers(request.headers)
    signed = _VERIFIERS[source](headers, request, secret)
    _check_window(signed.signed_at, now)
    if seen(signed.replay_key, signed.signed_at + TOLERANCE):
        raise WebhookRejectedError("this webhook was already received (replay)")
    event = _PARSERS[source](headers, _json_object(request.body))
    return VerifiedHook(event=event, replay_key=signed.replay_key, signed_at=signed.signed_at)


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in lowered:
            raise WebhookRejectedError(f"header {key} was sent twice")
        lowered[key] = value
    return lowered


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise WebhookRejectedError(f"missing {name} header")
    return value


def _check_window(signed_at: datetime, now: datetime) -> None:
    if signed_at < now - TOLERANCE:
        raise WebhookRejectedError("webhook timestamp is more than 5 minutes old")
    if signed_at > now + TOLERANCE:
        raise WebhookRejectedError("webhook timestamp is more than 5 minutes in the future")


def _at(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise WebhookRejectedError("webhook timestamp is out of range") from None


def _from_ms(digits: str) -> datetime:
    return _at(int(digits) / 1000)


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _same(given: str, expected: str) -> bool:
    # compare_digest on str refuses non-ASCII with TypeError: compare the bytes instead.
    return hmac.compare_digest(given.encode(), expected.encode())


def _verify_ghost(headers: Mapping[str, str], request: HookRequest, secret: str) -> _Signed:
    """`X-Ghost-Signature: sha256=<hex>, t=<ms>`, hex = HMAC-SHA256(secret, body + t)."""
    value = _header(headers, "x-ghost-signature")
    parts = dict(_GHOST_PART.findall(value))
    if set(parts) != {"sha256", "t"} or not _HEX64.fullmatch(parts["sha256"]):
        raise WebhookRejectedError("malformed x-ghost-signature header; expected sha256=<hex>, t=<ms>")
    if not _DIGITS.fullmatch(parts["t"]):
        raise WebhookRejectedError("malformed x-ghost-signature timestamp")
    expected = _hmac(secret, request.body + parts["t"].encode()).hex()
    if not _same(parts["sha256"], expected):
        raise WebhookRejectedError("x-ghost-signature does not match the body")
    return _Signed(_from_ms(parts["t"]), f"ghost:{parts['sha256']}")


def _verify_sanity(headers: Mapping[str, str], request: HookRequest, secret: str) -> _Signed:
    """`sanity-webhook-signature: t=<ms>,v1=<base64url HMAC-SHA256(secret, "t.body")>`."""
    match = _SANITY_HEADER.fullmatch(_header(headers, "sanity-webhook-signature"))
    if match is None:
        raise WebhookRejectedError("malformed sanity-webhook-signature header; expected t=<ms>,v1=<sig>")
    timestamp, given = match.groups()
    digest = _hmac(secret, timestamp.encode() + b"." + request.body)
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    if not _same(given, expected):
        raise WebhookRejectedError("sanity-webhook-signature does not match the body")
    return _Signed(_from_ms(timestamp), f"sanity:{given}")


def _contentful_path(path: str) -> str:
    """node-apps-toolkit's getNormalizedEncodedURI: encodeURIComponent on the query, encodeURI on all."""
    pathname, *rest = path.split("?")
    # The toolkit keeps only the text between the first and second "?" (JS destructuring of split).
    search = quote(rest[0], safe="!*'()") if rest else ""
    return quote(f"{pathname}?{search}" if search else pathname, safe=";,/?:@&=+$!*'()#")


def _contentful_canonical(headers: Mapping[str, str], request: HookRequest, timestamp: str) -> bytes:
    # As the toolkit does: names split on "," untrimmed, request headers lowercased and trimmed.
    signed_names = headers[_CF_SIGNED_HEADERS].strip().split(",")
    picked = {k.strip(): v.strip() for k, v in headers.items() if k.strip() in signed_names}
    picked.setdefault(_CF_SIGNED_HEADERS, "")
    picked[_CF_TIMESTAMP] = timestamp
    picked[_CF_SIGNED_HEADERS] = ",".join(sorted(picked))
    joined = ";".join(f"{key}:{picked[key]}" for key in sorted(picked))
    head = "\n".join([request.method, _contentful_path(request.path), joined])
    return head.encode() + b"\n" + request.body


def _verify_contentful(headers: Mapping[str, str], request: HookRequest, secret: str) -> _Signed:
    """Contentful request verification: HMAC-SHA256 hex over the canonical request."""
    given = _header(headers, _CF_SIGNATURE)
    timestamp = _header(headers, _CF_TIMESTAMP)
    signed_names = _header(headers, _CF_SIGNED_HEADERS).split(",")
    if not _HEX64.fullmatch(given) or not _DIGITS.fullmatch(timestamp) or len(signed_names) < 2:
        raise WebhookRejectedError("malformed x-contentful-signature, -timestamp or -signed-headers header")
    if request.method not in _CONTENTFUL_METHODS or not request.path.startswith("/"):
        raise WebhookRejectedError("request method or path cannot be verified")
    expected = hmac.new(
        secret.encode(), _contentful_canonical(headers, request, timestamp), hashlib.sha256
    ).hexdigest()
    if not _same(given, expected):
        raise WebhookRejectedError("x-contentful-signature does not match the request")
    return _Signed(_from_ms(timestamp), f"contentful:{given}")


def _standard_signature_matches(given: str, expected: bytes) -> bool:
    for entry in given.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        if hmac.compare_digest(candidate, expected):
            return True
    return False


def _verify_standard(headers: Mapping[str, str], request: HookRequest, secret: str) -> _Signed:
    """Standard Webhooks: `webhook-signature: v1,<b64> v1,<b64>` (rotation) over `id.timestamp.body`."""
    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    given = _header(headers, "webhook-signature")
    if not _DIGITS.fullmatch(timestamp):
        raise WebhookRejectedError("malformed webhook-timestamp header; expected unix seconds")
    try:
        text = request.body.decode()
    except UnicodeDecodeError:
        raise WebhookRejectedError("webhook body is not UTF-8") from None
    signed_at = _at(int(timestamp))
    expected = Webhook(secret).sign(msg_id=msg_id, timestamp=signed_at, data=text)
    if not _standard_signature_matches(given, base64.b64decode(expected.partition(",")[2])):
        raise WebhookRejectedError("webhook-signature does not match the body")
    return _Signed(signed_at, f"standard:{msg_id}")


_VERIFIERS: dict[HookSource, Callable[[Mapping[str, str], HookRequest, str], _Signed]] = {
    "ghost": _verify_ghost,
    "sanity": _verify_sanity,
    "contentful": _verify_contentful,
    "standard": _verify_standard,
}


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError("webhook body is not JSON") from None
    if not isinstance(parsed, dict):
        raise InvalidRequestError("webhook body is not a JSON object")
    return parsed


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _ghost_event(_headers: Mapping[str, str], body: dict[str, Any]) -> HookEvent:
    """`{"post": {"current": {...}, "previous": {...}}}`: Ghost sends no event name, only the resource."""
    if len(body) != 1:
        raise InvalidRequestError("Ghost webhook body should hold one resource (post, page, ...)")
    resource, change = next(iter(body.items()))
    current = change.get("current") if isinstance(change, dict) else None
    current = current if isinstance(current, dict) else {}
    previous = change.get("previous") if isinstance(change, dict) else None
    # A deletion sends an empty `current` and the last state in `previous`.
    state = current or (previous if isinstance(previous, dict) else {})
    html = _text(current.get("html"))
    return HookEvent(
        source="ghost",
        event_type=resource,
        post_id=_text(state.get("id")),
        title=_text(state.get("title")),
        updated_at=_text(state.get("updated_at")),
        content_hash=hashlib.sha256(html.encode()).hexdigest() if html else None,
        deleted=not current,
    )


def _sanity_event(headers: Mapping[str, str], body: dict[str, Any]) -> HookEvent:
    # The body is whatever the webhook's GROQ projection makes it; without one it is the document.
    # sanity-operation is a metadata header outside the signature: a hint, not a fact.
    operation = headers.get("sanity-operation", "").strip()
    return HookEvent(
        source="sanity",
        event_type=operation or _text(body.get("_type")) or "document",
        post_id=_text(body.get("_id")),
        title=_text(body.get("title")),
        updated_at=_text(body.get("_updatedAt")),
        deleted=operation == "delete",
    )


def _contentful_event(headers: Mapping[str, str], body: dict[str, Any]) -> HookEvent:
    sys = body.get("sys")
    sys = sys if isinstance(sys, dict) else {}
    topic = headers.get("x-contentful-topic", "").strip()
    return HookEvent(
        source="contentful",
        event_type=topic or _text(sys.get("type")) or "entity",
        post_id=_text(sys.get("id")),
        updated_at=_text(sys.get("updatedAt")),
        deleted=topic.endswith((".delete", ".unpublish")),
    )


def _standard_event(_headers: Mapping[str, str], body: dict[str, Any]) -> HookEvent:
    # The spec's payload convention: {"type": ..., "timestamp": ..., "data": {...}}.
    data = body.get("data")
    data = data if isinstance(data, dict) else {}
    return HookEvent(
        source="standard",
        event_type=_text(body.get("type")) or "event",
        post_id=_text(data.get("post_id")) or _text(data.get("id")),
        title=_text(data.get("title")),
        updated_at=_text(data.get("updated_at")),
    )


_PARSERS: dict[HookSource, Callable[[Mapping[str, str], dict[str, Any]], HookEvent]] = {
    "ghost": _ghost_event,
    "sanity": _sanity_event,
    "contentful": _contentful_event,
    "standard": _standard_event,
}
