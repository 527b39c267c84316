"""Jobs: creation, ownership, listing and cancellation, against in-memory fakes."""

from __future__ import annotations

import pytest

from imagegen.api.job_views import cancel_job, create_job, job_result, job_status, list_jobs, submit
from imagegen.errors import ImageExistsError, InvalidRequestError, JobFinishedError, JobNotFoundError
from imagegen.logic.run_item import run_item
from imagegen.models.domain import Caller, ItemMessage
from imagegen.models.requests import BatchRequest, BlogImageRequest, IconRequest
from imagegen.models.responses import JobAcceptedOut, JobResultOut
from tests.unit.fakes import FakeQueue, FakeServices, make_services

ALICE, BOB = Caller(sub="alice"), Caller(sub="bob")


def _batch(categories: list[str], variations: int = 1) -> BatchRequest:
    return BatchRequest(
        categories=categories, style="flat", color_scheme="blue_tones", variations_per_category=variations
    )


def _drain(services: FakeServices, queue: FakeQueue) -> None:
    for message in list(queue.sent):
        run_item(message, 1, "receipt", services)


def test_batch_creates_one_item_and_one_message_per_category_and_variation() -> None:
    services = make_services()
    accepted = create_job(_batch(["electronics", "tools", "automotive"], 2), ALICE, services)
    assert accepted.total == 6
    assert len(services.queue.sent) == 6
    keys = {item.key for item in job_result(accepted.batch_id, ALICE, services).items}
    assert len(keys) == 6 and all(key.startswith("icons/") for key in keys)


def test_another_users_job_is_not_found_exactly_like_a_missing_one() -> None:
    services = make_services()
    job_id = create_job(_batch(["tools"]), ALICE, services).batch_id
    with pytest.raises(JobNotFoundError) as other:
        job_status(job_id, BOB, services)
    with pytest.raises(JobNotFoundError) as missing:
        job_status("0" * 32, BOB, services)
    assert type(other.value) is type(missing.value)
    for action in (job_result, cancel_job):
        with pytest.raises(JobNotFoundError):
            action(job_id, BOB, services)


def test_cancel_stops_queued_items_and_counts_still_add_up() -> None:
    services = make_services()
    job_id = create_job(_batch(["a", "b", "c", "d"]), ALICE, services).batch_id
    queue = services.queue
    first = queue.sent[0]
    run_item(first, 1, "r", services)  # one item finishes before the cancel
    status = cancel_job(job_id, ALICE, services)
    assert (status.counts.completed, status.counts.cancelled, status.counts.pending) == (1, 3, 0)
    assert status.state == "cancelled"
    _drain(services, queue)  # the queued messages still arrive, and change nothing
    after = job_status(job_id, ALICE, services)
    assert (after.counts.completed, after.counts.cancelled, after.counts.failed) == (1, 3, 0)
    assert len(services.images.objects) == 2  # one PNG + its metadata


def test_cancelling_a_finished_job_is_a_conflict() -> None:
    services = make_services()
    job_id = create_job(_batch(["tools"]), ALICE, services).batch_id
    _drain(services, services.queue)
    with pytest.raises(JobFinishedError):
        cancel_job(job_id, ALICE, services)


def test_listing_is_newest_first_paginated_and_per_owner() -> None:
    services = make_services()
    ids = [create_job(_batch(["tools"]), ALICE, services).batch_id for _ in range(5)]
    create_job(_batch(["tools"]), BOB, services)
    first = list_jobs(ALICE, 3, None, services)
    assert [job.batch_id for job in first.batches] == ids[::-1][:3]
    assert first.next_cursor
    second = list_jobs(ALICE, 3, first.next_cursor, services)
    assert [job.batch_id for job in second.batches] == ids[::-1][3:]
    assert second.next_cursor is None


def test_a_cursor_from_another_user_or_forged_is_refused() -> None:
    services = make_services()
    for _ in range(3):
        create_job(_batch(["tools"]), ALICE, services)
    cursor = list_jobs(ALICE, 1, None, services).next_cursor
    assert cursor
    for bad in (cursor, "not-base64!", "eyJ4IjoxfQ"):
        with pytest.raises(InvalidRequestError):
            list_jobs(BOB, 1, bad, services)


def test_blog_image_with_a_taken_filename_is_refused_before_anything_is_queued() -> None:
    services = make_services()
    request = BlogImageRequest(prompt="a harbour", post_id="53", section_id="2", filename="hero")
    job_id = create_job(request, ALICE, services).batch_id
    _drain(services, services.queue)
    assert job_status(job_id, ALICE, services).state == "completed"
    sent = len(services.queue.sent)
    with pytest.raises(ImageExistsError):
        create_job(request, BOB, services)
    assert len(services.queue.sent) == sent


def test_submit_without_wait_answers_accepted_and_with_wait_the_result() -> None:
    services = make_services()
    request = IconRequest(category="tools")
    assert isinstance(submit(request, ALICE, 0, services), JobAcceptedOut)
    # Nobody runs the worker here, so waiting ends with "still going" after the wait.
    assert isinstance(submit(request, ALICE, 2, services), JobAcceptedOut)

    class DrainingSleep:  # the worker finishes while the API waits
        def __call__(self, _: float) -> None:
            _drain(services, services.queue)
            services.queue.sent.clear()

    services.sleep = DrainingSleep()
    services.queue.sent.clear()
    outcome = submit(request, ALICE, 5, services)
    assert isinstance(outcome, JobResultOut) and outcome.state == "completed"
    assert outcome.items[0].image_url and outcome.items[0].image_url.endswith(".png")


def test_a_batch_submitted_with_a_wait_answers_its_result_once_every_item_ended() -> None:
    services = make_services()

    class DrainingSleep:  # the worker finishes the batch while the API waits
        calls = 0

        def __call__(self, _: float) -> None:
            self.calls += 1
            _drain(services, services.queue)
            services.queue.sent.clear()

    services.sleep = sleep = DrainingSleep()
    outcome = submit(_batch(["tools", "toys"], variations=2), ALICE, 10, services)
    assert isinstance(outcome, JobResultOut)
    assert outcome.state == "completed" and outcome.counts.completed == 4 and len(outcome.items) == 4
    assert sleep.calls == 1


def test_blog_jobs_point_at_api_jobs_and_icon_jobs_at_their_original_urls() -> None:
    services = make_services()
    blog = create_job(BlogImageRequest(prompt="a harbour", post_id="53", section_id="2"), ALICE, services)
    assert (blog.status_url, blog.result_url) == (
        f"/api/jobs/{blog.batch_id}",
        f"/api/jobs/{blog.batch_id}/result",
    )
    assert job_status(blog.batch_id, ALICE, services).status_url == blog.status_url
    for request in (IconRequest(category="tools"), _batch(["tools"])):
        icon = create_job(request, ALICE, services)
        assert icon.status_url == f"/api/icons/batch/{icon.batch_id}/status"
        assert icon.result_url == f"/api/icons/batch/{icon.batch_id}/result"
        assert job_status(icon.batch_id, ALICE, services).result_url == icon.result_url


def test_icon_size_defaults_to_openai_image_size() -> None:
    services = make_services(openai_image_size="1536x1024")
    job_id = create_job(IconRequest(category="tools"), ALICE, services).batch_id
    assert job_result(job_id, ALICE, services).items[0].size == "1536x1024"


def test_messages_name_the_job_and_item() -> None:
    services = make_services()
    job_id = create_job(_batch(["tools", "toys"]), ALICE, services).batch_id
    assert services.queue.sent == [ItemMessage(job_id=job_id, index=0), ItemMessage(job_id=job_id, index=1)]
