"""Helpers shared by the test suites: tokens, API Gateway v2 events, PNG checks."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import jwt
from PIL import Image

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
ISSUER = "imagegen"
AUDIENCE = "imagegen"


def token(subject: str = "alice", secret: str = SECRET, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, secret, algorithm="HS256")


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    sub: str = "alice",
    scope: str = "",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event as API Gateway sends it after the authorizer allowed `sub`."""
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json", **(headers or {})},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "test",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "authorizer": {"lambda": {"sub": sub, "scope": scope}},
        },
        "isBase64Encoded": False,
    }
    if text is not None:
        event["body"] = text
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    return event


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
        image.load()
        return image.size
