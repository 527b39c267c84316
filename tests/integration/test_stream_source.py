"""The emulated DynamoDB stream event source on a moto server: order, LATEST, retries; and the events
function fed by it from real JobsTable writes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from imagegen.dal.jobs_table import JobsTable
from imagegen.local.aws import EmulatedAws
from imagegen.local.lambdas import LocalContext, load_handler
from imagegen.local.streams import DynamoDbStreamSource, streams_client
from imagegen.models.domain import Counts, ImageSpec, Item, ItemState, Job, JobState
from tests.integration.conftest import Deployed, forget_caches


def wait_until(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds} s")
        time.sleep(0.05)


class Recorder:
    """A function that records each event; it raises on its first invocation and reports the record
    with n == 3 as failed the first time it sees it."""

    name, timeout = "recorder", 10

    def __init__(self) -> None:
        self.events: list[list[dict[str, Any]]] = []
        self.accepted: list[int] = []  # n of the records it processed, in order
        self.failed_once = False
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Any:
        records = event["Records"]
        with self._lock:
            self.events.append(records)
            if len(self.events) == 1:
                raise RuntimeError("cold start went wrong")
            for record in records:
                n = int(record["dynamodb"]["NewImage"]["n"]["N"])
                if n == 3 and not self.failed_once:
                    self.failed_once = True
                    return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
                self.accepted.append(n)
        return {"batchItemFailures": []}


def test_records_come_in_order_from_latest_and_failed_ones_again(
    moto: EmulatedAws, deployed: Deployed
) -> None:
    dynamodb, table = boto3.client("dynamodb"), deployed.name("JobsTable")
    stream_arn = deployed.template.physical["JobsTable"]["StreamArn"]

    def write(n: int) -> None:
        dynamodb.put_item(
            TableName=table, Item={"pk": {"S": "JOB#x"}, "sk": {"S": "META"}, "n": {"N": str(n)}}
        )

    # Given a change written before the source starts (a restored stack's rows)
    write(0)
    recorder = Recorder()
    source = DynamoDbStreamSource(recorder, streams_client(moto.endpoint), stream_arn, 100, max_retries=5)
    source.start()
    try:
        # When five changes follow, the first invocation raises and record n=3 is reported failed once
        for n in range(1, 6):
            write(n)
        wait_until(lambda: len(recorder.accepted) >= 5)
    finally:
        source.stop()
    # Then every change after the start is processed once, in order, and the earlier one never comes
    assert recorder.accepted == [1, 2, 3, 4, 5]
    delivered = [int(r["dynamodb"]["NewImage"]["n"]["N"]) for batch in recorder.events for r in batch]
    assert 0 not in delivered
    assert delivered[0] == 1 and delivered.count(1) == 2  # the raised batch came again from its start
    firsts = [int(batch[0]["dynamodb"]["NewImage"]["n"]["N"]) for batch in recorder.events]
    failing = next(
        i
        for i, batch in enumerate(recorder.events[1:], 1)
        if 3 in [int(r["dynamodb"]["NewImage"]["n"]["N"]) for r in batch]
    )
    assert firsts[failing + 1] == 3  # the next invocation resumed at the failed record
    first = recorder.events[0][0]
    assert first["eventName"] == "MODIFY" and first["eventSourceARN"] == stream_arn
    assert first["dynamodb"]["OldImage"]["n"] == {"N": "0"} and first["dynamodb"]["Keys"]["sk"] == {
        "S": "META"
    }
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], int)
    assert source.invocations >= 3


class InProcess:
    """The events function's handler as the source's function, in this process."""

    name, timeout = "events", 30

    def __init__(self, handler: Any) -> None:
        self.handler = handler

    def invoke(self, event: dict[str, Any]) -> Any:
        return self.handler(event, LocalContext(self.name, self.timeout))


def _job_with_items(job_id: str, count: int) -> tuple[Job, list[Item]]:
    now = datetime.now(UTC)
    spec = ImageSpec(
        kind="icon", prompt="a tent", width=64, height=64, key=f"icons/{job_id}/0.png", model="m"
    )
    job = Job(
        job_id=job_id, owner="alice", kind="icon", state=JobState.QUEUED, counts=Counts(total=count),
        created_at=now, updated_at=now,
    )  # fmt: skip
    items = [
        Item(job_id=job_id, index=n, state=ItemState.QUEUED, spec=spec.model_copy(update={"key": f"{n}.png"}))
        for n in range(count)
    ]
    return job, items


def test_the_events_function_turns_real_job_writes_into_progress_events(
    moto: EmulatedAws, deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "events.jsonl"
    monkeypatch.setenv("LOCAL_EVENTS_LOG", str(log))
    monkeypatch.setenv("IMAGES_BASE_URL", "https://cdn.example/")
    forget_caches()
    handler = load_handler(deployed.template.code_dir("EventsFunction"))
    stream_arn = deployed.template.physical["JobsTable"]["StreamArn"]
    source = DynamoDbStreamSource(InProcess(handler), streams_client(moto.endpoint), stream_arn, 100, 2)
    source.start()
    jobs = JobsTable(deployed.name("JobsTable"))
    job, items = _job_with_items("j-stream", 2)
    now = datetime.now(UTC)
    try:
        # When a job of two items runs as the worker runs it: one completes, one fails
        jobs.create(job, items, expires_at=int(now.timestamp()) + 3600)
        for item in items:
            assert jobs.start_item(job.job_id, item.index, now)
        assert jobs.count_billed_call(job.job_id, 0, lost=False) == (1, 0)  # no event of its own
        assert jobs.finish_item(job.job_id, 0, ItemState.COMPLETED, now + timedelta(seconds=1))
        assert jobs.finish_item(job.job_id, 1, ItemState.FAILED, now + timedelta(seconds=2), error="refused")
        assert jobs.close_job(job.job_id, JobState.PARTIALLY_FAILED, now + timedelta(seconds=2))
        wait_until(lambda: log.exists() and "job.completed" in log.read_text())
    finally:
        source.stop()
    events = [json.loads(line) for line in log.read_text().splitlines()]
    # Then the events come in the order of the writes, each item's counts include its own end
    seen = [(e["type"], e["item"]["index"] if e["item"] else None) for e in events]
    assert seen == [
        ("item.running", 0),
        ("item.running", 1),
        ("item.completed", 0),
        ("item.failed", 1),
        ("job.completed", None),
    ]
    completed, failed, ended = events[2], events[3], events[4]
    assert (
        completed["item"]["image_url"] == "https://cdn.example/0.png"
        and completed["counts"]["completed"] == 1
    )
    assert failed["item"]["error"] == "refused" and failed["counts"]["failed"] == 1
    assert (ended["state"], ended["percent"], ended["counts"]["pending"]) == ("partially_failed", 100.0, 0)
    assert {e["owner"] for e in events} == {"alice"} and {e["job_id"] for e in events} == {"j-stream"}
