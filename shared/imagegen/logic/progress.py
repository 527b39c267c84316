"""The jobs table's changes as ProgressEvents: what the events function publishes (issue 12).

An item whose state changed to running, completed, failed or cancelled gives an item.* event; a job
whose state became terminal gives job.completed or job.cancelled. Other changes (a billed call, a
held slot, a retry that keeps an item running, an item sent back to wait) give none. A created job
gives no event of its own (its creator has the POST's answer), but a job created already ended (every
item from the cache) gives its item.completed events and job.completed, so a webhook subscriber hears
of it like any other job.

An item event carries the job's counts: those of the first job row image that follows the item's
change in the batch (the job row shares the item's partition key, so the stream keeps their order,
and any job write after the item's change includes it), else the job row read after the batch
(consistently, once per job). The item's end and its job's counter are one transaction
(JobsTable.finish_item) whose two records may come in either order, so a job image before the item's
change may not count it: it is never used. Counts are thus never older than the item's own change,
and never go back within a batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imagegen.config import Settings
from imagegen.dal.jobs_table import row_of
from imagegen.models.domain import TERMINAL_JOB_STATES, Item, ItemState, Job, JobState
from imagegen.models.progress import ProgressEvent, ProgressType
from imagegen.models.responses import counts_out
from imagegen.models.webhooks import WebhookItem

ITEM_EVENTS = {
    ItemState.RUNNING: ProgressType.ITEM_RUNNING,
    ItemState.COMPLETED: ProgressType.ITEM_COMPLETED,
    ItemState.FAILED: ProgressType.ITEM_FAILED,
    ItemState.CANCELLED: ProgressType.ITEM_CANCELLED,
}

JobReader = Callable[[str], Job | None]  # the job row now, read consistently; None when it is gone


@dataclass(frozen=True)
class RowChange:
    """One stream record: a row's image before and after, in DynamoDB's attribute-value format
    (None: the row was inserted, or removed)."""

    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None


def _parsed(image: Mapping[str, Any] | None) -> Job | Item | None:
    return row_of(dict(image)) if image else None


def _item_changed(old: Job | Item | None, new: Job | Item | None) -> Item | None:
    """The item, when the change moved it into a state subscribers hear of."""
    if not isinstance(new, Item) or new.state not in ITEM_EVENTS:
        return None
    if isinstance(old, Item) and old.state == new.state:
        return None
    return new


def _job_ended(old: Job | Item | None, new: Job | Item | None) -> Job | None:
    if not isinstance(new, Job) or new.state not in TERMINAL_JOB_STATES:
        return None
    if isinstance(old, Job) and old.state == new.state:
        return None
    return new


def _job_event(job: Job) -> ProgressEvent:
    kind = ProgressType.JOB_CANCELLED if job.state == JobState.CANCELLED else ProgressType.JOB_COMPLETED
    return ProgressEvent(
        type=kind,
        job_id=job.job_id,
        owner=job.owner,
        at=job.finished_at or job.updated_at,
        state=job.state,
        counts=counts_out(job.counts),
        percent=job.counts.percent,
    )


def _item_at(item: Item, job: Job) -> datetime:
    moment = item.started_at if item.state == ItemState.RUNNING else item.finished_at
    return moment or job.updated_at


def item_event(item: Item, job: Job, settings: Settings) -> ProgressEvent:
    """The event of an item's new state, with its job as it was when (or just after) it changed."""
    spec = item.spec
    done = item.state == ItemState.COMPLETED
    return ProgressEvent(
        type=ITEM_EVENTS[item.state],
        job_id=job.job_id,
        owner=job.owner,
        at=_item_at(item, job),
        state=job.state,
        counts=counts_out(job.counts),
        percent=job.counts.percent,
        item=WebhookItem(
            index=item.index,
            key=spec.key,
            state=item.state,
            image_url=settings.image_url(spec.key) if done else None,  # as the job's result gives it
            error=item.error if item.state == ItemState.FAILED else None,
        ),
    )


def _later_job_images(rows: Sequence[tuple[Job | Item | None, Job | Item | None]]) -> list[Job | None]:
    """For each change, its job's first image written after it in the batch (None: none follows)."""
    later: dict[str, Job] = {}
    found: list[Job | None] = []
    for _, new in reversed(rows):
        found.append(later.get(new.job_id) if isinstance(new, Item) else None)
        if isinstance(new, Job):
            later[new.job_id] = new
    return found[::-1]


def progress_events(
    changes: Sequence[RowChange], read_job: JobReader, settings: Settings
) -> list[list[ProgressEvent]]:
    """Each change's events (most have none), in the changes' order."""
    rows = [(_parsed(change.old), _parsed(change.new)) for change in changes]
    later = _later_job_images(rows)
    read: dict[str, Job | None] = {}
    events: list[list[ProgressEvent]] = []
    for (old, new), job in zip(rows, later, strict=True):
        if (ended := _job_ended(old, new)) is not None:
            events.append([_job_event(ended)])
        elif (item := _item_changed(old, new)) is not None:
            if job is None:
                if item.job_id not in read:
                    read[item.job_id] = read_job(item.job_id)
                job = read[item.job_id]
            events.append([item_event(item, job, settings)] if job is not None else [])  # a job gone
        else:
            events.append([])
    return events
