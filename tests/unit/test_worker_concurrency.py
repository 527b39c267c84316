"""The worker runs the records of one SQS batch at the same time and reports only the failed ones."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from imagegen.api.job_views import create_job, job_status
from imagegen.local.lambdas import LocalContext, load_handler
from imagegen.local.poller import sqs_event
from imagegen.local.template import Template
from imagegen.models.domain import Caller, ImageSpec
from imagegen.models.requests import BatchRequest
from imagegen.providers.base import GeneratedImage
from tests.unit.fakes import ScriptedProvider, make_services

ALICE = Caller(sub="alice")


class TogetherProvider:
    """Draws only once `parties` calls are inside it at the same moment; a broken category raises."""

    name = "together"
    rate_limited = False
    parallel_calls = 10  # waits on the network, as OpenAI does

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


def _queued_as_one_event(services: Any) -> dict[str, Any]:
    """The messages the job queued, as one SQS event for the worker."""
    messages = [
        {
            "MessageId": f"m{message.index}",
            "ReceiptHandle": f"r{message.index}",
            "Body": message.model_dump_json(),
            "Attributes": {"ApproximateReceiveCount": "1"},
        }
        for message in services.queue.sent
    ]
    return sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:imagegen-generate", "us-east-1")


def test_the_records_of_one_event_run_at_once_and_only_the_failing_one_is_reported(
    worker: Callable[[Any], Any],
) -> None:
    # Given a batch of five icons whose provider draws only when four calls are in it at once
    categories = ["garden tools", "kitchen", "bicycles", "broken", "musical instruments"]
    services = make_services(TogetherProvider(parties=4, broken="broken"))
    job_id = create_job(BatchRequest(categories=categories, size="1024x1024"), ALICE, services).batch_id
    # When the worker gets them as one SQS event
    answer = worker(services)(_queued_as_one_event(services), LocalContext("worker", 300))
    # Then the four good ones were drawn together and stored, and only the broken one is reported
    broken = categories.index("broken")  # items are numbered in the order of their categories
    assert answer["batchItemFailures"] == [{"itemIdentifier": f"m{broken}"}]
    assert job_status(job_id, ALICE, services).counts.completed == 4
    # And the broken one was put back for a retry after a backoff, as run_item does
    assert [receipt for receipt, _ in services.queue.delays] == [f"r{broken}"]


class CountingRenderer(ScriptedProvider):
    """A CPU-bound renderer: it counts how many of its calls run at the same moment."""

    parallel_calls = 1

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.inside = self.most_inside = 0

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        with self.lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            threading.Event().wait(0.05)  # long enough for a second thread to enter if one could
            return super().generate(spec)
        finally:
            with self.lock:
                self.inside -= 1


def test_a_cpu_bound_renderer_draws_the_records_of_one_event_one_at_a_time(
    worker: Callable[[Any], Any],
) -> None:
    # Given a batch of four icons for a renderer that uses the CPU, as the offline one does
    renderer = CountingRenderer()
    services = make_services(renderer)
    categories = ["garden tools", "kitchen", "bicycles", "musical instruments"]
    job_id = create_job(BatchRequest(categories=categories, size="1024x1024"), ALICE, services).batch_id
    # When the worker gets them as one SQS event
    answer = worker(services)(_queued_as_one_event(services), LocalContext("worker", 300))
    # Then all four are stored, drawn one after another: threads would only share the same cores
    assert answer["batchItemFailures"] == []
    assert job_status(job_id, ALICE, services).counts.completed == 4
    assert renderer.most_inside == 1
