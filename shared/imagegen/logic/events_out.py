"""Where ProgressEvents go: the events function hands each stream record's events to every publisher.

A publisher takes one record's events (in order) and raises if it could not deliver them; the record
then fails and Lambda retries the batch from it. So a publisher must tolerate seeing an event twice
(the events before a failure in the same batch may be published again) and must not block for long:
the WebSocket notifier posts to connections, the webhook outlet only enqueues deliveries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from imagegen.config import Settings
from imagegen.dal.jobs_table import JobsTable
from imagegen.dal.local_files import append_lines
from imagegen.logic.progress import JobReader, RowChange, progress_events
from imagegen.logic.webhook_dispatch import WebhookOutbox, enqueue_webhooks, webhook_outbox
from imagegen.logic.ws_notify import websocket_publisher
from imagegen.models.progress import ProgressEvent

Publisher = Callable[[list[ProgressEvent]], None]


class EarlierRecordFailedError(Exception):
    """A record after a failed one: publishing it would overtake the retried record's events."""


def events_log(path: Path) -> Publisher:
    """A local-only publisher: the events as JSON lines appended to `path` (LOCAL_EVENTS_LOG)."""

    def publish(events: list[ProgressEvent]) -> None:
        append_lines(path, [event.model_dump_json() for event in events])

    return publish


def webhook_publisher(jobs: JobReader, outbox: WebhookOutbox) -> Publisher:
    """Each event a job's webhook asked for, queued for the delivery function. A job's webhook is
    fixed when it is created, so its row is read once per job and container (the last 1024 jobs)."""
    job_of = functools.lru_cache(maxsize=1024)(jobs)

    def publish(events: list[ProgressEvent]) -> None:
        for job_id in dict.fromkeys(event.job_id for event in events):
            job = job_of(job_id)
            if job is None:  # deleted since (TTL): nobody to tell
                continue
            enqueue_webhooks(job, [event for event in events if event.job_id == job_id], outbox)

    return publish


def default_publishers(settings: Settings) -> list[Publisher]:
    """Every outlet the events function feeds: the WebSocket notifier, then the webhook dispatch."""
    publishers: list[Publisher] = [
        websocket_publisher(settings),
        webhook_publisher(job_reader(settings), webhook_outbox(settings)),
    ]
    if settings.local_events_log is not None:
        publishers.append(events_log(settings.local_events_log))
    return publishers


def job_reader(settings: Settings) -> JobReader:
    return JobsTable(settings.jobs_table).get_job  # a consistent read


def changes_of(records: Sequence[Mapping[str, Any]]) -> list[RowChange]:
    """The row changes of a DynamoDB stream event's records (Lambda's shape), in order."""
    return [
        RowChange(old=record["dynamodb"].get("OldImage"), new=record["dynamodb"].get("NewImage"))
        for record in records
    ]


class InOrder:
    """Publishes a batch's events record by record; once a record fails, every later one fails too.

    Lambda resumes a stream batch from its first failed record, so the records after it come again:
    publishing them now would deliver an item's completion before its retried start.
    """

    def __init__(self, events: Mapping[str, list[ProgressEvent]], publishers: Sequence[Publisher]) -> None:
        """`events`: each record's events by its sequence number."""
        self.events, self.publishers = events, publishers
        self.failed = False
        self.published = 0

    def __call__(self, sequence_number: str) -> None:
        if self.failed:
            raise EarlierRecordFailedError(sequence_number)
        events = self.events[sequence_number]
        if not events:
            return
        try:
            for publisher in self.publishers:
                publisher(events)
        except Exception:
            self.failed = True
            raise
        self.published += len(events)


def in_order(
    records: Sequence[Mapping[str, Any]], settings: Settings, publishers: Sequence[Publisher]
) -> InOrder:
    """The batch's events, ready to publish record by record (the job rows read once per job)."""
    events = progress_events(changes_of(records), job_reader(settings), settings)
    numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
    return InOrder(dict(zip(numbers, events, strict=True)), publishers)
