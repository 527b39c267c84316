"""The fake OpenAI's Files and Batches endpoints through the real SDK on loopback: upload, create, poll,
output and error files, per-line failures, cancel, expiry, failed validation and signed webhooks.

Each batch takes 0.3 to 1 s (`batch_seconds`; the cancelled one stops early); the file runs in about 5 s."""

from __future__ import annotations

import base64
import io
import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import openai
import pytest
from openai.types.webhooks import (
    BatchCancelledWebhookEvent,
    BatchCompletedWebhookEvent,
    BatchExpiredWebhookEvent,
    BatchFailedWebhookEvent,
)
from PIL import Image
from standardwebhooks import Webhook

from imagegen.local import fake_openai
from imagegen.local.fake_openai import FakeOpenAI
from imagegen.providers.prices import cost_from_usage
from imagegen.providers.registry import BATCH_ENDPOINT
from tests.webhook_receiver import Received, Receiver

KEY = "sk-test-fake-openai"
TODAY = date(2026, 11, 21)
SECRET = "whsec_" + base64.b64encode(b"fake-openai-batch-webhook-secret").decode()
BATCH_EVENTS = (
    BatchCompletedWebhookEvent,
    BatchFailedWebhookEvent,
    BatchExpiredWebhookEvent,
    BatchCancelledWebhookEvent,
)
DONE = ("completed", "failed", "expired", "cancelled")


@pytest.fixture
def fakes() -> Iterator[list[FakeOpenAI]]:
    started: list[FakeOpenAI] = []
    yield started
    for fake in started:
        fake.stop()


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    # One receiver for the module: stopping one takes half a second (serve_forever's poll interval).
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@dataclass(frozen=True)
class Hook:
    """The module's receiver at a path of this test's own."""

    receiver: Receiver
    path: str

    @property
    def url(self) -> str:
        return self.receiver.url + self.path

    def wait_for(self, count: int) -> list[Received]:
        return self.receiver.wait_for(self.path, count, seconds=5)


@pytest.fixture
def hook(hooks: Receiver, request: pytest.FixtureRequest) -> Hook:
    return Hook(hooks, f"/hooks/{request.node.name}")


def _start(fakes: list[FakeOpenAI], **settings: Any) -> tuple[FakeOpenAI, openai.OpenAI]:
    fake = FakeOpenAI(**{"today": TODAY, "batch_seconds": 0.3, **settings}).start()
    fakes.append(fake)
    return fake, openai.OpenAI(api_key=KEY, base_url=fake.base_url, timeout=5, max_retries=0)


def _line(custom_id: str, **body: Any) -> dict[str, Any]:
    request = {"model": "gpt-image-2", "prompt": f"an icon of {custom_id}", "size": "1024x1024"}
    return {"custom_id": custom_id, "method": "POST", "url": BATCH_ENDPOINT, "body": {**request, **body}}


def _upload(client: openai.OpenAI, lines: list[dict[str, Any]] | bytes) -> str:
    content = (
        lines if isinstance(lines, bytes) else "".join(json.dumps(line) + "\n" for line in lines).encode()
    )
    return client.files.create(file=("input.jsonl", io.BytesIO(content)), purpose="batch").id


def _submit(client: openai.OpenAI, lines: list[dict[str, Any]] | bytes) -> openai.types.Batch:
    return client.batches.create(
        input_file_id=_upload(client, lines),
        endpoint=BATCH_ENDPOINT,
        completion_window="24h",
        metadata={"job_id": "job-1"},
    )


def _poll(client: openai.OpenAI, batch_id: str, seconds: float = 5) -> tuple[openai.types.Batch, list[str]]:
    """The batch once it has ended, and the statuses seen on the way, each once."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        if not seen or seen[-1] != batch.status:
            seen.append(batch.status)
        if batch.status in DONE:
            return batch, seen
        time.sleep(0.02)
    raise AssertionError(f"batch {batch_id} still {seen[-1]} after {seconds}s")


def _batch_event(client: openai.OpenAI, delivery: Received) -> tuple[str, str]:
    """The (type, batch id) of a delivery the SDK verifies and parses as one of its batch events."""
    event = client.webhooks.unwrap(delivery.body, delivery.headers, secret=SECRET)
    assert isinstance(event, BATCH_EVENTS), type(event)
    assert event.object == "event" and event.id.startswith("evt_")
    return event.type, event.data.id


def _jsonl(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def test_a_batch_runs_through_its_statuses_and_its_output_lines_hold_the_images(
    fakes: list[FakeOpenAI],
) -> None:
    # Given three requests uploaded as a batch input file
    fake, client = _start(fakes, batch_seconds=0.6)
    lines = [_line("cat", quality="low"), _line("dog", quality="medium"), _line("owl", size="1536x1024")]
    file_id = _upload(client, lines)
    uploaded = client.files.retrieve(file_id)
    assert (uploaded.purpose, uploaded.filename) == ("batch", "input.jsonl")
    assert uploaded.bytes == len(client.files.content(file_id).content)
    # When a batch is created from it and polled to its end
    created = client.batches.create(
        input_file_id=file_id, endpoint=BATCH_ENDPOINT, completion_window="24h", metadata={"job_id": "j-7"}
    )
    batch, seen = _poll(client, created.id)
    # Then it went validating -> in_progress -> finalizing -> completed (polls may miss a short phase;
    # its timestamp may not), each phase once and in that order
    phases = ["validating", "in_progress", "finalizing", "completed"]
    assert created.status == "validating" and "in_progress" in seen
    assert seen == [phase for phase in phases if phase in seen]
    assert batch.in_progress_at and batch.finalizing_at and batch.completed_at
    assert created.created_at <= batch.in_progress_at <= batch.finalizing_at <= batch.completed_at
    assert batch.expires_at == batch.created_at + 24 * 3600
    assert batch.metadata == {"job_id": "j-7"}
    assert batch.request_counts is not None
    assert batch.request_counts.model_dump() == {"total": 3, "completed": 3, "failed": 0}
    assert batch.error_file_id is None
    # And each output line answers its custom_id with a real PNG of the asked size and its usage
    output = {line["custom_id"]: line for line in _jsonl(client, batch.output_file_id)}
    assert sorted(output) == ["cat", "dog", "owl"]
    for custom_id, size in (("cat", (1024, 1024)), ("owl", (1536, 1024))):
        response = output[custom_id]["response"]
        assert response["status_code"] == 200 and response["request_id"].startswith("req_")
        png = base64.b64decode(response["body"]["data"][0]["b64_json"])
        assert Image.open(io.BytesIO(png)).format == "PNG"
        assert Image.open(io.BytesIO(png)).size == size
    assert output["dog"]["response"]["body"]["usage"]["output_tokens"] == 1756  # 1024² at medium
    # And the lines were billed at half the synchronous price, and the batch lists first
    billed = fake.billed
    assert [call.batch_id for call in billed] == [batch.id] * 3
    for call in billed:
        full_price = cost_from_usage(call.model, call.usage)
        assert full_price is not None and call.usd == pytest.approx(full_price / 2)
    assert [listed.id for listed in client.batches.list(limit=5)] == [batch.id]


def test_scripted_and_invalid_lines_land_in_the_error_file_with_the_sync_apis_error_bodies(
    fakes: list[FakeOpenAI],
) -> None:
    # Given a fake scripted to fail the line "b" (moderation) and the fourth line (a server error)
    _, client = _start(fakes, batch_failures=[["b", "moderation"], [3, "server_error"]])
    lines = [_line("a"), _line("b"), _line("c", size="1000x7"), _line("d"), _line("e")]
    # When the batch runs to its end
    batch, _ = _poll(client, _submit(client, lines).id)
    # Then it completed with two successes and three failures, each with the error the sync API gives
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert batch.request_counts.model_dump() == {"total": 5, "completed": 2, "failed": 3}
    assert sorted(line["custom_id"] for line in _jsonl(client, batch.output_file_id)) == ["a", "e"]
    errors = {line["custom_id"]: line for line in _jsonl(client, batch.error_file_id)}
    statuses = {custom_id: line["response"]["status_code"] for custom_id, line in errors.items()}
    assert statuses == {"b": 400, "c": 400, "d": 500}
    assert errors["b"]["response"]["body"]["error"]["code"] == "moderation_blocked"
    assert errors["c"]["response"]["body"]["error"]["param"] == "size"
    assert errors["d"]["response"]["body"]["error"]["type"] == "server_error"
    assert all(line["error"] is None for line in errors.values())


def test_cancel_mid_way_keeps_the_drawn_lines_and_reports_the_rest_as_cancelled(
    fakes: list[FakeOpenAI], hook: Hook
) -> None:
    # Given a ten-line batch with a webhook set
    # (2 s, but it stops at the cancel: the margin is for a slow machine)
    _, client = _start(fakes, batch_seconds=2.0, webhook_url=hook.url, webhook_secret=SECRET)
    created = _submit(client, [_line(f"icon-{n}") for n in range(10)])
    # When it is cancelled once its first line is drawn
    deadline = time.monotonic() + 5
    while (counts := client.batches.retrieve(created.id).request_counts) is None or counts.completed < 1:
        assert time.monotonic() < deadline, "no line was drawn"
        time.sleep(0.01)
    cancelling = client.batches.cancel(created.id)
    batch, _ = _poll(client, created.id)
    # Then it went cancelling -> cancelled, and every line is in exactly one of the two files
    assert cancelling.status == "cancelling" and cancelling.cancelling_at
    assert batch.status == "cancelled" and batch.cancelled_at
    drawn = [line["custom_id"] for line in _jsonl(client, batch.output_file_id)]
    unfinished = _jsonl(client, batch.error_file_id)
    assert 1 <= len(drawn) < 10
    assert sorted(drawn + [line["custom_id"] for line in unfinished]) == sorted(
        f"icon-{n}" for n in range(10)
    )
    assert {line["error"]["code"] for line in unfinished} == {"batch_cancelled"}
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (len(drawn), len(unfinished))
    # And the webhook told of it, and an ended batch cannot be cancelled again
    assert _batch_event(client, hook.wait_for(1)[0]) == ("batch.cancelled", batch.id)
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(batch.id)


def test_a_batch_past_its_window_expires_with_its_unfinished_lines_as_batch_expired(
    fakes: list[FakeOpenAI], hook: Hook
) -> None:
    # Given a completion window that ends about half-way through an eight-line batch
    fake, client = _start(
        fakes,
        batch_seconds=1.0,
        batch_window_seconds=0.5,
        webhook_url=hook.url,
        webhook_secret=SECRET,
    )
    # When the batch runs
    batch, _ = _poll(client, _submit(client, [_line(f"icon-{n}") for n in range(8)]).id)
    # Then it expired; the lines drawn in time are in the output, the others expired in the error file
    assert batch.status == "expired" and batch.expired_at
    drawn = [line["custom_id"] for line in _jsonl(client, batch.output_file_id)]
    expired = _jsonl(client, batch.error_file_id)
    assert 1 <= len(drawn) < 8
    assert sorted(drawn + [line["custom_id"] for line in expired]) == sorted(f"icon-{n}" for n in range(8))
    assert all(line["response"] is None for line in expired)
    assert {line["error"]["code"] for line in expired} == {"batch_expired"}
    assert len(fake.billed) == len(drawn)  # an expired line is never billed
    assert _batch_event(client, hook.wait_for(1)[0]) == ("batch.expired", batch.id)


def test_a_bad_input_file_fails_the_batch_with_the_lines_at_fault(
    fakes: list[FakeOpenAI], hook: Hook
) -> None:
    # Given an input file with a duplicate custom_id, a line that is not JSON and one for another URL
    _, client = _start(fakes, webhook_url=hook.url, webhook_secret=SECRET)
    content = b"\n".join(
        [
            json.dumps(_line("a")).encode(),
            json.dumps(_line("a")).encode(),
            b"{not json",
            json.dumps({**_line("c"), "url": "/v1/chat/completions"}).encode(),
        ]
    )
    # When a batch is created from it
    batch, _ = _poll(client, _submit(client, content).id)
    # Then the batch failed, naming each bad line, and drew nothing
    assert batch.status == "failed" and batch.failed_at
    assert batch.errors is not None and batch.errors.data is not None
    assert [(error.line, error.code) for error in batch.errors.data] == [
        (2, "duplicate_custom_id"),
        (3, "invalid_json_line"),
        (4, "url_mismatch"),
    ]
    assert batch.output_file_id is None and batch.error_file_id is None
    assert _batch_event(client, hook.wait_for(1)[0]) == ("batch.failed", batch.id)


def test_the_completed_webhook_is_signed_and_can_be_delivered_twice_alike(
    fakes: list[FakeOpenAI], hook: Hook
) -> None:
    # Given a fake set to deliver every batch event twice
    fake, client = _start(fakes, webhook_url=hook.url, webhook_secret=SECRET, webhook_deliveries=2)
    # When a batch completes
    batch, _ = _poll(client, _submit(client, [_line("a"), _line("b")]).id)
    delivered = hook.wait_for(2)
    # Then both deliveries verify with the SDK and with standardwebhooks, as batch.completed for it
    for delivery in delivered:
        assert _batch_event(client, delivery) == ("batch.completed", batch.id)
        Webhook(SECRET).verify(delivery.body, delivery.headers)
    # And they carry the same webhook-id and event, so a receiver can drop the second
    headers = [{name.lower(): value for name, value in d.headers.items()} for d in delivered]
    assert headers[0]["webhook-id"] == headers[1]["webhook-id"]
    assert delivered[0].body == delivered[1].body
    assert [d.status for d in fake.sent_webhooks] == [204, 204]
    # And a body changed in transit, or another secret, is refused
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.unwrap(
            delivered[0].body.replace(b"batch_", b"batch-"), delivered[0].headers, secret=SECRET
        )
    other = "whsec_" + base64.b64encode(b"another-secret-of-thirty-two-by").decode()
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.unwrap(delivered[0].body, delivered[0].headers, secret=other)


def test_bad_requests_are_refused_as_the_real_api_refuses_them(fakes: list[FakeOpenAI]) -> None:
    _, client = _start(fakes)
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-missing", endpoint=BATCH_ENDPOINT, completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_missing")
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-missing")
    not_for_batches = client.files.create(file=("notes.txt", io.BytesIO(b"hello")), purpose="user_data").id
    with pytest.raises(openai.BadRequestError, match="purpose 'batch'"):
        client.batches.create(input_file_id=not_for_batches, endpoint=BATCH_ENDPOINT, completion_window="24h")
    batch_file = _upload(client, [_line("a")])
    with pytest.raises(openai.BadRequestError, match="/v1/embeddings"):
        client.batches.create(input_file_id=batch_file, endpoint="/v1/embeddings", completion_window="24h")
    with pytest.raises(openai.BadRequestError, match="metadata"):
        client.batches.create(
            input_file_id=batch_file,
            endpoint=BATCH_ENDPOINT,
            completion_window="24h",
            metadata={f"k{n}": "v" for n in range(17)},
        )
    with pytest.raises(openai.BadRequestError, match="limit"):
        client.batches.list(limit=0)
    stranger = openai.OpenAI(api_key="invalid-key", base_url=client.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.batches.list()


def test_batch_settings_are_checked(fakes: list[FakeOpenAI]) -> None:
    fake, _ = _start(fakes)
    with pytest.raises(ValueError, match="batch_failures"):
        fake.configure(batch_failures={"a": "melted"})
    with pytest.raises(ValueError, match="webhook_url"):
        fake.configure(webhook_url="https://example.com/hooks")  # the fake calls loopback only
    with pytest.raises(ValueError, match="webhook_secret"):
        fake.configure(webhook_secret="not-a-secret!")
    fake.configure(batch_failures=["x", 2])  # a plain list fails each line by moderation
    assert fake.batch_failures == {"x": "moderation", 2: "moderation"}
    # And the control endpoint takes line indexes as JSON pairs
    config = urllib.request.Request(
        fake.base_url.removesuffix("/v1") + "/_fake/config",
        data=json.dumps({"batch_failures": [[3, "server_error"], ["b", "moderation"]]}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(config, timeout=5) as answer:
        assert answer.status == 200
    assert fake.batch_failures == {3: "server_error", "b": "moderation"}


def test_the_input_file_limits_are_enforced(fakes: list[FakeOpenAI], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given limits shrunk to a few bytes and two requests (the real ones: 200 MB and 50,000 requests)
    monkeypatch.setattr(fake_openai, "BATCH_MAX_FILE_BYTES", 600)
    monkeypatch.setattr(fake_openai, "BATCH_MAX_REQUESTS", 2)
    _, client = _start(fakes, batch_seconds=0.1)
    # Then a file over the size is refused at upload, and a batch over the count fails validation
    with pytest.raises(openai.BadRequestError, match="at most 600 bytes"):
        _upload(client, [_line(f"icon-{n}") for n in range(6)])
    batch, _ = _poll(client, _submit(client, [_line(f"icon-{n}") for n in range(3)]).id)
    assert batch.status == "failed"
    assert batch.errors is not None and batch.errors.data is not None
    assert [error.code for error in batch.errors.data] == ["too_many_tasks"]
