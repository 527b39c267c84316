"""logic.economy on the in-memory fakes: submit, collect, cancel and poll, each safe to repeat.

The Batch API is a scripted stand-in here (FakeBatches); tests/e2e/test_economy.py runs the same
logic through the real SDK against the fake OpenAI server."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from imagegen.logic import economy
from imagegen.logic.job_commands import cancel_job, create_job
from imagegen.models.domain import Caller, ItemState, JobState
from imagegen.models.economy import CancelMessage, CollectMessage, SubmitMessage
from imagegen.models.requests import BatchRequest
from imagegen.providers.openai_batches import BatchState, LineResult, parse_custom_id, sort_line
from imagegen.providers.prices import cost_from_usage
from imagegen.providers.registry import DEFAULT_MODEL
from tests.unit.fakes import FakeServices, make_services

ALICE = Caller(sub="alice")
USAGE = {"input_tokens": 20, "output_tokens": 196, "input_tokens_details": {"text_tokens": 20}}


def _png(size: int = 256) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 120, 40)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


PNG = _png()


class FakeEconomyQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, int]] = []

    def send(self, message: Any, delay_seconds: int = 0) -> None:
        self.sent.append((message, delay_seconds))

    def take(self, kind: type) -> list[Any]:
        found = [message for message, _ in self.sent if isinstance(message, kind)]
        self.sent = [(m, d) for m, d in self.sent if not isinstance(m, kind)]
        return found


class FakeBatches:
    """The Batch API's adapter, scripted: batches stay in_progress until a test ends them."""

    def __init__(self) -> None:
        self.created: list[tuple[str, int, list[dict[str, Any]]]] = []
        self.states: dict[str, BatchState] = {}
        self.files: dict[str, list[str]] = {}
        self.cancelled: list[str] = []
        self.reads = 0

    def submit(self, job_id: str, chunk: int, lines: list[bytes]) -> str:
        batch_id = f"batch_{len(self.created)}"
        self.created.append((job_id, chunk, [json.loads(line) for line in lines]))
        self.states[batch_id] = BatchState(batch_id, "in_progress", None, None, 0, 0, len(lines), None)
        return batch_id

    def state(self, batch_id: str) -> BatchState:
        return self.states[batch_id]

    def cancel(self, batch_id: str) -> str:
        self.cancelled.append(batch_id)
        return "cancelling"

    def lines(self, file_id: str) -> Iterator[LineResult]:
        for raw in self.files[file_id]:
            self.reads += 1
            result = sort_line(raw)
            assert result is not None
            yield result

    def end(self, batch_id: str, status: str, failing: dict[int, dict[str, Any]] | None = None) -> None:
        """End the batch: every line drawn but those in `failing` (index -> a line's `error` or
        response body), as OpenAI writes its output and error files."""
        _, _, lines = self.created[int(batch_id.split("_")[1])]
        output, errors = [], []
        for line in lines:
            index = parse_custom_id(line["custom_id"])[1]  # type: ignore[index]
            failure = (failing or {}).get(index)
            if failure is None and status in ("completed", "cancelled", "expired") and index >= 0:
                body = {"data": [{"b64_json": PNG}], "usage": USAGE}
                output.append(
                    {"custom_id": line["custom_id"], "response": {"status_code": 200, "body": body}}
                )
            elif failure is not None and str(failure.get("code")).startswith("batch_"):  # never ran
                errors.append({"custom_id": line["custom_id"], "response": None, "error": failure})
            elif failure is not None:
                response = {"status_code": failure.get("status", 400), "body": {"error": failure}}
                errors.append({"custom_id": line["custom_id"], "response": response, "error": None})
        self.files[f"{batch_id}-out"] = [json.dumps(line) for line in output]
        self.files[f"{batch_id}-err"] = [json.dumps(line) for line in errors]
        self.states[batch_id] = BatchState(
            batch_id, status, f"{batch_id}-out", f"{batch_id}-err", len(output), len(errors), len(lines), None
        )


@pytest.fixture
def services() -> FakeServices:
    services = make_services(
        openai_api_key="sk-unit", openai_image_size="256x256", quota_images_per_day=100, cache_enabled=False
    )
    services.economy_queue = FakeEconomyQueue()
    batches = FakeBatches()
    services.batches_factory = lambda: batches  # type: ignore[assignment,return-value]
    return services


def _queue(services: FakeServices) -> FakeEconomyQueue:
    return services.economy_queue  # type: ignore[return-value]


def _batches(services: FakeServices) -> FakeBatches:
    return services.batches  # type: ignore[return-value]


def _economy_job(services: FakeServices, count: int = 4) -> str:
    request = BatchRequest(
        categories=[f"tea {n}" for n in range(count)], priority="economy", quality="low", size="256x256"
    )
    job = create_job(request, ALICE, services)
    assert job.priority == "economy"
    (submit,) = _queue(services).take(SubmitMessage)
    assert submit.job_id == job.job_id
    assert services.queue.sent == []  # nothing for the worker
    return job.job_id


def _states(services: FakeServices, job_id: str) -> list[ItemState]:
    return [item.state for item in services.jobs.iter_items(job_id)]


def test_submit_puts_the_items_in_one_batch_and_the_job_shows_it(services: FakeServices) -> None:
    job_id = _economy_job(services)
    economy.submit(job_id, services)
    (created,) = _batches(services).created
    assert [line["custom_id"] for line in created[2]] == [f"{job_id}:{n}" for n in range(4)]
    assert {line["body"]["quality"] for line in created[2]} == {"low"}
    job = services.jobs.get_job(job_id)
    assert job is not None
    assert (job.state, job.provider_batches) == (JobState.SUBMITTED, ("batch_0",))
    assert set(_states(services, job_id)) == {ItemState.SUBMITTED}
    economy.submit(job_id, services)  # delivered again: nothing new
    assert len(_batches(services).created) == 1


def test_a_job_is_split_into_files_of_economy_max_lines(services: FakeServices) -> None:
    services.settings = services.settings.model_copy(update={"economy_max_lines": 3})
    job_id = _economy_job(services, count=7)
    economy.submit(job_id, services)
    assert [len(lines) for _, _, lines in _batches(services).created] == [3, 3, 1]
    assert [chunk for _, chunk, _ in _batches(services).created] == [0, 1, 2]
    job = services.jobs.get_job(job_id)
    assert job is not None and len(job.provider_batches) == 3


def test_collect_stores_each_line_at_half_price_once_however_often_it_runs(services: FakeServices) -> None:
    job_id = _economy_job(services)
    economy.submit(job_id, services)
    economy.collect("batch_0", 0, services)  # still in progress: nothing yet
    assert set(_states(services, job_id)) == {ItemState.SUBMITTED}
    _batches(services).end("batch_0", "completed")
    threads = [threading.Thread(target=economy.collect, args=("batch_0", 0, services)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    economy.collect("batch_0", 0, services)  # and once more, later (a webhook sent twice)
    job = services.jobs.get_job(job_id)
    assert job is not None
    assert (job.state, job.counts.completed, job.billed_calls) == (JobState.COMPLETED, 4, 4)
    items = services.jobs.iter_items(job_id)
    assert [item.billed_calls for item in items] == [1, 1, 1, 1]
    metadata = json.loads(services.images.objects[items[0].spec.metadata_key][0])
    assert metadata["priority"] == "economy"
    assert metadata["provider_batch_id"] == "batch_0"
    assert metadata["cost_usd"] == pytest.approx(cost_from_usage(DEFAULT_MODEL, USAGE) / 2)  # type: ignore[operator]
    assert services.limits.usage("alice")["actual_cost_usd"] == pytest.approx(4 * metadata["cost_usd"])


def test_failed_lines_fail_their_items_with_reasons(services: FakeServices) -> None:
    job_id = _economy_job(services)
    economy.submit(job_id, services)
    _batches(services).end("batch_0", "completed", {1: {"code": "moderation_blocked", "message": "no"}})
    economy.collect("batch_0", 0, services)
    job = services.jobs.get_job(job_id)
    assert job is not None and job.state == JobState.PARTIALLY_FAILED
    failed = [item for item in services.jobs.iter_items(job_id) if item.state == ItemState.FAILED]
    assert [(item.index, item.error) for item in failed] == [(1, "refused by OpenAI's safety system")]


@pytest.mark.parametrize("on_expiry", ["requeue", "fail"])
def test_lines_an_expired_batch_never_ran_go_back_to_the_standard_path_or_fail(
    services: FakeServices, on_expiry: str
) -> None:
    services.settings = services.settings.model_copy(update={"economy_on_expiry": on_expiry})
    job_id = _economy_job(services)
    economy.submit(job_id, services)
    expired = {"code": "batch_expired", "message": "window closed"}
    _batches(services).end("batch_0", "expired", {2: expired, 3: expired})
    economy.collect("batch_0", 0, services)
    items = services.jobs.iter_items(job_id)
    assert [item.state for item in items[:2]] == [ItemState.COMPLETED] * 2
    if on_expiry == "requeue":
        assert [item.state for item in items[2:]] == [ItemState.QUEUED] * 2
        assert {item.spec.priority for item in items[2:]} == {"standard"}  # billed at the full price
        assert [(message.job_id, message.index) for message in services.queue.sent] == [
            (job_id, 2),
            (job_id, 3),
        ]
    else:
        assert [item.state for item in items[2:]] == [ItemState.FAILED] * 2
        assert "ECONOMY_ON_EXPIRY=fail" in (items[2].error or "")
        job = services.jobs.get_job(job_id)
        assert job is not None and job.state == JobState.PARTIALLY_FAILED


def test_a_batch_that_failed_as_a_whole_fails_its_items(services: FakeServices) -> None:
    job_id = _economy_job(services, count=2)
    economy.submit(job_id, services)
    batches = _batches(services)
    batches.states["batch_0"] = BatchState("batch_0", "failed", None, None, 0, 0, 2, "invalid_json: line 1")
    economy.collect("batch_0", 0, services)
    items = services.jobs.iter_items(job_id)
    assert {item.state for item in items} == {ItemState.FAILED}
    assert items[0].error == "the Batch API failed it: invalid_json: line 1"
    assert services.jobs.open_provider_batches() == []


def test_a_long_file_continues_in_a_new_message_from_the_next_line(services: FakeServices) -> None:
    job_id = _economy_job(services)
    economy.submit(job_id, services)
    _batches(services).end("batch_0", "completed")
    left = iter([600.0, 600.0, 10.0])  # seconds left in the invocation as each line comes
    economy.collect("batch_0", 0, services, lambda: next(left))
    assert _states(services, job_id).count(ItemState.COMPLETED) == 2
    (again,) = _queue(services).take(CollectMessage)
    assert (again.batch_id, again.from_line) == ("batch_0", 2)
    economy.handle_message(again.model_dump_json(), services)
    job = services.jobs.get_job(job_id)
    assert job is not None and job.state == JobState.COMPLETED


def test_cancel_cancels_the_provider_batch_and_keeps_what_was_drawn(services: FakeServices) -> None:
    job_id = _economy_job(services)
    economy.submit(job_id, services)
    answer = cancel_job(job_id, ALICE, services)
    assert answer.cancel_requested and answer.state == JobState.SUBMITTED  # ends when collected
    (cancel,) = _queue(services).take(CancelMessage)
    economy.handle_message(cancel.model_dump_json(), services)
    assert _batches(services).cancelled == ["batch_0"]
    cancelled = {"code": "batch_cancelled", "message": "cancelled"}
    _batches(services).end("batch_0", "cancelled", {1: cancelled, 2: cancelled, 3: cancelled})
    for message in _queue(services).take(CollectMessage):
        economy.handle_message(message.model_dump_json(), services)
    assert _states(services, job_id) == [ItemState.COMPLETED] + [ItemState.CANCELLED] * 3
    job = services.jobs.get_job(job_id)
    assert job is not None and job.state == JobState.CANCELLED


def test_a_cancel_before_submission_makes_no_batch(services: FakeServices) -> None:
    job_id = _economy_job(services)
    cancel_job(job_id, ALICE, services)  # the items were still queued: cancelled at once
    economy.submit(job_id, services)
    assert _batches(services).created == []
    job = services.jobs.get_job(job_id)
    assert job is not None and job.state == JobState.CANCELLED


def test_a_cancel_during_submission_cancels_the_batch_it_made(services: FakeServices) -> None:
    job_id = _economy_job(services)
    batches = _batches(services)
    submit = batches.submit

    def cancelled_meanwhile(*args: Any) -> str:
        batch_id = submit(*args)
        services.jobs.request_cancel(job_id, services.clock())  # the cancel's message found no batch yet
        return batch_id

    batches.submit = cancelled_meanwhile  # type: ignore[method-assign,assignment]
    economy.submit(job_id, services)
    assert batches.cancelled == ["batch_0"]


def test_poll_sends_a_collect_for_each_ended_batch_and_notes_the_others(services: FakeServices) -> None:
    first, second = _economy_job(services, 2), _economy_job(services, 2)
    economy.submit(first, services)
    economy.submit(second, services)
    batches = _batches(services)
    batches.end("batch_0", "completed")
    batches.states["batch_1"] = BatchState("batch_1", "in_progress", None, None, 1, 0, 2, None)
    assert economy.poll(services) == 2
    assert [message.batch_id for message in _queue(services).take(CollectMessage)] == ["batch_0"]
    noted = services.jobs.get_provider_batch("batch_1")
    assert noted is not None and (noted.status, noted.completed) == ("in_progress", 1)


def test_a_cached_request_never_goes_to_a_batch(services: FakeServices) -> None:
    services.settings = services.settings.model_copy(update={"cache_enabled": True})
    job_id = _economy_job(services, count=2)
    economy.submit(job_id, services)
    _batches(services).end("batch_0", "completed")
    economy.collect("batch_0", 0, services)
    again = create_job(
        BatchRequest(categories=["tea 0", "tea 1"], priority="economy", quality="low", size="256x256"),
        ALICE,
        services,
    )
    assert (again.state, again.priority) == (JobState.COMPLETED, "standard")
    assert _queue(services).take(SubmitMessage) == []


def test_max_cost_counts_economy_images_at_half_price(services: FakeServices) -> None:
    from imagegen.errors import BudgetExceededError
    from imagegen.models.domain import ImageSpec
    from imagegen.providers.prices import estimate_spec_cost

    one = ImageSpec(
        kind="icon", prompt="x", width=1024, height=1024, key="k.png", model=DEFAULT_MODEL, quality="high"
    )
    full = estimate_spec_cost(one)
    assert estimate_spec_cost(one.model_copy(update={"priority": "economy"})) == pytest.approx(full / 2)
    fields: dict[str, Any] = {
        "categories": ["tea 0", "tea 1"],
        "quality": "high",
        "size": "1024x1024",
        "use_cache": False,
    }
    ceiling = round(2 * full * 0.75, 2)  # above the economy estimate (about 0.21), below the standard
    with pytest.raises(BudgetExceededError):
        create_job(BatchRequest(**fields, max_cost_usd=ceiling, priority="standard"), ALICE, services)
    job = create_job(BatchRequest(**fields, max_cost_usd=ceiling, priority="economy"), ALICE, services)
    assert job.priority == "economy"


def test_a_submit_the_batch_api_never_takes_goes_to_the_standard_path_on_its_last_delivery(
    services: FakeServices,
) -> None:
    from imagegen.errors import TransientGenerationError
    from imagegen.local.template import Template

    job_id = _economy_job(services, count=2)
    batches = _batches(services)

    def unreachable(*args: Any) -> str:
        raise TransientGenerationError("uploading the input file: APIConnectionError")

    batches.submit = unreachable  # type: ignore[method-assign,assignment]
    body = SubmitMessage(job_id=job_id).model_dump_json()
    with pytest.raises(TransientGenerationError):
        economy.handle_message(body, services, attempt=1)
    assert set(_states(services, job_id)) == {ItemState.SUBMITTED}  # waiting for the next delivery
    economy.handle_message(body, services, attempt=economy.ECONOMY_MAX_RECEIVES)
    assert set(_states(services, job_id)) == {ItemState.QUEUED}
    assert [message.index for message in services.queue.sent] == [0, 1]
    assert {item.spec.priority for item in services.jobs.iter_items(job_id)} == {"standard"}
    queue = Template().resources["EconomyQueue"]["Properties"]["RedrivePolicy"]
    assert queue["maxReceiveCount"] == economy.ECONOMY_MAX_RECEIVES
