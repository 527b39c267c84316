"""One webhook attempt per queue message: signed at send time with the owner's secrets, the URL checked
again before any connection, retried on the schedule (a new delayed message with the same webhook-id),
never redirected, and given up or dead-lettered as logic.webhook_delivery decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from imagegen.api.job_views import create_job, job_status
from imagegen.errors import InvalidRequestError
from imagegen.logic.webhook_delivery import RETRY_SCHEDULE, AttemptOutcome
from imagegen.logic.webhook_sending import deliver, read_secret, rotate_owner_secret
from imagegen.logic.webhooks_out import event_id
from imagegen.models.domain import Caller
from imagegen.models.requests import BatchRequest
from imagegen.models.responses import CountsOut
from imagegen.models.webhooks import WebhookDelivery, WebhookEvent
from tests.unit.fakes import make_services
from tests.unit.webhook_fakes import T0, FakeReceiver, FakeWebhookServices, make_webhook_services

ALICE = Caller(sub="alice")
URL = "https://hooks.example.com/imagegen?tenant=7"


def finished(url: str = URL) -> WebhookDelivery:
    counts = CountsOut(total=1, completed=1, failed=0, cancelled=0, pending=0)
    event = WebhookEvent.model_validate(
        {
            "type": "job.completed",
            "timestamp": T0,
            "data": {"batch_id": "b-1", "state": "completed", "counts": counts, "percent": 100},
        }
    )
    return WebhookDelivery(owner="alice", url=url, event=event)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record's message and structured keys (Powertools puts them on the record)."""
    return " ".join(str(vars(record)) for record in caplog.records)


def run_until_settled(first: WebhookDelivery, services: FakeWebhookServices) -> list[AttemptOutcome | None]:
    """Deliver, then every message the attempts queued, moving the clock on by each message's delay."""
    outcomes, pending = [], [first]
    while pending:
        outcomes.append(deliver(pending.pop(0), services))
        if services.outbox.sent:
            (messages, delay), *_ = services.outbox.sent
            services.outbox.sent.clear()
            services.clock.advance(delay)
            pending.extend(messages)
    return outcomes


def test_a_delivery_verifies_with_the_owners_secret_and_the_events_id() -> None:
    services = make_webhook_services()
    services.clock.now = datetime.now(UTC)  # the verifier checks the timestamp against its own clock
    assert deliver(finished(), services) is AttemptOutcome.DELIVERED
    (call,) = services.post.calls
    secret = read_secret(ALICE, services).secret
    body = Webhook(secret).verify(call["body"], call["headers"])
    assert body["type"] == "job.completed" and body["data"]["batch_id"] == "b-1"
    assert call["headers"]["webhook-id"] == event_id(finished().event)
    assert call["address"] == "93.184.215.14"  # the address the check allowed, not a new lookup
    assert services.outbox.sent == [] and services.outbox.dead == []


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt_with_the_same_id() -> None:
    services = make_webhook_services(FakeReceiver([503, None, 200]))
    # The last attempt is made about now: the verifier checks the timestamp against its own clock.
    services.clock.now = datetime.now(UTC) - timedelta(seconds=sum(RETRY_SCHEDULE[:3]))
    assert run_until_settled(finished(), services) == [
        AttemptOutcome.RETRY,
        AttemptOutcome.RETRY,
        AttemptOutcome.DELIVERED,
    ]
    ids = {call["headers"]["webhook-id"] for call in services.post.calls}
    assert len(services.post.calls) == 3 and len(ids) == 1
    stamps = [int(call["headers"]["webhook-timestamp"]) for call in services.post.calls]
    assert stamps[1] - stamps[0] == RETRY_SCHEDULE[1] and stamps[2] - stamps[1] == RETRY_SCHEDULE[2]
    last = services.post.calls[-1]
    Webhook(read_secret(ALICE, services).secret).verify(last["body"], last["headers"])


def test_the_retry_scale_shortens_every_wait() -> None:
    services = make_webhook_services(FakeReceiver([500, 200]), webhook_retry_scale=0.01)
    deliver(finished(), services)
    ((retry,), delay) = services.outbox.sent[0]
    assert delay == pytest.approx(RETRY_SCHEDULE[1] * 0.01)
    assert retry.attempt == 2 and retry.due_at == T0 + timedelta(seconds=delay)


def test_a_wait_longer_than_sqs_allows_is_chained_without_an_attempt() -> None:
    services = make_webhook_services()
    early = finished().model_copy(update={"attempt": 4, "due_at": T0 + timedelta(hours=2)})
    assert deliver(early, services) is None
    assert services.post.calls == []
    ((again,), delay) = services.outbox.sent[0]
    assert again == early and delay == 7200


def test_after_the_whole_schedule_the_event_goes_to_the_dead_letter_queue() -> None:
    services = make_webhook_services(FakeReceiver([500]))
    outcomes = run_until_settled(finished(), services)
    assert len(services.post.calls) == len(RETRY_SCHEDULE)
    assert outcomes[-1] is AttemptOutcome.EXHAUSTED
    assert [dead.attempt for dead in services.outbox.dead] == [len(RETRY_SCHEDULE)]


def test_a_redirect_is_an_answer_never_followed_nor_retried() -> None:
    services = make_webhook_services(FakeReceiver([302]))
    assert deliver(finished(), services) is AttemptOutcome.GIVE_UP
    assert len(services.post.calls) == 1 and services.outbox.sent == []


def test_410_gone_stops_every_later_event_to_that_endpoint() -> None:
    services = make_webhook_services(FakeReceiver([410, 200]))
    assert deliver(finished(), services) is AttemptOutcome.DISABLE_ENDPOINT
    assert deliver(finished(), services) is None
    assert len(services.post.calls) == 1
    assert deliver(finished("https://hooks.example.com/other"), services) is AttemptOutcome.DELIVERED


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://10.0.0.1/hook", "private"),
        ("https://rebound.example.com/hook", "loopback"),  # public when the job was made, not now
        ("http://hooks.example.com/hook", "https"),
    ],
)
def test_an_address_refused_at_send_time_gets_no_connection_and_no_retry(
    url: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    services = make_webhook_services()
    services.resolve_host = lambda host: ["127.0.0.1"] if host == "rebound.example.com" else ["93.184.215.14"]
    assert deliver(finished(url), services) is AttemptOutcome.GIVE_UP
    assert services.post.calls == [] and services.outbox.sent == [] and services.outbox.dead == []
    assert reason in logged(caplog)


def test_a_name_that_does_not_resolve_is_retried_like_a_silent_receiver() -> None:
    services = make_webhook_services()

    def no_dns(host: str) -> list[str]:
        raise OSError("Name or service not known")

    services.resolve_host = no_dns
    assert deliver(finished(), services) is AttemptOutcome.RETRY
    assert services.post.calls == [] and services.outbox.sent[0][0][0].attempt == 2


def test_no_secret_and_no_query_string_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    services = make_webhook_services(FakeReceiver([500]))
    deliver(finished(), services)
    secret = read_secret(ALICE, services).secret
    text = logged(caplog)
    assert "webhook attempt" in text and "hooks.example.com" in text
    assert secret.removeprefix("whsec_") not in text and "tenant=7" not in text


def test_the_secret_is_made_once_and_a_rotation_keeps_the_previous_one_signing() -> None:
    services = make_webhook_services()
    services.clock.now = datetime.now(UTC)
    first = read_secret(ALICE, services)
    assert read_secret(ALICE, services) == first
    rotated = rotate_owner_secret(ALICE, services)
    assert rotated.secret != first.secret and rotated.previous_valid_until is not None
    assert rotated.previous_valid_until - services.clock.now == timedelta(hours=24)
    deliver(finished(), services)
    call = services.post.calls[0]
    for secret in (first.secret, rotated.secret):  # receivers on either secret accept it
        Webhook(secret).verify(call["body"], call["headers"])


# -- at creation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "https://10.0.0.1/hook", "https://localhost/hook"]
)
def test_a_job_with_an_unsafe_webhook_url_is_refused_before_anything_is_created(url: str) -> None:
    services = make_services()
    services.resolve_host = lambda host: ["127.0.0.1"] if host == "localhost" else []
    with pytest.raises(InvalidRequestError, match="webhook_url"):
        create_job(BatchRequest(categories=["tools"], webhook_url=url), ALICE, services)
    assert services.jobs.jobs == {} and services.queue.sent == []
    assert services.limits.used_daily("alice", T0.date().isoformat()) == 0


def test_a_loopback_receiver_is_allowed_on_the_local_stack_only() -> None:
    services = make_services(webhook_allow_loopback=True)
    request = BatchRequest(
        categories=["tools"], webhook_url="http://127.0.0.1:8123/hook", webhook_events=["job.completed"]
    )
    status = job_status(create_job(request, ALICE, services).batch_id, ALICE, services)
    assert status.webhook is not None
    assert status.webhook.url == "http://127.0.0.1:8123/hook" and status.webhook.events == ["job.completed"]
    with pytest.raises(InvalidRequestError, match="https"):
        create_job(request, ALICE, make_services())


def test_a_job_without_a_webhook_shows_none() -> None:
    services = make_services()
    status = job_status(
        create_job(BatchRequest(categories=["tools"]), ALICE, services).batch_id, ALICE, services
    )
    assert status.webhook is None
