"""The events table (EventsTable): one row per pk, its prefix saying what it is.

Incoming CMS webhooks (HooksTable):
- `hook#{hook_id}`: the tenant behind a hook URL: owner, source, secret, the previous secret and
  until when it is still accepted (rotation), created_at.
- `hookowner#{sha256(owner, source)}`: which hook id an owner has for a source (the table has no
  index; hashed so that an owner id holding `#` cannot reach another's row).
- `replay#{hook_id}#{replay key}`: a webhook already received, until its timestamp leaves the window.
- `hookpost#{sha256(owner, post, section)}`: the content hash a section's last image was made from.

Outgoing webhooks (WebhookSecrets):
- `whsec#{owner}`: the owner's signing secrets.
- `whgone#{owner}#{hash of the URL}`: an endpoint that answered 410 Gone, which gets no more events.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from imagegen.dal.clients import client
from imagegen.models.hooks import HookTenant
from imagegen.models.webhooks import OwnerWebhookSecret

_CONDITION_FAILED = "ConditionalCheckFailedException"


def _digest(*parts: str) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _failed_condition(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == _CONDITION_FAILED)


class HooksTable:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _db(self) -> Any:
        return client("dynamodb")

    def tenant(self, hook_id: str) -> HookTenant | None:
        row = self._db.get_item(
            TableName=self.table_name, Key={"pk": {"S": f"hook#{hook_id}"}}, ConsistentRead=True
        ).get("Item")
        if row is None:
            return None
        return HookTenant(
            hook_id=hook_id,
            owner=row["owner"]["S"],
            source=row["source"]["S"],
            secret=row["secret"]["S"],
            previous_secret=row.get("previous_secret", {}).get("S"),
            previous_until=row.get("previous_until", {}).get("S"),
            created_at=row["created_at"]["S"],
        )

    def hook_of(self, owner: str, source: str) -> str | None:
        row = self._db.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"hookowner#{_digest(owner, source)}"}},
            ConsistentRead=True,
        ).get("Item")
        return row["hook_id"]["S"] if row else None

    def save(self, tenant: HookTenant) -> None:
        """The tenant row, then the owner's pointer to it (a crash between leaves an unused row)."""
        item: dict[str, Any] = {
            "pk": {"S": f"hook#{tenant.hook_id}"},
            "owner": {"S": tenant.owner},
            "source": {"S": tenant.source},
            "secret": {"S": tenant.secret},
            "created_at": {"S": tenant.created_at},
        }
        if tenant.previous_secret and tenant.previous_until:
            item["previous_secret"] = {"S": tenant.previous_secret}
            item["previous_until"] = {"S": tenant.previous_until}
        self._db.put_item(TableName=self.table_name, Item=item)
        self._db.put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": f"hookowner#{_digest(tenant.owner, tenant.source)}"},
                "hook_id": {"S": tenant.hook_id},
            },
        )

    def seen(self, hook_id: str, replay_key: str, expires_at: datetime) -> bool:
        """Record a received webhook; True when it was recorded before (a replay)."""
        try:
            self._db.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": f"replay#{hook_id}#{replay_key}"},
                    "expires_at": {"N": str(int(expires_at.timestamp()) + 1)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if _failed_condition(error):
                return True
            raise
        return False

    def forget(self, hook_id: str, replay_key: str) -> None:
        """Let the sender's retry through: the webhook was received but not handled."""
        self._db.delete_item(TableName=self.table_name, Key={"pk": {"S": f"replay#{hook_id}#{replay_key}"}})

    def claim_section(self, owner: str, post_id: str, section_id: str, content_hash: str) -> str | None:
        """Record the section's new content hash unless it is the one recorded. Returns the hash it
        replaces ("" for a new section), or None when the section is unchanged (or claimed by a
        concurrent delivery of the same content)."""
        try:
            answer = self._db.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": f"hookpost#{_digest(owner, post_id, section_id)}"},
                    "owner": {"S": owner},
                    "post_id": {"S": post_id},
                    "section_id": {"S": section_id},
                    "content_hash": {"S": content_hash},
                },
                ConditionExpression="attribute_not_exists(pk) OR content_hash <> :hash",
                ExpressionAttributeValues={":hash": {"S": content_hash}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if _failed_condition(error):
                return None
            raise
        return str(answer.get("Attributes", {}).get("content_hash", {}).get("S", ""))

    def restore_section(self, owner: str, post_id: str, section_id: str, previous_hash: str) -> None:
        """Undo a claim whose job was not created: the next delivery tries again."""
        key = {"pk": {"S": f"hookpost#{_digest(owner, post_id, section_id)}"}}
        if not previous_hash:
            self._db.delete_item(TableName=self.table_name, Key=key)
            return
        self._db.update_item(
            TableName=self.table_name,
            Key=key,
            UpdateExpression="SET content_hash = :hash",
            ExpressionAttributeValues={":hash": {"S": previous_hash}},
        )


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
            if _failed_condition(error):
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
