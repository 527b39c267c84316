"""The WebSocket connections table: tickets, connections and their subscriptions, all with a TTL.

Rows (pk, sk):
  ticket#{sha256 of the ticket}, ticket         owner, expires_at   (a minute; taken once)
  conn#{connection id},          conn           owner, expires_at   (API Gateway's 2 h at most)
  conn#{connection id},          sub#{job id}   owner, job_id, connection_id, expires_at
The job-index GSI (job_id, connection_id) finds a job's subscribers; one query on a connection's pk
finds everything to delete when it goes. TTL deletes lazily, so reads check expires_at too.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from imagegen.dal.clients import client
from imagegen.models.websocket import Subscriber

JOB_INDEX = "job-index"


def _conn_pk(connection_id: str) -> dict[str, str]:
    return {"S": f"conn#{connection_id}"}


def _failed_condition(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class ConnectionsTable:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _db(self) -> Any:
        return client("dynamodb")

    def put_ticket(self, ticket_hash: str, owner: str, expires_at: int) -> None:
        self._db.put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": f"ticket#{ticket_hash}"},
                "sk": {"S": "ticket"},
                "owner": {"S": owner},
                "expires_at": {"N": str(expires_at)},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def take_ticket(self, ticket_hash: str, now: int) -> str | None:
        """The ticket's owner, deleting it in the same write; None when it is unknown, used or expired."""
        try:
            answer = self._db.delete_item(
                TableName=self.table_name,
                Key={"pk": {"S": f"ticket#{ticket_hash}"}, "sk": {"S": "ticket"}},
                ConditionExpression="attribute_exists(pk) AND expires_at > :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if _failed_condition(error):
                return None
            raise
        return str(answer["Attributes"]["owner"]["S"])

    def put_connection(self, connection_id: str, owner: str, expires_at: int) -> None:
        self._db.put_item(
            TableName=self.table_name,
            Item={
                "pk": _conn_pk(connection_id),
                "sk": {"S": "conn"},
                "owner": {"S": owner},
                "expires_at": {"N": str(expires_at)},
            },
        )

    def connection(self, connection_id: str, now: int) -> tuple[str, int] | None:
        """(owner, expires_at) of a live connection."""
        row = self._db.get_item(
            TableName=self.table_name,
            Key={"pk": _conn_pk(connection_id), "sk": {"S": "conn"}},
            ConsistentRead=True,
        ).get("Item")
        if row is None or int(row["expires_at"]["N"]) <= now:
            return None
        return str(row["owner"]["S"]), int(row["expires_at"]["N"])

    def subscriptions(self, connection_id: str) -> int:
        answer = self._db.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :sub)",
            ExpressionAttributeValues={":pk": _conn_pk(connection_id), ":sub": {"S": "sub#"}},
            Select="COUNT",
            ConsistentRead=True,
        )
        return int(answer["Count"])

    def subscribe(self, connection_id: str, job_id: str, owner: str, expires_at: int) -> None:
        self._db.put_item(
            TableName=self.table_name,
            Item={
                "pk": _conn_pk(connection_id),
                "sk": {"S": f"sub#{job_id}"},
                "job_id": {"S": job_id},
                "connection_id": {"S": connection_id},
                "owner": {"S": owner},
                "expires_at": {"N": str(expires_at)},
            },
        )

    def subscribers(self, job_id: str, now: int) -> list[Subscriber]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table_name,
            IndexName=JOB_INDEX,
            KeyConditionExpression="job_id = :job",
            ExpressionAttributeValues={":job": {"S": job_id}},
        )
        return [
            Subscriber(connection_id=row["connection_id"]["S"], owner=row["owner"]["S"])
            for page in pages
            for row in page["Items"]
            if int(row["expires_at"]["N"]) > now
        ]

    def drop_connection(self, connection_id: str) -> None:
        """Delete the connection's row and its subscriptions."""
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _conn_pk(connection_id)},
            ProjectionExpression="pk, sk",
            ConsistentRead=True,
        )
        for row in (row for page in pages for row in page["Items"]):
            self._db.delete_item(TableName=self.table_name, Key={"pk": row["pk"], "sk": row["sk"]})
