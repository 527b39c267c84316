"""The worker's use case: idempotent storing and counting, permanent vs transient failures."""

from __future__ import annotations

import json

import pytest

from imagegen.api.job_views import create_job, job_result, job_status
from imagegen.errors import PermanentGenerationError
from imagegen.logic.run_item import retry_delay, run_item
from imagegen.models.domain import Caller
from imagegen.models.requests import BlogImageRequest, IconRequest
from tests.helpers import png_size
from tests.unit.fakes import ScriptedProvider, make_services

ALICE = Caller(sub="alice")


def test_blog_item_stores_png_and_metadata_under_the_post_layout() -> None:
    services = make_services()
    request = BlogImageRequest(prompt="A harbour at dawn", post_id="53", section_id="2", filename="hero")
    job_id = create_job(request, ALICE, services).batch_id
    run_item(services.queue.sent[0], 1, "r", services)
    objects = services.images.objects
    png, _ = objects["posts/53/sections/2/raw/hero.png"]
    assert png_size(png) == (1792, 1024)
    metadata = json.loads(objects["posts/53/sections/2/raw/hero_metadata.json"][0])
    assert metadata["post_id"] == "53" and metadata["section_id"] == "2"
    assert metadata["prompt"] == "A harbour at dawn"
    assert metadata["image_path"] == "posts/53/sections/2/raw/hero.png"
    assert metadata["size"] == "1792x1024" and metadata["model"] and metadata["generated_at"]
    assert job_status(job_id, ALICE, services).state == "completed"


def test_a_message_delivered_twice_stores_once_and_counts_once() -> None:
    provider = ScriptedProvider()
    services = make_services(provider)
    job_id = create_job(IconRequest(category="tools"), ALICE, services).batch_id
    message = services.queue.sent[0]
    run_item(message, 1, "r1", services)
    run_item(message, 2, "r2", services)
    status = job_status(job_id, ALICE, services)
    assert (status.counts.completed, status.counts.total) == (1, 1)
    assert provider.calls == 1
    assert len(services.images.objects) == 2


def test_a_crash_after_storing_is_finished_by_the_redelivery_without_a_second_object() -> None:
    services = make_services()
    job_id = create_job(IconRequest(category="tools"), ALICE, services).batch_id
    message = services.queue.sent[0]
    images = services.images
    images.fail_puts = 0
    # First delivery: the PNG is stored, then the metadata write fails.
    real_put = images.put_new
    calls = {"n": 0}

    def put_then_fail(key, body, content_type, metadata):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("lost the connection")
        return real_put(key, body, content_type, metadata)

    images.put_new = put_then_fail  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        run_item(message, 1, "r1", services)
    images.put_new = real_put  # type: ignore[method-assign]
    run_item(message, 2, "r2", services)
    status = job_status(job_id, ALICE, services)
    assert (status.state, status.counts.completed) == ("completed", 1)
    assert len(images.objects) == 2


def test_a_permanent_failure_fails_the_item_at_once_with_its_reason() -> None:
    services = make_services(ScriptedProvider(PermanentGenerationError("the provider refused the prompt")))
    job_id = create_job(IconRequest(category="tools"), ALICE, services).batch_id
    run_item(services.queue.sent[0], 1, "r", services)
    result = job_result(job_id, ALICE, services)
    assert result.state == "failed"
    assert result.items[0].error == "the provider refused the prompt"
    assert services.queue.delays == []


def test_a_transient_failure_is_retried_with_backoff_then_succeeds() -> None:
    provider = ScriptedProvider(TimeoutError("slow"), TimeoutError("slow"))
    services = make_services(provider)
    job_id = create_job(IconRequest(category="tools"), ALICE, services).batch_id
    message = services.queue.sent[0]
    for attempt in (1, 2):
        with pytest.raises(TimeoutError):
            run_item(message, attempt, f"r{attempt}", services)
    assert services.queue.delays == [("r1", 2), ("r2", 4)]
    assert job_status(job_id, ALICE, services).state == "running"
    run_item(message, 3, "r3", services)
    assert job_status(job_id, ALICE, services).state == "completed"


def test_the_last_attempt_fails_the_item_and_still_raises_for_the_dead_letter_queue() -> None:
    services = make_services(ScriptedProvider(*[RuntimeError("boom")] * 5))
    job_id = create_job(IconRequest(category="tools"), ALICE, services).batch_id
    message = services.queue.sent[0]
    for attempt in range(1, 6):
        with pytest.raises(RuntimeError):
            run_item(message, attempt, "r", services)
    result = job_result(job_id, ALICE, services)
    assert result.state == "failed" and result.counts.failed == 1
    assert result.items[0].error == "gave up after 5 attempts (last: RuntimeError)"
    assert services.images.objects == {}
    assert services.queue.delays[-1] == ("r", 0)  # released for the DLQ at once


def test_bytes_that_are_not_a_valid_png_are_never_stored() -> None:
    class BadBytes(ScriptedProvider):
        def generate(self, spec):  # type: ignore[no-untyped-def]
            good = super().generate(spec)
            return type(good)(good.data[: len(good.data) // 2], good.content_type, good.provider, good.model)

    services = make_services(BadBytes())
    job_id = create_job(IconRequest(category="tools"), ALICE, services).batch_id
    run_item(services.queue.sent[0], 1, "r", services)
    assert job_result(job_id, ALICE, services).items[0].error
    assert services.images.objects == {}


def test_an_existing_object_from_another_job_is_never_overwritten() -> None:
    services = make_services()
    services.images.objects["posts/53/sections/2/raw/hero.png"] = (
        b"theirs",
        {"job-id": "other", "item": "0"},
    )
    request = BlogImageRequest(prompt="x", post_id="53", section_id="2")
    job_id = create_job(request, ALICE, services).batch_id
    # Simulate the race the API check cannot close: the key is taken after the job was created.
    item = services.jobs.get_item(job_id, 0)
    assert item is not None
    services.images.objects[item.spec.key] = (b"theirs", {"job-id": "other", "item": "0"})
    run_item(services.queue.sent[0], 1, "r", services)
    assert services.images.objects[item.spec.key][0] == b"theirs"
    assert "already exists" in (job_result(job_id, ALICE, services).items[0].error or "")


def test_retry_delay_doubles_and_is_capped() -> None:
    assert [retry_delay(n, 5) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert retry_delay(20, 5) == 900
