"""The limits table: shared counters. One row per provider model's rate schedule (LIMITER#...), per
user and day of quota (QUOTA#owner#day), per user of usage stats (STATS#owner, STATS#* for all) and
per day and user of daily stats (STATSDAY#day#owner, expiring with the table's TTL)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from imagegen.dal.clients import client
from imagegen.models.domain import EVERYONE, DailyUsage, LimiterState, UsageChange

_de = TypeDeserializer()
_LIMITER_FIELDS = ("tat", "factor", "factor_at", "cooldown_until", "paused_until")
BATCH_GET_MOST = 100  # keys per BatchGetItem


def _number(value: float) -> dict[str, str]:
    return {"N": str(Decimal(repr(float(value))))}


def _condition_failed(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


class LimitsTable:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _db(self) -> Any:
        return client("dynamodb")

    # -- the shared rate schedule -----------------------------------------------------------
    def read_limiter(self, name: str) -> LimiterState | None:
        answer = self._db.get_item(
            TableName=self.table_name, Key={"pk": {"S": f"LIMITER#{name}"}}, ConsistentRead=True
        )
        row = answer.get("Item")
        if row is None:
            return None
        return LimiterState(
            **{field: float(row[field]["N"]) for field in _LIMITER_FIELDS if field in row},
            paused_reason=row.get("paused_reason", {}).get("S", ""),
            pauses=int(row.get("pauses", {}).get("N", "0")),
            generation=int(row.get("generation", {}).get("N", "0")),
            holes=tuple((float(b), float(e)) for b, e in json.loads(row.get("holes", {}).get("S", "[]"))),
            version=int(row["version"]["N"]),
        )

    def write_limiter(self, name: str, state: LimiterState, expected_version: int) -> bool:
        """Write the new state only if nobody changed the row since it was read at expected_version."""
        row = {"pk": {"S": f"LIMITER#{name}"}, "version": {"N": str(state.version)}}
        row |= {field: _number(getattr(state, field)) for field in _LIMITER_FIELDS}
        row["paused_reason"] = {"S": state.paused_reason}
        row["pauses"] = {"N": str(state.pauses)}
        row["generation"] = {"N": str(state.generation)}
        row["holes"] = {"S": json.dumps([list(hole) for hole in state.holes])}
        try:
            self._db.put_item(
                TableName=self.table_name,
                Item=row,
                ConditionExpression="attribute_not_exists(pk) OR version = :expected",
                ExpressionAttributeValues={":expected": {"N": str(expected_version)}},
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    # -- daily image quotas -----------------------------------------------------------------
    def reserve_daily(self, owner: str, day: str, count: int, limit: int, expires_at: int) -> bool:
        """Count `count` images on the owner's day unless that would pass `limit`; False when refused."""
        if count > limit:
            return False
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": f"QUOTA#{owner}#{day}"}},
                UpdateExpression="ADD used :count SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(used) OR used <= :most",
                ExpressionAttributeValues={
                    ":count": {"N": str(count)},
                    ":most": {"N": str(limit - count)},
                    ":expires": {"N": str(expires_at)},
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def release_daily(self, owner: str, day: str, count: int) -> None:
        """Give back images that were counted but never made (failed, cancelled, cache hits)."""
        if count <= 0:
            return
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": f"QUOTA#{owner}#{day}"}},
                UpdateExpression="ADD used :minus",
                ConditionExpression="attribute_exists(used)",
                ExpressionAttributeValues={":minus": {"N": str(-count)}},
            )
        except ClientError as error:
            if not _condition_failed(error):  # the day's row expired: nothing to give back
                raise

    def used_daily(self, owner: str, day: str) -> int:
        answer = self._db.get_item(
            TableName=self.table_name, Key={"pk": {"S": f"QUOTA#{owner}#{day}"}}, ConsistentRead=True
        )
        return int(answer.get("Item", {}).get("used", {}).get("N", "0"))

    # -- usage stats ------------------------------------------------------------------------
    def add_usage(self, owner: str, counters: dict[str, float]) -> None:
        """Add to the owner's counters and to everyone's (attribute names are the counter names)."""
        for update in usage_updates(self.table_name, UsageChange(owner, counters)):
            self._db.update_item(**update)

    def usage(self, owner: str) -> dict[str, float]:
        """The owner's counters (EVERYONE for the whole service)."""
        answer = self._db.get_item(
            TableName=self.table_name, Key={"pk": {"S": f"STATS#{owner}"}}, ConsistentRead=True
        )
        row = answer.get("Item", {})
        return {name: float(_de.deserialize(value)) for name, value in row.items() if name != "pk"}

    def usage_days(self, owner: str, days: list[str]) -> dict[str, dict[str, float]]:
        """The owner's daily counters for these days (YYYY-MM-DD), by day; days without a row are left out."""
        found: dict[str, dict[str, float]] = {}
        for start in range(0, len(days), BATCH_GET_MOST):
            keys = [{"pk": {"S": _day_key(day, owner)}} for day in days[start : start + BATCH_GET_MOST]]
            request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self._db.batch_get_item(RequestItems=request)
                for row in answer.get("Responses", {}).get(self.table_name, []):
                    day = row["day"]["S"]
                    found[day] = {
                        name: float(_de.deserialize(value))
                        for name, value in row.items()
                        if name not in ("pk", "day", "expires_at")
                    }
                request = answer.get("UnprocessedKeys") or {}
        return found


def _day_key(day: str, owner: str) -> str:
    # The day first: it has a fixed length, so no owner's name can make two keys alike.
    return f"STATSDAY#{day}#{owner}"


def _daily_updates(table_name: str, owner: str, daily: DailyUsage) -> list[dict[str, Any]]:
    counters = {name: value for name, value in daily.counters.items() if value}
    if not counters:
        return []
    names = {f"#d{n}": name for n, name in enumerate(counters)} | {"#day": "day", "#exp": "expires_at"}
    values = {f":d{n}": _number(value) for n, value in enumerate(counters.values())}
    values |= {":day": {"S": daily.day}, ":exp": {"N": str(daily.expires_at)}}
    expression = "ADD " + ", ".join(f"#d{n} :d{n}" for n in range(len(counters)))
    return [
        {
            "TableName": table_name,
            "Key": {"pk": {"S": _day_key(daily.day, who)}},
            "UpdateExpression": expression + " SET #day = :day, #exp = :exp",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        for who in sorted({owner, EVERYONE})
    ]


def usage_updates(table_name: str, change: UsageChange) -> list[dict[str, Any]]:
    """The UpdateItem requests that add `change` to the owner's stats row and to everyone's, and to
    their rows of its day; the jobs table puts them in the transaction that ends an item, so an image
    is counted once."""
    daily = _daily_updates(table_name, change.owner, change.daily) if change.daily else []
    counters = {name: value for name, value in change.counters.items() if value}
    if not counters:
        return daily
    names = {f"#c{n}": name for n, name in enumerate(counters)}
    values = {f":c{n}": _number(value) for n, value in enumerate(counters.values())}
    expression = "ADD " + ", ".join(f"#c{n} :c{n}" for n in range(len(counters)))
    return [
        {
            "TableName": table_name,
            "Key": {"pk": {"S": f"STATS#{who}"}},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        for who in sorted({change.owner, EVERYONE})
    ] + daily
