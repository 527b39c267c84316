"""The jobs table's changes as ProgressEvents (logic.progress) and their in-order publishing."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from imagegen.config import Settings
from imagegen.local.lambdas import LocalContext, load_handler
from imagegen.local.template import Template
from imagegen.logic.events_out import EarlierRecordFailedError, InOrder, changes_of
from imagegen.logic.progress import RowChange, progress_events
from imagegen.models.domain import Counts, ImageSpec, Job, JobState
from imagegen.models.progress import ProgressEvent, ProgressType

SETTINGS = Settings(images_base_url="https://cdn.example/")
T0, T1, T2 = "2026-11-22T10:00:00+00:00", "2026-11-22T10:00:05+00:00", "2026-11-22T10:00:09+00:00"
_ser = TypeSerializer()


def _image(**values: Any) -> dict[str, Any]:
    return {name: _ser.serialize(value) for name, value in values.items() if value is not None}


def job(
    state: str = "running", completed: int = 0, failed: int = 0, cancelled: int = 0, **more: Any
) -> dict[str, Any]:
    """A job row as JobsTable writes it (total 6)."""
    return _image(
        pk="JOB#j1", sk="META", job_id="j1", owner="alice", kind="icon", state=state, total=6,
        completed=completed, failed=failed, cancelled=cancelled, billed_calls=more.pop("billed_calls", 0),
        cancel_requested=more.pop("cancel_requested", False), created_at=T0,
        updated_at=more.pop("updated_at", T1), **more,
    )  # fmt: skip


def item(index: int, state: str, **more: Any) -> dict[str, Any]:
    spec = ImageSpec(
        kind="icon", prompt="a tent", width=64, height=64, key=f"icons/j1/{index}.png", model="m"
    )
    return _image(
        pk="JOB#j1", sk=f"ITEM#{index:05d}", job_id="j1", index=index, state=state,
        spec=spec.model_dump_json(), attempts=more.pop("attempts", 1), cache_hit=False, **more,
    )  # fmt: skip


def modify(old: dict[str, Any] | None, new: dict[str, Any] | None) -> RowChange:
    return RowChange(old=old, new=new)


class Reader:
    """The job row read after the batch: counts every change the batch holds."""

    def __init__(self, row: Job | None) -> None:
        self.row, self.reads = row, 0

    def __call__(self, job_id: str) -> Job | None:
        self.reads += 1
        return self.row


def stored_job(completed: int, state: JobState = JobState.RUNNING) -> Job:
    return Job(
        job_id="j1", owner="alice", kind="icon", state=state, counts=Counts(total=6, completed=completed),
        created_at=T0, updated_at=T2,
    )  # fmt: skip


def flat(events: list[list[ProgressEvent]]) -> list[tuple[str, int | None, int]]:
    return [(e.type.value, e.item.index if e.item else None, e.counts.completed) for es in events for e in es]


def test_an_item_that_starts_then_completes_gives_two_events_with_its_jobs_counts() -> None:
    # Given the records of start_item (item, then job) and of finish_item's transaction (item, job)
    changes = [
        modify(item(0, "queued"), item(0, "running", started_at=T1)),
        modify(job("queued"), job("running")),
        modify(item(0, "running"), item(0, "completed", finished_at=T2)),
        modify(job("running"), job("running", completed=1, updated_at=T2)),
    ]
    reader = Reader(None)
    events = progress_events(changes, reader, SETTINGS)
    # Then one event per item change, with the counts of the job write that follows it, and no read
    assert flat(events) == [("item.running", 0, 0), ("item.completed", 0, 1)]
    assert reader.reads == 0
    running, completed = events[0][0], events[2][0]
    assert (running.state, running.at.isoformat()) == (JobState.RUNNING, T1)
    assert completed.item is not None and completed.item.image_url == "https://cdn.example/icons/j1/0.png"
    assert (completed.at.isoformat(), completed.percent, completed.counts.pending) == (T2, 16.7, 5)
    assert completed.owner == "alice" and running.item is not None and running.item.image_url is None


def test_a_job_image_before_the_items_end_is_never_taken_for_its_counts() -> None:
    # Given another item's end counted on the job, then this item's end, whose job record (a
    # transaction's order is not promised) came before it or comes in the next batch
    changes = [
        modify(job("running", completed=1), job("running", completed=2, updated_at=T1)),
        modify(item(2, "running"), item(2, "completed", finished_at=T2)),
    ]
    reader = Reader(stored_job(completed=3))
    events = progress_events(changes, reader, SETTINGS)
    # Then the item's counts come from the job as read after the batch: they include the item
    assert flat(events) == [("item.completed", 2, 3)]
    assert reader.reads == 1


def test_the_job_row_is_read_once_per_job_per_batch_and_counts_never_go_back() -> None:
    changes = [
        modify(item(1, "running"), item(1, "completed", finished_at=T1)),
        modify(item(2, "running"), item(2, "failed", finished_at=T2, error="NoSuchBucket")),
        modify(item(3, "queued"), item(3, "cancelled", finished_at=T2)),
    ]
    reader = Reader(stored_job(completed=4))
    events = progress_events(changes, reader, SETTINGS)
    assert reader.reads == 1
    assert flat(events) == [("item.completed", 1, 4), ("item.failed", 2, 4), ("item.cancelled", 3, 4)]
    failed, cancelled = events[1][0].item, events[2][0].item
    assert failed is not None and (failed.error, failed.image_url) == ("NoSuchBucket", None)
    assert cancelled is not None and (cancelled.error, cancelled.image_url) == (None, None)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (item(0, "running", billed_calls=0), item(0, "running", billed_calls=1)),  # a billed call
        (
            item(0, "queued"),
            item(0, "queued", reservation='{"limiter":"m","slot_at":1.0,"seconds":12.0,"generation":1}'),
        ),
        (item(0, "running", attempts=1), item(0, "running", attempts=2)),  # a retry keeps it running
        (item(0, "running"), item(0, "queued")),  # sent back to wait for the rate limit
        (job("running", billed_calls=1), job("running", billed_calls=2)),
        (job("running"), job("running", cancel_requested=True)),
        (job("queued"), job("running")),
        (None, item(0, "queued")),  # a job's creation
        (None, job("queued")),
        (item(0, "completed"), None),  # TTL removes rows
        (job("completed", completed=6), None),
        (_image(pk="OTHER#x", sk="ROW"), _image(pk="OTHER#x", sk="ROW", n=1)),  # not a job's row
    ],
)
def test_changes_that_are_not_state_changes_give_no_event(
    old: dict[str, Any] | None, new: dict[str, Any] | None
) -> None:
    assert progress_events([modify(old, new)], Reader(stored_job(completed=0)), SETTINGS) == [[]]


@pytest.mark.parametrize(
    ("state", "counts", "expected"),
    [
        ("completed", {"completed": 6}, ProgressType.JOB_COMPLETED),
        ("partially_failed", {"completed": 4, "failed": 2}, ProgressType.JOB_COMPLETED),
        ("failed", {"failed": 6}, ProgressType.JOB_COMPLETED),
        ("cancelled", {"completed": 1, "cancelled": 5}, ProgressType.JOB_CANCELLED),
    ],
)
def test_a_job_that_ends_gives_one_job_event_with_its_final_counts(
    state: str, counts: dict[str, int], expected: ProgressType
) -> None:
    ended = job(state, finished_at=T2, updated_at=T2, **counts)
    events = progress_events([modify(job("running", **counts), ended)], Reader(None), SETTINGS)
    assert [(e.type, e.state.value, e.percent, e.counts.pending, e.item) for e in events[0]] == [
        (expected, state, 100.0, 0, None)
    ]
    assert events[0][0].at.isoformat() == T2
    # And closing it twice (the same state again) says nothing more
    assert progress_events([modify(ended, ended)], Reader(None), SETTINGS) == [[]]


def test_a_job_created_from_the_cache_gives_its_item_events_and_its_end() -> None:
    # Given every item a cache hit: items inserted completed, then the job inserted completed
    changes = [
        modify(None, item(0, "completed", finished_at=T0)),
        modify(None, item(1, "completed", finished_at=T0)),
        modify(None, job("completed", completed=6, finished_at=T0)),
    ]
    events = progress_events(changes, Reader(None), SETTINGS)
    assert flat(events) == [("item.completed", 0, 6), ("item.completed", 1, 6), ("job.completed", None, 6)]


def test_an_item_whose_job_is_gone_gives_no_event() -> None:
    changes = [modify(item(0, "running"), item(0, "completed", finished_at=T2))]
    assert progress_events(changes, Reader(None), SETTINGS) == [[]]


def test_changes_of_reads_lambdas_stream_record_shape() -> None:
    modified = {"OldImage": job("queued"), "NewImage": job("running"), "SequenceNumber": "2"}
    records = [
        {"eventName": "INSERT", "dynamodb": {"NewImage": item(0, "queued"), "SequenceNumber": "1"}},
        {"eventName": "MODIFY", "dynamodb": modified},
    ]
    assert changes_of(records) == [
        RowChange(old=None, new=item(0, "queued")),
        RowChange(old=job("queued"), new=job("running")),
    ]


def _one(kind: ProgressType, index: int) -> list[ProgressEvent]:
    changes = [modify(item(index, "queued"), item(index, "running", started_at=T1))]
    (events,) = progress_events(changes, Reader(stored_job(completed=0)), SETTINGS)
    assert events[0].type == kind
    return events


def test_in_order_publishes_each_records_events_to_every_publisher_in_turn() -> None:
    seen: list[tuple[str, int]] = []
    batch = InOrder(
        {"1": _one(ProgressType.ITEM_RUNNING, 0), "2": [], "3": _one(ProgressType.ITEM_RUNNING, 1)},
        [
            lambda events: seen.extend(("ws", e.item.index) for e in events if e.item),
            lambda events: seen.extend(("hook", e.item.index) for e in events if e.item),
        ],
    )
    for number in ("1", "2", "3"):
        batch(number)
    assert seen == [("ws", 0), ("hook", 0), ("ws", 1), ("hook", 1)]
    assert batch.published == 2


def test_after_a_failed_record_the_later_ones_fail_without_being_published() -> None:
    published: list[int] = []

    def flaky(events: list[ProgressEvent]) -> None:
        index = events[0].item.index if events[0].item else -1
        if index == 1:
            raise ConnectionError("subscriber down")
        published.append(index)

    batch = InOrder({str(n): _one(ProgressType.ITEM_RUNNING, n) for n in range(3)}, [flaky])
    batch("0")
    with pytest.raises(ConnectionError):
        batch("1")
    with pytest.raises(EarlierRecordFailedError):
        batch("2")  # would overtake record 1's events, which Lambda delivers again
    assert published == [0]


def test_the_events_function_reports_the_failed_record_and_every_later_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    handler = load_handler(Template().code_dir("EventsFunction"))
    published: list[int] = []

    def down_at_item_1(events: list[ProgressEvent]) -> None:
        indexes = [e.item.index for e in events if e.item]
        if 1 in indexes:
            raise ConnectionError("subscriber down")
        published.extend(indexes)

    monkeypatch.setattr(sys.modules["app"], "publishers", lambda: [down_at_item_1])
    changes = [
        (item(0, "queued"), item(0, "running", started_at=T1)),
        (job("queued"), job("running")),
        (item(1, "queued"), item(1, "running", started_at=T1)),
        (item(2, "queued"), item(2, "running", started_at=T1)),
        (job("running"), job("running", billed_calls=1)),
    ]
    records = [
        {"eventName": "MODIFY", "dynamodb": {"OldImage": old, "NewImage": new, "SequenceNumber": str(n)}}
        for n, (old, new) in enumerate(changes, 1)
    ]
    answer = handler({"Records": records}, LocalContext("EventsFunction", 30))
    # Then item 0's event went out, item 1's failed, and item 2's waits for item 1's retry
    assert published == [0]
    assert [failure["itemIdentifier"] for failure in answer["batchItemFailures"]] == ["3", "4", "5"]
