"""Helpers shared by the test suites: a clean environment, tokens, API Gateway v2 events, PNG checks."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Mapping
from typing import Any

import jwt
from PIL import Image
from pydantic import AliasChoices, AliasPath

from imagegen.config import Settings


def _settings_variables() -> frozenset[str]:
    """The environment variables Settings reads, from its fields: a new setting is covered unlisted."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if alias else []
        for choice in choices:
            path = choice.path if isinstance(choice, AliasPath) else [choice]
            if isinstance(path[0], str):
                names.add(path[0])
        if not choices:  # pydantic-settings adds the prefix only to names it derives itself
            names.add(f"{prefix}{field.alias or field_name}")
    return frozenset(name.upper() for name in names)  # Settings matches names case-insensitively


SETTINGS_VARIABLES = _settings_variables()
# Read by the libraries under the service rather than by Settings: boto3 (AWS_PROFILE,
# AWS_ENDPOINT_URL, ...), Powertools (log level, service name, idempotency switch), the openai SDK.
LIBRARY_PREFIXES = ("AWS_", "POWERTOOLS_", "OPENAI_")
# What a child process of a test inherits: enough to run a program, nothing that configures ours.
BASIC_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT")


def configures_the_service(name: str) -> bool:
    """Whether a variable exported in a shell could change what the service (or a test) does."""
    return name.upper() in SETTINGS_VARIABLES or name.upper().startswith(LIBRARY_PREFIXES)


def clean_environ(explicit: Mapping[str, str] | None = None, **variables: str) -> dict[str, str]:
    """The environment of a stack or a subprocess in a test: the basics to run a program from the
    shell, and what the test sets, nothing else; a variable exported in a terminal cannot leak in."""
    basics = {name: os.environ[name] for name in BASIC_VARIABLES if name in os.environ}
    return {**basics, **(explicit or {}), **variables}


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
