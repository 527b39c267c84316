"""The DynamoDB stream event source mapping, emulated: one thread reads a table's stream and feeds
its records to a function, in order, one batch at a time.

It starts at LATEST (as the template's mapping does): changes written before `start`, such as the
state a restarted stack restores, are never delivered. A batch whose invocation raised, or whose
handler reported a failed record, is delivered again from its first failed record, up to
`max_retries` times; then it is dropped with a line on stderr (in AWS: the on-failure destination).
Lambda would also split a failing batch (BisectBatchOnFunctionError); this source does not.

moto keeps every stream record in memory for the life of the server, and one entry per shard
iterator it hands out (one per poll here, ten a second): a long-running `imagegen serve` grows by
a few hundred bytes a second and by each change's size. That is fine for development, not for weeks.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from botocore.config import Config

from imagegen.local.aws import FAKE_CREDENTIALS, emulated_client

POLL_SECONDS = 0.1  # Lambda polls a shard about four times a second; closer here for the local latency
RETRY_SECONDS = 0.5


class Invocable(Protocol):
    name: str
    timeout: int

    def invoke(self, event: dict[str, Any]) -> Any: ...


def streams_client(endpoint: str) -> Any:
    """A DynamoDB Streams client for the emulated AWS, with short timeouts so a stopped server fails fast."""
    return emulated_client(
        "dynamodbstreams", endpoint, Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2})
    )


def _lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record as Lambda's DynamoDB integration delivers it (an event is {"Records": [...]})."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):  # boto3 parses it; Lambda sends epoch seconds
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record.get("eventID", ""),
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", FAKE_CREDENTIALS["AWS_DEFAULT_REGION"]),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


def _first_failed(records: list[dict[str, Any]], answer: Mapping[str, Any] | None) -> int | None:
    """Where to resume: the first record the handler reported as failed, or None when none was."""
    failed = {failure["itemIdentifier"] for failure in (answer or {}).get("batchItemFailures", [])}
    for position, record in enumerate(records):
        if record["dynamodb"]["SequenceNumber"] in failed:
            return position
    return None


class DynamoDbStreamSource:
    """One table's stream feeding one function. `deliveries` counts records handed to the function
    (a retried record counts again), `invocations` the events; both only grow."""

    def __init__(
        self, function: Invocable, streams: Any, stream_arn: str, batch_size: int, max_retries: int
    ) -> None:
        self.function, self.stream_arn = function, stream_arn
        self.batch_size, self.max_retries = batch_size, max_retries
        self.deliveries = 0
        self.invocations = 0
        self._streams = streams
        self._iterators: dict[str, str] = {}
        self._stopping = threading.Event()
        self._reader = threading.Thread(
            target=self._read_loop, name=f"{function.name}-stream-source", daemon=True
        )

    def start(self) -> DynamoDbStreamSource:
        """Take each shard's LATEST position now (so later changes are delivered), then read."""
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            self._iterators[shard["ShardId"]] = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]
        self._reader.start()
        return self

    def stop(self) -> None:
        """Read no more; a running invocation ends first (the function's timeout bounds it)."""
        self._stopping.set()
        if self._reader.is_alive():
            self._reader.join(timeout=self.function.timeout + 15)

    def _read_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                delivered = sum(self._read_shard(shard) for shard in list(self._iterators))
            except Exception as error:  # an emulator hiccup must not end the source; say it
                print(f"stream source {self.function.name}: {type(error).__name__}: {error}", file=sys.stderr)
                self._stopping.wait(1)
                continue
            if not delivered:
                self._stopping.wait(POLL_SECONDS)

    def _read_shard(self, shard: str) -> int:
        answer = self._streams.get_records(ShardIterator=self._iterators[shard], Limit=self.batch_size)
        if answer.get("NextShardIterator"):
            self._iterators[shard] = answer["NextShardIterator"]
        else:  # a closed shard: nothing more comes from it
            del self._iterators[shard]
        records = [_lambda_record(record, self.stream_arn) for record in answer.get("Records", [])]
        if records:
            self._deliver(records)
        return len(records)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        """Invoke until every record succeeded, resuming from the first failed one, or give up."""
        for attempt in range(self.max_retries + 1):
            self.invocations += 1
            self.deliveries += len(records)
            try:
                answer = self.function.invoke({"Records": records})
                resume = _first_failed(records, answer)
                reason = "a record failed"
            except Exception as error:  # a function error: Lambda retries the whole batch
                resume, reason = 0, f"{type(error).__name__}: {error}"
            if resume is None:
                return
            records = records[resume:]
            if attempt == self.max_retries:
                break
            if self._stopping.wait(RETRY_SECONDS):
                return  # stopped: the records stay undelivered, as with a disabled mapping
        first = records[0]["dynamodb"]["SequenceNumber"]
        print(
            f"stream source {self.function.name}: dropped {len(records)} records from {first} ({reason})",
            file=sys.stderr,
        )
