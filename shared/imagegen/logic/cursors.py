"""Listing cursors: a page's last key as base64 JSON, taken back only from the caller it was given to."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from imagegen.errors import InvalidRequestError
from imagegen.models.domain import Caller

JOB_CURSOR_FIELDS = frozenset({"pk", "sk", "owner", "created_at"})


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str, caller: Caller, expected: frozenset[str] = JOB_CURSOR_FIELDS
) -> dict[str, Any]:
    """A listing cursor this API returned to this caller; anything else is a 400."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidRequestError("cursor is not one this API returned") from error
    if not isinstance(key, dict) or set(key) != expected or key.get("owner") != caller.sub:
        raise InvalidRequestError("cursor is not one this API returned")
    if not all(isinstance(value, str) for value in key.values()):
        raise InvalidRequestError("cursor is not one this API returned")
    return key
