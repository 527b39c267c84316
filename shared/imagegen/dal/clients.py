"""Cached boto3 client factories, made on first use (never at import time)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Short connect/read timeouts: a stuck AWS call should fail the request, not hang a Lambda.
_CONFIG = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 4})
# Presigned URLs must be SigV4 (SigV2 is refused by new buckets).
_SERVICE_CONFIG = {"s3": _CONFIG.merge(Config(signature_version="s3v4"))}


@cache
def client(service: str) -> Any:
    """One client per service per process; AWS_ENDPOINT_URL (local stack) is honoured by boto3."""
    return boto3.session.Session().client(service, config=_SERVICE_CONFIG.get(service, _CONFIG))  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (the local stack and tests point them at a new endpoint)."""
    client.cache_clear()
