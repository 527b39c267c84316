"""Owners' webhook signing secrets in the events table (pk `whsec#<owner>`), and the endpoints that
answered 410 Gone (pk `whgone#<owner>#<hash of the URL>`), which get no more events."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from imagegen.dal.clients import client
from imagegen.models.webhooks import OwnerWebhookSecret

SECRET_PREFIX = "whsec#"  # noqa: S105 (a key prefix, not a secret)
GONE_PREFIX = "whgone#"


def _secret_row(owner: str, stored: OwnerWebhookSecret) -> dict[str, Any]:
    row = {
        "pk": {"S": SECRET_PREFIX + owner},
        "secret": {"S": stored.secret},
        "created_at": {"S": stored.created_at.isoformat()},
    }
    if stored.previous_secret and stored.previous_valid_until:
        row["previous_secret"] = {"S": stored.previous_secret}
        row["previous_valid_until"] = {"S": stored.previous_valid_until.isoformat()}
    return row


def _secret_from_row(row: dict[str, Any]) -> OwnerWebhookSecret:
    return OwnerWebhookSecret(
        secret=row["secret"]["S"],
        created_at=datetime.fromisoformat(row["created_at"]["S"]),
        previous_secret=row.get("previous_secret", {}).get("S"),
        previous_valid_until=(
            datetime.fromisoformat(row["previous_valid_until"]["S"])
            if "previous_valid_until" in row
            else None
        ),
    )


def _gone_key(owner: str, url: str) -> dict[str, Any]:
    return {"pk": {"S": f"{GONE_PREFIX}{owner}#{hashlib.sha256(url.encode()).hexdigest()}"}}


class WebhookSecrets:
    """Every write is conditional: two first reads create one secret, two rotations never lose one."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _db(self) -> Any:
        return client("dynamodb")

    def get(self, owner: str) -> OwnerWebhookSecret | None:
        answer = self._db.get_item(
            TableName=self.table_name, Key={"pk": {"S": SECRET_PREFIX + owner}}, ConsistentRead=True
        )
        return _secret_from_row(answer["Item"]) if "Item" in answer else None

    def put(self, owner: str, stored: OwnerWebhookSecret, replacing: OwnerWebhookSecret | None) -> bool:
        """Store `stored` if the owner's secret is still `replacing` (None: if there is none yet);
        False when another request changed it first."""
        if replacing is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "secret = :current",
                "ExpressionAttributeValues": {":current": {"S": replacing.secret}},
            }
        try:
            self._db.put_item(TableName=self.table_name, Item=_secret_row(owner, stored), **condition)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_gone(self, owner: str, url: str, expires_at: int) -> None:
        """The endpoint answered 410 Gone: no more events to it until `expires_at` (epoch seconds)."""
        self._db.put_item(
            TableName=self.table_name,
            Item={**_gone_key(owner, url), "expires_at": {"N": str(expires_at)}},
        )

    def is_gone(self, owner: str, url: str, now: datetime) -> bool:
        answer = self._db.get_item(TableName=self.table_name, Key=_gone_key(owner, url), ConsistentRead=True)
        row = answer.get("Item")
        # TTL deletes expired rows within days, not at once: an expired row no longer counts.
        return row is not None and int(row["expires_at"]["N"]) > now.timestamp()
