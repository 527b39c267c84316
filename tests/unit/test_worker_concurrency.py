"""The worker runs the records of one SQS batch at the same time and reports only the failed ones."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from imagegen.local.lambdas import LocalContext, load_handler
from imagegen.local.poller import sqs_event
from imagegen.local.template import Template
from imagegen.logic.jobs import create_job, job_status
from imagegen.models.domain import Caller, ImageSpec
from imagegen.models.requests import BatchRequest
from imagegen.providers.base import GeneratedImage
from tests.unit.fakes import ScriptedProvider, make_services

ALICE = Caller(sub="alice")


class TogetherProvider:
    """Draws only once `parties` calls are inside it at the same moment; a broken category raises."""

    name = "together"
    rate_limited = False

    def __init__(self, parties: int, broken: str) -> None:
        self.together = threading.Barrier(parties, timeout=30)
        self.broken = broken
        self.real = ScriptedProvider()

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        if spec.category == self.broken:
            raise ConnectionError("the provider dropped the connection")
        self.together.wait()  # a worker that ran records one by one would break the barrier here
        return self.real.generate(spec)


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], Any]:
    """The worker's lambda_handler, loaded as Lambda loads it, with the given services."""
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    handler = load_handler(Template().code_dir("WorkerFunction"))
    app = sys.modules["app"]

    def with_services(services: Any) -> Any:
        monkeypatch.setattr(app, "default_services", lambda: services)
        return handler

    return with_services


def test_the_records_of_one_event_run_at_once_and_only_the_failing_one_is_reported(
    worker: Callable[[Any], Any],
) -> None:
    # Given a batch of five icons whose provider draws only when four calls are in it at once
    categories = ["garden tools", "kitchen", "bicycles", "broken", "musical instruments"]
    services = make_services(TogetherProvider(parties=4, broken="broken"))
    job_id = create_job(BatchRequest(categories=categories, size="1024x1024"), ALICE, services).batch_id
    messages = [
        {
            "MessageId": f"m{message.index}",
            "ReceiptHandle": f"r{message.index}",
            "Body": message.model_dump_json(),
            "Attributes": {"ApproximateReceiveCount": "1"},
        }
        for message in services.queue.sent  # type: ignore[attr-defined]
    ]
    # When the worker gets them as one SQS event
    event = sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:imagegen-generate", "us-east-1")
    answer = worker(services)(event, LocalContext("worker", 300))
    # Then the four good ones were drawn together and stored, and only the broken one is reported
    broken = categories.index("broken")  # items are numbered in the order of their categories
    assert answer["batchItemFailures"] == [{"itemIdentifier": f"m{broken}"}]
    assert job_status(job_id, ALICE, services).counts.completed == 4
    # And the broken one was put back for a retry after a backoff, as run_item does
    assert [receipt for receipt, _ in services.queue.delays] == [f"r{broken}"]  # type: ignore[attr-defined]
