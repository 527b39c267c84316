"""The request cache table: one row per request hash (pk), listed per owner through owner-index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from imagegen.dal.clients import batch_write, client
from imagegen.models.domain import CacheEntry

OWNER_INDEX = "owner-index"
_ser = TypeSerializer()
_de = TypeDeserializer()


def _entry(row: dict[str, Any]) -> CacheEntry:
    return CacheEntry.model_validate({name: _de.deserialize(value) for name, value in row.items()})


class CacheTable:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _db(self) -> Any:
        return client("dynamodb")

    def get(self, request_hash: str, now: datetime) -> CacheEntry | None:
        """The live entry for the hash (TTL deletion lags, so expired rows are skipped here)."""
        answer = self._db.get_item(TableName=self.table_name, Key={"request_hash": {"S": request_hash}})
        row = answer.get("Item")
        if row is None:
            return None
        entry = _entry(row)
        return entry if entry.expires_at > now.timestamp() else None

    def put(self, entry: CacheEntry) -> None:
        data = entry.model_dump(mode="json")
        self._db.put_item(
            TableName=self.table_name, Item={name: _ser.serialize(value) for name, value in data.items()}
        )

    def list_for(
        self, owner: str, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[CacheEntry], dict[str, Any] | None]:
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":owner": {"S": owner}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_key:
            query["ExclusiveStartKey"] = {name: _ser.serialize(value) for name, value in start_key.items()}
        answer = self._db.query(**query)
        last = answer.get("LastEvaluatedKey")
        plain_last = {name: _de.deserialize(value) for name, value in last.items()} if last else None
        return [_entry(row) for row in answer["Items"]], plain_last

    def clear(self, owner: str | None) -> int:
        """Delete the owner's entries (None: every entry); how many were deleted."""
        if owner is None:
            pages = self._db.get_paginator("scan").paginate(
                TableName=self.table_name, ProjectionExpression="request_hash"
            )
        else:
            pages = self._db.get_paginator("query").paginate(
                TableName=self.table_name,
                IndexName=OWNER_INDEX,
                KeyConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
                ProjectionExpression="request_hash",
            )
        keys = [{"request_hash": row["request_hash"]} for page in pages for row in page["Items"]]
        batch_write(self.table_name, [{"DeleteRequest": {"Key": key}} for key in keys])
        return len(keys)
