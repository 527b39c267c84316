"""Progress events become webhook deliveries: only the types a job asked for, only with a webhook_url,
in one batched send, and never another job's events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from imagegen.logic.webhook_dispatch import enqueue_webhooks, webhook_event
from imagegen.models.domain import Counts, ItemState, Job, JobState
from imagegen.models.progress import ProgressEvent, ProgressType
from imagegen.models.requests import ALL_WEBHOOK_EVENTS
from imagegen.models.responses import CountsOut
from imagegen.models.webhooks import WebhookEventType, WebhookItem
from tests.unit.webhook_fakes import FakeOutbox

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
URL = "https://hooks.example.com/imagegen"


def job(events: tuple[str, ...] = ALL_WEBHOOK_EVENTS, url: str | None = URL) -> Job:
    return Job(
        job_id="b-1",
        owner="alice",
        kind="batch",
        state=JobState.RUNNING,
        counts=Counts(total=2),
        created_at=T0,
        updated_at=T0,
        webhook_url=url,
        webhook_events=events if url else (),
    )


def progress(kind: ProgressType, index: int | None = None, job_id: str = "b-1") -> ProgressEvent:
    item_state = {
        ProgressType.ITEM_RUNNING: ItemState.RUNNING,
        ProgressType.ITEM_COMPLETED: ItemState.COMPLETED,
        ProgressType.ITEM_FAILED: ItemState.FAILED,
        ProgressType.ITEM_CANCELLED: ItemState.CANCELLED,
    }.get(kind)
    item = None
    if item_state is not None:
        item = WebhookItem(
            index=index or 0, key=f"icons/cat-{index}.png", state=item_state, image_url="/api/images/x"
        )
    ended = {ProgressType.JOB_COMPLETED: JobState.COMPLETED, ProgressType.JOB_CANCELLED: JobState.CANCELLED}
    return ProgressEvent(
        type=kind,
        job_id=job_id,
        owner="alice",
        at=T0,
        state=ended.get(kind, JobState.RUNNING),
        counts=CountsOut(total=2, completed=1, failed=0, cancelled=0, pending=1),
        percent=50.0,
        item=item,
    )


def test_the_request_names_the_same_events_as_the_webhook_model() -> None:
    assert set(ALL_WEBHOOK_EVENTS) == {event.value for event in WebhookEventType}


def test_each_reported_progress_type_becomes_its_webhook_event_with_the_same_facts() -> None:
    event = webhook_event(progress(ProgressType.ITEM_COMPLETED, index=1))
    assert event is not None
    assert event.type is WebhookEventType.ITEM_COMPLETED
    assert event.data.batch_id == "b-1"
    assert event.data.item is not None and event.data.item.index == 1
    assert event.data.percent == 50.0 and event.timestamp == T0
    ended = webhook_event(progress(ProgressType.JOB_CANCELLED))
    assert ended is not None and ended.type is WebhookEventType.JOB_CANCELLED and ended.data.item is None


@pytest.mark.parametrize("kind", [ProgressType.ITEM_RUNNING, ProgressType.ITEM_CANCELLED])
def test_progress_that_webhooks_do_not_report_makes_no_event(kind: ProgressType) -> None:
    assert webhook_event(progress(kind)) is None


def test_one_batched_send_of_the_events_the_job_asked_for() -> None:
    # Given a job that wants item failures and its end only
    outbox = FakeOutbox()
    events = [
        progress(ProgressType.ITEM_RUNNING, 0),
        progress(ProgressType.ITEM_COMPLETED, 0),
        progress(ProgressType.ITEM_FAILED, 1),
        progress(ProgressType.JOB_COMPLETED),
    ]
    # When its progress is dispatched
    queued = enqueue_webhooks(job(("item.failed", "job.completed")), events, outbox)
    # Then one send carries exactly those two, to the job's URL, for its owner, as first attempts
    assert queued == 2
    ((deliveries, delay),) = outbox.sent
    assert [d.event.type.value for d in deliveries] == ["item.failed", "job.completed"]
    assert {(d.owner, d.url, d.attempt, d.due_at) for d in deliveries} == {("alice", URL, 1, None)}
    assert delay == 0


def test_a_job_without_a_webhook_sends_nothing() -> None:
    outbox = FakeOutbox()
    assert enqueue_webhooks(job(url=None), [progress(ProgressType.JOB_COMPLETED)], outbox) == 0
    assert outbox.sent == []


def test_nothing_wanted_means_no_send_at_all() -> None:
    outbox = FakeOutbox()
    assert enqueue_webhooks(job(("job.cancelled",)), [progress(ProgressType.ITEM_COMPLETED, 0)], outbox) == 0
    assert outbox.sent == []


def test_another_jobs_event_is_a_mistake_not_a_delivery() -> None:
    outbox = FakeOutbox()
    with pytest.raises(ValueError, match="job b-2"):
        enqueue_webhooks(job(), [progress(ProgressType.JOB_COMPLETED, job_id="b-2")], outbox)
    assert outbox.sent == []
