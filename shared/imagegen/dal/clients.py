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


BATCH_WRITE_MAX = 25  # DynamoDB's BatchWriteItem takes at most 25 requests


def batch_write(table_name: str, requests: list[dict[str, Any]]) -> None:
    """Put or delete rows in chunks DynamoDB accepts, sending again what it left unprocessed."""
    for start in range(0, len(requests), BATCH_WRITE_MAX):
        pending = requests[start : start + BATCH_WRITE_MAX]
        while pending:
            answer = client("dynamodb").batch_write_item(RequestItems={table_name: pending})
            pending = answer.get("UnprocessedItems", {}).get(table_name, [])


SEND_BATCH_MAX = 10  # SQS's SendMessageBatch takes at most ten entries
SEND_TRIES = 5


def send_batches(queue_url: str, entries: list[dict[str, Any]]) -> None:
    """Send messages (SendMessageBatch entries without their Id) in chunks SQS accepts, sending again
    what it reports as failed; raises when some still fail after SEND_TRIES tries."""
    for start in range(0, len(entries), SEND_BATCH_MAX):
        pending = {str(n): entry for n, entry in enumerate(entries[start : start + SEND_BATCH_MAX])}
        for _ in range(SEND_TRIES):
            if not pending:
                break
            answer = client("sqs").send_message_batch(
                QueueUrl=queue_url, Entries=[{"Id": entry_id, **entry} for entry_id, entry in pending.items()]
            )
            pending = {failed["Id"]: pending[failed["Id"]] for failed in answer.get("Failed", [])}
        if pending:
            raise RuntimeError(f"SQS refused {len(pending)} messages after {SEND_TRIES} tries")


def reset_clients() -> None:
    """Forget cached clients (the local stack and tests point them at a new endpoint)."""
    client.cache_clear()
