"""The jobs table: one job row (pk JOB#id, sk META) and one row per item (sk ITEM#nnnnn)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from imagegen.dal.clients import batch_write, client
from imagegen.dal.limits_table import usage_updates
from imagegen.models.domain import Counts, ImageSpec, Item, ItemState, Job, JobState, Reservation, UsageChange
from imagegen.models.economy import ProviderBatch

OWNER_INDEX = "owner-index"
_ser = TypeSerializer()
_de = TypeDeserializer()
_NOT_TERMINAL = [ItemState.QUEUED.value, ItemState.RUNNING.value, ItemState.SUBMITTED.value]
PROVIDER_BATCHES_PK = "PBATCH"  # one partition: every provider batch, the poll's listing


def _pk(job_id: str) -> dict[str, Any]:
    return {"S": f"JOB#{job_id}"}


def _item_sk(index: int) -> dict[str, Any]:
    return {"S": f"ITEM#{index:05d}"}


def _values(**values: Any) -> dict[str, Any]:
    return {f":{name}": _ser.serialize(value) for name, value in values.items()}


def _decimal(value: float | None) -> Decimal | None:
    return Decimal(repr(value)) if value is not None else None


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {name: _de.deserialize(value) for name, value in row.items()}


def _job_from_row(row: dict[str, Any]) -> Job:
    data = _plain(row)
    return Job(
        job_id=data["job_id"],
        owner=data["owner"],
        kind=data["kind"],
        state=JobState(data["state"]),
        counts=Counts(
            total=int(data["total"]),
            completed=int(data["completed"]),
            failed=int(data["failed"]),
            cancelled=int(data["cancelled"]),
        ),
        billed_calls=int(data.get("billed_calls", 0)),
        cancel_requested=bool(data.get("cancel_requested", False)),
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        started_at=data.get("started_at"),
        finished_at=data.get("finished_at"),
        webhook_url=data.get("webhook_url"),
        webhook_events=tuple(data.get("webhook_events", ())),
        priority=data.get("priority", "standard"),
        provider_batches=tuple(sorted(data.get("provider_batches", ()))),
    )


def _item_from_row(row: dict[str, Any]) -> Item:
    data = _plain(row)
    return Item(
        job_id=data["job_id"],
        index=int(data["index"]),
        state=ItemState(data["state"]),
        spec=ImageSpec.model_validate_json(data["spec"]),
        error=data.get("error"),
        attempts=int(data.get("attempts", 0)),
        model=data.get("model"),
        started_at=data.get("started_at"),
        finished_at=data.get("finished_at"),
        cache_hit=bool(data.get("cache_hit", False)),
        billed_calls=int(data.get("billed_calls", 0)),
        lost_calls=int(data.get("lost_calls", 0)),
        reservation=Reservation.model_validate_json(data["reservation"]) if data.get("reservation") else None,
        used_slot_at=float(data["used_slot_at"]) if data.get("used_slot_at") is not None else None,
    )


def row_of(image: dict[str, Any]) -> Job | Item | None:
    """A row as DynamoDB writes it (also a stream record's image) as the job or item it stores;
    None for a row of another kind."""
    sk = image.get("sk", {}).get("S", "")
    if sk == "META":
        return _job_from_row(image)
    if sk.startswith("ITEM#"):
        return _item_from_row(image)
    return None


def _is_condition_failure(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons", [])
        return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
    return False


class JobsTable:
    """Jobs and their items, with every state change a conditional write."""

    def __init__(self, table_name: str, stats_table_name: str = "") -> None:
        """`stats_table_name`: the limits table, whose stats rows an item's end counts in."""
        self.table_name, self.stats_table_name = table_name, stats_table_name

    @property
    def _db(self) -> Any:
        return client("dynamodb")

    def create(self, job: Job, items: list[Item], expires_at: int) -> None:
        """Write the items, then the job row (so a visible job always has all its items)."""
        batch_write(
            self.table_name, [{"PutRequest": {"Item": self._item_row(item, expires_at)}} for item in items]
        )
        job_row = {
            "pk": _pk(job.job_id),
            "sk": {"S": "META"},
            "job_id": {"S": job.job_id},
            "owner": {"S": job.owner},
            "kind": {"S": job.kind},
            "state": {"S": job.state.value},
            "total": {"N": str(job.counts.total)},
            "completed": {"N": str(job.counts.completed)},
            "failed": {"N": str(job.counts.failed)},
            "cancelled": {"N": str(job.counts.cancelled)},
            "billed_calls": {"N": "0"},
            "cancel_requested": {"BOOL": False},
            "created_at": {"S": job.created_at.isoformat()},
            "updated_at": {"S": job.updated_at.isoformat()},
            "expires_at": {"N": str(expires_at)},
        }
        if job.finished_at:
            job_row["finished_at"] = {"S": job.finished_at.isoformat()}
        if job.priority != "standard":
            job_row["priority"] = {"S": job.priority}
        if job.webhook_url:
            job_row["webhook_url"] = {"S": job.webhook_url}
            job_row["webhook_events"] = {"L": [{"S": event} for event in job.webhook_events]}
        self._db.put_item(
            TableName=self.table_name, Item=job_row, ConditionExpression="attribute_not_exists(pk)"
        )

    def _item_row(self, item: Item, expires_at: int) -> dict[str, Any]:
        row = {
            "pk": _pk(item.job_id),
            "sk": _item_sk(item.index),
            "job_id": {"S": item.job_id},
            "index": {"N": str(item.index)},
            "state": {"S": item.state.value},
            "spec": {"S": item.spec.model_dump_json()},
            "attempts": {"N": "0"},
            "cache_hit": {"BOOL": item.cache_hit},
            "expires_at": {"N": str(expires_at)},
        }
        if item.model:
            row["model"] = {"S": item.model}
        if item.reservation:
            row["reservation"] = {"S": item.reservation.model_dump_json()}
        if item.finished_at:
            row["finished_at"] = {"S": item.finished_at.isoformat()}
        return row

    def get_job(self, job_id: str) -> Job | None:
        answer = self._db.get_item(
            TableName=self.table_name, Key={"pk": _pk(job_id), "sk": {"S": "META"}}, ConsistentRead=True
        )
        return _job_from_row(answer["Item"]) if "Item" in answer else None

    def get_item(self, job_id: str, index: int) -> Item | None:
        answer = self._db.get_item(
            TableName=self.table_name, Key={"pk": _pk(job_id), "sk": _item_sk(index)}, ConsistentRead=True
        )
        return _item_from_row(answer["Item"]) if "Item" in answer else None

    def iter_items(self, job_id: str) -> Iterator[Item]:
        paginator = self._db.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": _pk(job_id), ":prefix": {"S": "ITEM#"}},
            ConsistentRead=True,
        )
        for page in pages:
            for row in page["Items"]:
                yield _item_from_row(row)

    def list_jobs(
        self, owner: str, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Job], dict[str, Any] | None]:
        """The owner's jobs, newest first, one page; the second value continues the listing."""
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
        return [_job_from_row(row) for row in answer["Items"]], _plain(last) if last else None

    def start_item(self, job_id: str, index: int, now: datetime, slot_at: float | None = None) -> bool:
        """queued/running -> running, counting the attempt and the slot it uses; False when it ended."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"pk": _pk(job_id), "sk": _item_sk(index)},
                UpdateExpression="SET #state = :running, attempts = attempts + :one, started_at = :now, "
                "used_slot_at = :slot",
                ConditionExpression="#state IN (:queued, :running)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=_values(
                    running="running", one=1, now=now.isoformat(), queued="queued", slot=_decimal(slot_at)
                ),
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"pk": _pk(job_id), "sk": {"S": "META"}},
                UpdateExpression="SET #state = :running, started_at = if_not_exists(started_at, :now), "
                "updated_at = :now",
                ConditionExpression="#state = :queued",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=_values(running="running", now=now.isoformat(), queued="queued"),
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
        return True

    def hold_slot(self, job_id: str, index: int, reservation: Reservation) -> None:
        """Note the slot a queued item waits for, so that cancelling it frees the slot."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"pk": _pk(job_id), "sk": _item_sk(index)},
                UpdateExpression="SET reservation = :reservation",
                ConditionExpression="#state = :queued",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=_values(reservation=reservation.model_dump_json(), queued="queued"),
            )
        except ClientError as error:
            if not _is_condition_failure(error):  # it ended meanwhile: nothing to free later
                raise

    def count_billed_call(
        self, job_id: str, index: int, *, lost: bool, usage: UsageChange | None = None
    ) -> tuple[int, int]:
        """Count a call the provider may bill on the item, its job and (given `usage`) the owner's
        stats in one transaction, so that they never disagree; the item's (billed, lost) calls."""
        item_key = {"pk": _pk(job_id), "sk": _item_sk(index)}
        updates = [
            {
                "TableName": self.table_name,
                "Key": item_key,
                "UpdateExpression": "ADD billed_calls :one, lost_calls :lost",
                "ExpressionAttributeValues": _values(one=1, lost=int(lost)),
            },
            {
                "TableName": self.table_name,
                "Key": {"pk": _pk(job_id), "sk": {"S": "META"}},
                "UpdateExpression": "ADD billed_calls :one",
                "ExpressionAttributeValues": _values(one=1),
            },
            *(usage_updates(self.stats_table_name, usage) if usage else []),
        ]
        self._db.transact_write_items(TransactItems=[{"Update": update} for update in updates])
        counted = self._db.get_item(  # a transaction returns no values: read them back
            TableName=self.table_name,
            Key=item_key,
            ConsistentRead=True,
            ProjectionExpression="billed_calls, lost_calls",
        )
        counts = _plain(counted["Item"])
        return int(counts["billed_calls"]), int(counts["lost_calls"])

    def release_item(self, job_id: str, index: int) -> bool:
        """running -> queued: the item waits for the rate limit again (and can be cancelled meanwhile)."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"pk": _pk(job_id), "sk": _item_sk(index)},
                UpdateExpression="SET #state = :queued",
                ConditionExpression="#state = :running",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=_values(queued="queued", running="running"),
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def finish_item(
        self,
        job_id: str,
        index: int,
        state: ItemState,
        now: datetime,
        *,
        error: str | None = None,
        model: str | None = None,
        only_if_queued: bool = False,
        usage: UsageChange | None = None,
    ) -> bool:
        """End an item and count it on its job, and in its owner's stats when `usage` is given, in
        one transaction: a second call changes nothing, and a crash cannot count it half."""
        counter = {
            ItemState.COMPLETED: "completed",
            ItemState.FAILED: "failed",
            ItemState.CANCELLED: "cancelled",
        }[state]
        sets = ["#state = :state", "finished_at = :now"]
        values: dict[str, Any] = {"state": state.value, "now": now.isoformat()}
        if error is not None:
            sets.append("#error = :error")
            values["error"] = error
        if model is not None:
            sets.append("model = :model")
            values["model"] = model
        allowed = [ItemState.QUEUED.value] if only_if_queued else _NOT_TERMINAL
        allowed_names = {f"allowed{i}": value for i, value in enumerate(allowed)}
        names = {"#state": "state"} | ({"#error": "error"} if error is not None else {})
        item_update = {
            "TableName": self.table_name,
            "Key": {"pk": _pk(job_id), "sk": _item_sk(index)},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": f"#state IN ({', '.join(':' + n for n in allowed_names)})",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _values(**values, **allowed_names),
        }
        job_update = {
            "TableName": self.table_name,
            "Key": {"pk": _pk(job_id), "sk": {"S": "META"}},
            "UpdateExpression": f"SET {counter} = {counter} + :one, updated_at = :now",
            "ExpressionAttributeValues": _values(one=1, now=now.isoformat()),
        }
        try:
            stats = usage_updates(self.stats_table_name, usage) if usage else []
            updates = [item_update, job_update, *stats]
            self._db.transact_write_items(TransactItems=[{"Update": update} for update in updates])
        except ClientError as failure:
            if _is_condition_failure(failure):
                return False
            raise
        return True

    def request_cancel(self, job_id: str, now: datetime) -> None:
        self._db.update_item(
            TableName=self.table_name,
            Key={"pk": _pk(job_id), "sk": {"S": "META"}},
            UpdateExpression="SET cancel_requested = :yes, updated_at = :now",
            ExpressionAttributeValues=_values(yes=True, now=now.isoformat()),
        )

    def close_job(self, job_id: str, state: JobState, now: datetime) -> bool:
        """Set the final state once; False if the job was already closed."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"pk": _pk(job_id), "sk": {"S": "META"}},
                UpdateExpression="SET #state = :final, finished_at = :now, updated_at = :now",
                ConditionExpression="#state IN (:queued, :running, :submitted)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=_values(
                    final=state.value,
                    now=now.isoformat(),
                    queued="queued",
                    running="running",
                    submitted=JobState.SUBMITTED.value,
                ),
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    # -- economy: items in provider batches ---------------------------------------------------------

    def submit_item(self, job_id: str, index: int, now: datetime) -> bool:
        """queued -> submitted_to_provider (a line of a provider batch); True also when it already was."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"pk": _pk(job_id), "sk": _item_sk(index)},
                UpdateExpression="SET #state = :submitted, started_at = :now",
                ConditionExpression="#state IN (:queued, :submitted)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=_values(
                    submitted=ItemState.SUBMITTED.value, queued="queued", now=now.isoformat()
                ),
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def requeue_item(self, job_id: str, index: int, spec: ImageSpec) -> bool:
        """submitted_to_provider -> queued with `spec` (the standard path's); False when it ended."""
        try:
            self._db.update_item(
                TableName=self.table_name,
                Key={"pk": _pk(job_id), "sk": _item_sk(index)},
                UpdateExpression="SET #state = :queued, spec = :spec",
                ConditionExpression="#state = :submitted",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=_values(
                    queued="queued", spec=spec.model_dump_json(), submitted=ItemState.SUBMITTED.value
                ),
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def add_provider_batch(self, batch: ProviderBatch, expires_at: int) -> None:
        """Record a provider batch (once: a second record of the same id changes nothing) and name it
        on its job, whose state becomes submitted_to_provider unless it moved on."""
        row = {
            "pk": {"S": PROVIDER_BATCHES_PK},
            "sk": {"S": batch.batch_id},
            "batch": {"S": batch.model_dump_json()},
            "collected": {"BOOL": batch.collected},
            "expires_at": {"N": str(expires_at)},
        }
        try:
            self._db.put_item(
                TableName=self.table_name, Item=row, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
        job_key = {"pk": _pk(batch.job_id), "sk": {"S": "META"}}
        named = {":id": {"SS": [batch.batch_id]}, ":now": {"S": batch.updated_at.isoformat()}}
        try:  # one write, so that a reader never sees the batch without the state or the other way round
            self._db.update_item(
                TableName=self.table_name,
                Key=job_key,
                UpdateExpression="ADD provider_batches :id SET updated_at = :now, #state = :submitted, "
                "started_at = if_not_exists(started_at, :now)",
                ConditionExpression="#state IN (:queued, :running, :submitted)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=named
                | _values(submitted=JobState.SUBMITTED.value, queued="queued", running="running"),
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            self._db.update_item(  # it ended meanwhile (a cancel): its batches are still named
                TableName=self.table_name,
                Key=job_key,
                UpdateExpression="ADD provider_batches :id SET updated_at = :now",
                ExpressionAttributeValues=named,
            )

    def get_provider_batch(self, batch_id: str) -> ProviderBatch | None:
        answer = self._db.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": PROVIDER_BATCHES_PK}, "sk": {"S": batch_id}},
            ConsistentRead=True,
        )
        return ProviderBatch.model_validate_json(answer["Item"]["batch"]["S"]) if "Item" in answer else None

    def open_provider_batches(self) -> list[ProviderBatch]:
        """Every provider batch not yet collected (the poll's work)."""
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            FilterExpression="collected = :no",
            ExpressionAttributeValues={":pk": {"S": PROVIDER_BATCHES_PK}, ":no": {"BOOL": False}},
            ConsistentRead=True,
        )
        return [
            ProviderBatch.model_validate_json(row["batch"]["S"]) for page in pages for row in page["Items"]
        ]

    def update_provider_batch(self, batch: ProviderBatch) -> None:
        """What the provider last said of a batch, and whether it has been collected."""
        self._db.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": PROVIDER_BATCHES_PK}, "sk": {"S": batch.batch_id}},
            UpdateExpression="SET #batch = :batch, collected = :collected",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#batch": "batch"},
            ExpressionAttributeValues=_values(batch=batch.model_dump_json(), collected=batch.collected),
        )
