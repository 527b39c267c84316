"""The shared rate schedule and the worker's use of it: waits, 429s, quota pauses, cancels."""

from __future__ import annotations

import functools
import heapq
import io
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from imagegen.config import Settings
from imagegen.errors import ProviderQuotaExhaustedError, ProviderRateLimitedError
from imagegen.logic.jobs import cancel_job, create_job, job_result
from imagegen.logic.rate_limits import Limits, decide, penalized
from imagegen.logic.run_item import run_item
from imagegen.models.domain import Caller, ImageSpec, ItemMessage, LimiterState
from imagegen.models.requests import BatchRequest
from imagegen.providers.base import GeneratedImage
from tests.unit.fakes import make_services

ALICE = Caller(sub="alice")
LIMITS = Limits(rpm=60, tpm=10_000_000, burst=1, target=1.0, recovery_seconds=30)


def test_slots_are_spaced_by_the_limit_and_the_burst_starts_at_once() -> None:
    state, now, starts = LimiterState(), 1000.0, []
    for _ in range(5):
        decision, state = decide(state, LIMITS, 100, now, max_wait=10)  # type: ignore[assignment]
        assert decision.kind == "go"
        starts.append(now + decision.seconds)
    assert starts == [1000.0, 1001.0, 1002.0, 1003.0, 1004.0]
    bursty = Limits(rpm=60, tpm=10_000_000, burst=3, target=1.0, recovery_seconds=30)
    state, waits = LimiterState(), []
    for _ in range(4):
        decision, state = decide(state, bursty, 100, now, max_wait=10)  # type: ignore[assignment]
        waits.append(decision.seconds)
    assert waits == [0.0, 0.0, 0.0, 1.0]


def test_tokens_per_minute_lengthen_a_slot_when_they_bind() -> None:
    limits = Limits(rpm=60, tpm=6000, burst=1, target=1.0, recovery_seconds=30)
    assert limits.slot_seconds(50, 1.0) == 1.0  # requests bind: 60/60
    assert limits.slot_seconds(500, 1.0) == 5.0  # tokens bind: 500 tokens at 100 per second


def test_a_slot_too_far_away_is_not_taken() -> None:
    state = LimiterState(tat=1100.0)
    decision, taken = decide(state, LIMITS, 100, 1000.0, max_wait=2)
    assert (decision.kind, round(decision.seconds), taken) == ("wait", 100, None)


def test_a_429_sets_a_cool_down_and_halves_the_rate_which_recovers_step_by_step() -> None:
    state = penalized(LimiterState(tat=1000.0), LIMITS, 1000.0, retry_after=7)
    assert state.cooldown_until == 1007.0 and state.factor == 0.5
    decision, _ = decide(state, LIMITS, 100, 1001.0, max_wait=100)
    assert decision.seconds == 6.0  # nothing starts before Retry-After
    assert LIMITS.factor_now(state, 1029.0)[0] == 0.5
    assert LIMITS.factor_now(state, 1030.0)[0] == 0.625
    assert LIMITS.factor_now(state, 1000.0 + 30 * 4)[0] == 1.0
    storm = state
    for _ in range(5):
        storm = penalized(storm, LIMITS, 1000.0, retry_after=None)
    assert storm.factor == 0.25  # never below a quarter


@functools.cache
def _png(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(out, "PNG")
    return out.getvalue()


class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class LimitedProvider:
    """A provider behind the shared limiter: records when it was called, raises what it is told."""

    name = "openai"
    rate_limited = True

    def __init__(self, clock: ManualClock, *script: Exception | None) -> None:
        self.clock, self.script = clock, list(script)
        self.calls: list[float] = []

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        self.calls.append(self.clock.now.timestamp())
        step = self.script.pop(0) if self.script else None
        if step is not None:
            raise step
        return GeneratedImage(_png(spec.width, spec.height), "image/png", "openai", spec.model)


def _services(provider: Any, clock: ManualClock, **settings: Any) -> Any:
    services = make_services(
        provider,
        openai_rate_limit_rpm=60,
        openai_rate_limit_tpm=10_000_000,
        rate_limit_target=1.0,
        rate_limit_max_wait_seconds=2,
        **settings,
    )
    services.clock, services.sleep = clock, clock.sleep
    return services


def _batch(services: Any, n: int) -> str:
    request = BatchRequest(
        categories=[f"tools {i}" for i in range(n)], size="1024x1024", model="gpt-image-1-mini"
    )
    return create_job(request, ALICE, services).batch_id


def _deliver_until_empty(services: Any, clock: ManualClock, max_steps: int = 2000) -> int:
    """Deliver every message when it is due, as SQS would, following requeues; the deliveries made."""
    order = itertools.count()
    due: list[tuple[float, int, ItemMessage]] = [
        (clock.now.timestamp(), next(order), message) for message in services.queue.sent
    ]
    heapq.heapify(due)
    seen, steps = 0, 0
    while due and steps < max_steps:
        at, _, message = heapq.heappop(due)
        if at > clock.now.timestamp():
            clock.now = datetime.fromtimestamp(at, UTC)
        run_item(message, 1, "r", services)
        for requeued, delay in services.queue.requeued[seen:]:
            heapq.heappush(due, (clock.now.timestamp() + delay, next(order), requeued))
        seen = len(services.queue.requeued)
        steps += 1
    assert not due, "deliveries did not settle"
    return steps


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_items_past_the_limit_wait_in_the_queue_not_in_the_worker(clock: ManualClock) -> None:
    provider = LimitedProvider(clock)
    services = _services(provider, clock)
    sleeps: list[float] = []
    services.sleep = sleeps.append  # eight workers at the same instant: the clock does not move
    _batch(services, 8)
    for message in services.queue.sent:
        run_item(message, 1, "r", services)
    # One slot a second: the first three start within the 2 s in-process wait, the rest went back.
    assert len(provider.calls) == 3 and sleeps == [1.0, 2.0]
    assert len(services.queue.requeued) == 5 and all(delay >= 1 for _, delay in services.queue.requeued)
    result = job_result(services.queue.sent[0].job_id, ALICE, services)
    assert [item.state for item in result.items].count("queued") == 5


def test_every_item_finishes_at_the_limit_without_a_call_closer_than_a_slot(clock: ManualClock) -> None:
    provider = LimitedProvider(clock)
    services = _services(provider, clock)
    job_id = _batch(services, 12)
    _deliver_until_empty(services, clock)
    assert job_result(job_id, ALICE, services).state == "completed"
    gaps = [later - earlier for earlier, later in itertools.pairwise(provider.calls)]
    assert len(provider.calls) == 12 and min(gaps) >= 0.999


def test_a_429_storm_cools_down_lowers_the_rate_recovers_and_every_item_finishes(clock: ManualClock) -> None:
    storm = [ProviderRateLimitedError("rate limited (429)", retry_after=5) for _ in range(4)]
    provider = LimitedProvider(clock, None, None, *storm)
    services = _services(provider, clock, rate_limit_recovery_seconds=5)
    job_id = _batch(services, 30)
    _deliver_until_empty(services, clock)
    result = job_result(job_id, ALICE, services)
    assert result.state == "completed" and result.counts.completed == 30
    assert len(provider.calls) == 34  # 30 images + the 4 calls refused with 429
    # Each 429 holds every worker back for its Retry-After.
    first_429 = provider.calls[2]
    assert provider.calls[3] - first_429 >= 5
    # The lowered rate spaces calls wider, then the spacing climbs back to one a second.
    gaps = [later - earlier for earlier, later in itertools.pairwise(provider.calls[6:])]
    assert max(gaps[:3]) > 1.5 and min(gaps[-3:]) == pytest.approx(1.0, abs=0.01)
    stats = services.limits.usage("alice")
    assert stats["rate_limited"] == 4


def test_insufficient_quota_pauses_everyone_and_fails_items_with_the_reason(clock: ManualClock) -> None:
    provider = LimitedProvider(
        clock, ProviderQuotaExhaustedError("the OpenAI account has insufficient quota")
    )
    services = _services(provider, clock)
    job_id = _batch(services, 3)
    _deliver_until_empty(services, clock)
    result = job_result(job_id, ALICE, services)
    assert result.state == "failed" and len(provider.calls) == 1
    assert result.items[0].error == "the OpenAI account has insufficient quota"
    for item in result.items[1:]:
        assert item.error and "paused" in item.error and "insufficient quota" in item.error
    # Quota given back for items never drawn.
    assert services.limits.used_daily("alice", clock.now.strftime("%Y-%m-%d")) == 0


def test_cancel_stops_items_waiting_for_the_limit_without_a_call(clock: ManualClock) -> None:
    provider = LimitedProvider(clock)
    services = _services(provider, clock)
    services.sleep = lambda _: None  # ten workers at the same instant
    job_id = _batch(services, 10)
    for message in services.queue.sent:
        run_item(message, 1, "r", services)
    services.sleep = clock.sleep
    waiting = len(services.queue.requeued)
    assert waiting == 7 and len(provider.calls) == 3
    status = cancel_job(job_id, ALICE, services)
    assert status.counts.cancelled == 7 and status.state == "cancelled"
    _deliver_until_empty(services, clock)  # the waiting messages come back and are dropped
    assert len(provider.calls) == 3
    assert services.limits.used_daily("alice", clock.now.strftime("%Y-%m-%d")) == 3


def test_the_offline_renderer_takes_no_slot() -> None:
    services = make_services()
    settings: Settings = services.settings
    assert settings.openai_rate_limit_rpm == 5
    create_job(BatchRequest(categories=["a", "b", "c"], size="1024x1024"), ALICE, services)
    for message in services.queue.sent:  # type: ignore[attr-defined]
        run_item(message, 1, "r", services)
    assert services.queue.requeued == [] and services.limits.limiters == {}  # type: ignore[attr-defined]
