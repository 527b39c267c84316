"""The shared rate schedule and the worker's use of it: waits, 429s, quota pauses, cancels."""

from __future__ import annotations

import functools
import heapq
import io
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from imagegen.api.job_views import cancel_job, create_job, job_result
from imagegen.config import Settings
from imagegen.errors import ProviderQuotaExhaustedError, ProviderRateLimitedError
from imagegen.logic.rate_limits import Limits, decide, freed, penalized
from imagegen.logic.run_item import run_item
from imagegen.models.domain import Caller, ImageSpec, ItemMessage, LimiterState, Reservation
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


def test_a_slot_far_away_is_reserved_all_the_same_and_the_timeline_moves_on() -> None:
    state = LimiterState(tat=1100.0, generation=3)
    decision, taken = decide(state, LIMITS, 100, 1000.0, max_wait=2, name="openai#m")
    assert (decision.kind, round(decision.seconds)) == ("wait", 100)
    assert decision.reservation is not None and decision.reservation.slot_at == 1100.0
    assert decision.reservation.generation == 3 and taken is not None and taken.tat == 1101.0


def test_freed_slots_shorten_the_tail_or_become_holes_that_the_next_reservation_fills() -> None:
    state = LimiterState(tat=1010.0)
    held = [Reservation(limiter="l", slot_at=1000.0 + n, seconds=1.0, generation=0) for n in range(10)]
    tail = freed(state, held[7:], now=1000.5)
    assert tail.tat == 1007.0 and tail.holes == ()
    middle = freed(state, held[3:5], now=1000.5)
    assert middle.tat == 1010.0 and middle.holes == ((1003.0, 1005.0),)
    decision, after = decide(middle, LIMITS, 100, 1001.0, max_wait=5)
    assert decision.reservation is not None and decision.reservation.slot_at == 1003.0
    assert after is not None and after.holes == ((1004.0, 1005.0),) and after.tat == 1010.0
    stale = [Reservation(limiter="l", slot_at=1003.0, seconds=1.0, generation=1)]
    assert freed(state, stale, now=1000.5).holes == ()  # moved by a 429 since: not this timeline's


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
        self.start = self.now.timestamp()

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class LimitedProvider:
    """A provider behind the shared limiter: records when it was called, raises what it is told."""

    name = "openai"
    rate_limited = True
    parallel_calls = 10

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
        **{
            "openai_rate_limit_rpm": 60,
            "openai_rate_limit_tpm": 10_000_000,
            "rate_limit_target": 1.0,
            "rate_limit_max_wait_seconds": 2,
            **settings,
        },
    )
    services.clock, services.sleep = clock, clock.sleep
    return services


def _batch(services: Any, n: int) -> str:
    request = BatchRequest(
        categories=[f"tools {i}" for i in range(n)], size="1024x1024", model="gpt-image-2", use_cache=False
    )
    return create_job(request, ALICE, services).batch_id


def _deliver_until_empty(services: Any, clock: ManualClock, max_steps: int = 2000) -> int:
    """Deliver every message when it is due, as SQS would, following requeues; the deliveries made."""
    order = itertools.count()
    due: list[tuple[float, int, ItemMessage]] = [
        (clock.now.timestamp() + delay, next(order), message)
        for message, delay in zip(services.queue.sent, services.queue.sent_delays, strict=True)
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
    # One slot a second, the first a quarter second ahead (for the writes before the call): the
    # slots at 0.25 and 1.25 s start within the 2 s in-process wait, the rest went back. (The second
    # sleeps to half a second before its slot, checks that no 429 moved it, then sleeps the rest;
    # this clock does not move, so the rest is the whole wait again.)
    assert len(provider.calls) == 2 and sleeps == [0.25, 0.75, 1.25]
    assert len(services.queue.requeued) == 6 and all(delay >= 1 for _, delay in services.queue.requeued)
    result = job_result(services.queue.sent[0].job_id, ALICE, services)
    assert [item.state for item in result.items].count("queued") == 6


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


QUOTA = "the OpenAI account has insufficient quota"


def test_a_first_quota_pause_moves_every_reservation_past_it_and_nothing_is_lost(clock: ManualClock) -> None:
    provider = LimitedProvider(clock, None, ProviderQuotaExhaustedError(QUOTA))
    services = _services(provider, clock, quota_pause_seconds=900)
    job_id = _batch(services, 6)
    began = clock.now.timestamp()
    _deliver_until_empty(services, clock)
    result = job_result(job_id, ALICE, services)
    assert result.state == "completed" and result.counts.completed == 6
    # One call refused, then nobody called during the pause, then every item at the limit's pace.
    assert len(provider.calls) == 7 and provider.calls[2] >= began + 1 + 900
    gaps = [later - earlier for earlier, later in itertools.pairwise(provider.calls[2:])]
    assert min(gaps) >= 0.999


def test_a_second_quota_pause_in_a_row_fails_what_waits_with_the_reason(clock: ManualClock) -> None:
    provider = LimitedProvider(clock, ProviderQuotaExhaustedError(QUOTA), ProviderQuotaExhaustedError(QUOTA))
    services = _services(provider, clock, quota_pause_seconds=900)
    job_id = _batch(services, 3)
    _deliver_until_empty(services, clock)
    result = job_result(job_id, ALICE, services)
    assert result.state == "failed" and len(provider.calls) == 2  # the call, then one after the pause
    errors = [item.error or "" for item in result.items]
    assert errors.count(QUOTA) == 1
    assert all("paused" in error and "insufficient quota" in error for error in errors if error != QUOTA)
    # Quota given back for items never drawn.
    assert services.limits.used_daily("alice", clock.now.strftime("%Y-%m-%d")) == 0


def test_a_call_that_goes_through_makes_the_next_shortage_a_first_pause_again(clock: ManualClock) -> None:
    shortage = ProviderQuotaExhaustedError(QUOTA)
    provider = LimitedProvider(clock, shortage, None, shortage, None)
    services = _services(provider, clock, quota_pause_seconds=60)
    job_id = _batch(services, 4)
    _deliver_until_empty(services, clock)
    assert job_result(job_id, ALICE, services).counts.completed == 4  # both shortages waited out


def _delivered_per_image(services: Any, clock: ManualClock, images: int) -> float:
    return _deliver_until_empty(services, clock, max_steps=20 * images) / images


def test_waiting_costs_one_more_delivery_per_image_at_tier_1_limits(clock: ManualClock) -> None:
    # Given the shipped limiter settings and tier 1's 5 images a minute
    provider = LimitedProvider(clock)
    services = _services(
        provider, clock, openai_rate_limit_rpm=5, rate_limit_target=0.98, openai_rate_limit_tpm=100_000
    )
    job_id = _batch(services, 40)
    # When every message is delivered as SQS would, following the delays
    per_image = _delivered_per_image(services, clock, 40)
    # Then each image came back once, when its slot was due, and the limit was kept
    assert job_result(job_id, ALICE, services).counts.completed == 40
    assert per_image <= 2.0
    gaps = [later - earlier for earlier, later in itertools.pairwise(provider.calls)]
    assert min(gaps) >= 12.0  # 60 s / 5 images
    assert provider.calls[-1] - provider.calls[0] <= 39 * 12 / 0.98 + 0.01  # and no slot left idle


def test_a_wait_longer_than_fifteen_minutes_is_chained_not_dropped(clock: ManualClock) -> None:
    provider = LimitedProvider(clock)
    services = _services(provider, clock, openai_rate_limit_rpm=5, openai_rate_limit_tpm=100_000)
    job_id = _batch(services, 100)  # the last slot is 99 x 12 s = 19.8 minutes away
    _deliver_until_empty(services, clock, max_steps=1000)
    assert job_result(job_id, ALICE, services).counts.completed == 100
    delays = [delay for _, delay in services.queue.requeued]
    assert max(delays) == 900  # SQS's longest delay, then the same reservation again
    last = [m for m, _ in services.queue.requeued if m.index == 99]
    assert len(last) == 2 and last[0].reservation == last[1].reservation
    assert last[0].reservation is not None
    assert last[0].reservation.slot_at == pytest.approx(clock.start + 99 * 12)
    gaps = [later - earlier for earlier, later in itertools.pairwise(provider.calls)]
    assert min(gaps) >= 12.0 and len(provider.calls) == 100


def test_reservations_survive_a_429_with_one_more_delivery_each(clock: ManualClock) -> None:
    provider = LimitedProvider(clock, None, None, None, ProviderRateLimitedError("rate limited (429)", 3))
    services = _services(provider, clock, rate_limit_recovery_seconds=5)
    job_id = _batch(services, 20)
    per_image = _delivered_per_image(services, clock, 20)
    result = job_result(job_id, ALICE, services)
    assert result.state == "completed" and result.counts.completed == 20 and len(provider.calls) == 21
    refused_at = provider.calls[3]
    later = [at for at in provider.calls if at > refused_at]
    assert later[0] >= refused_at + 3  # nobody called during the Retry-After
    assert min(b - a for a, b in itertools.pairwise(later)) >= 0.999  # and nobody twice in a slot
    assert per_image <= 3.0


def test_a_cancel_gives_its_reserved_slots_to_the_next_work(clock: ManualClock) -> None:
    provider = LimitedProvider(clock)
    services = _services(provider, clock)
    services.sleep = lambda _: None  # every first delivery at the same instant
    first, second = _batch(services, 7), _batch(services, 4)  # slots at 0.25 to 6.25 s, then 7.25 to 10.25
    for message in list(services.queue.sent):
        run_item(message, 1, "r", services)
    services.sleep = clock.sleep
    cancel_job(first, ALICE, services)  # its waiting items held the slots at 2.25 to 6.25 s
    third = _batch(services, 6)
    for message in services.queue.sent[11:]:
        run_item(message, 1, "r", services)
    held = [m.reservation for m, _ in services.queue.requeued if m.job_id == third]
    start = clock.start
    # The five freed slots first, then the tail after the second job's.
    assert sorted(r.slot_at - start for r in held if r) == [2.25, 3.25, 4.25, 5.25, 6.25, 11.25]
    _deliver_until_empty(services, clock)
    assert job_result(second, ALICE, services).counts.completed == 4
    assert job_result(third, ALICE, services).counts.completed == 6
    later = sorted(provider.calls)[2:]  # the first two were made at one instant by this test's no-op sleep
    assert min(b - a for a, b in itertools.pairwise(later)) >= 0.999 and len(provider.calls) == 2 + 4 + 6


def test_cancel_stops_items_waiting_for_the_limit_without_a_call(clock: ManualClock) -> None:
    provider = LimitedProvider(clock)
    services = _services(provider, clock)
    services.sleep = lambda _: None  # ten workers at the same instant
    job_id = _batch(services, 10)
    for message in services.queue.sent:
        run_item(message, 1, "r", services)
    services.sleep = clock.sleep
    waiting = len(services.queue.requeued)
    assert waiting == 8 and len(provider.calls) == 2
    status = cancel_job(job_id, ALICE, services)
    assert status.counts.cancelled == 8 and status.state == "cancelled"
    _deliver_until_empty(services, clock)  # the waiting messages come back and are dropped
    assert len(provider.calls) == 2
    assert services.limits.used_daily("alice", clock.now.strftime("%Y-%m-%d")) == 2


def test_the_offline_renderer_takes_no_slot() -> None:
    services = make_services()
    settings: Settings = services.settings
    assert settings.openai_rate_limit_rpm == 5
    create_job(BatchRequest(categories=["a", "b", "c"], size="1024x1024"), ALICE, services)
    for message in services.queue.sent:
        run_item(message, 1, "r", services)
    assert services.queue.requeued == [] and services.limits.limiters == {}


def test_items_that_lose_every_race_for_the_schedule_come_back_in_a_second(clock: ManualClock) -> None:
    # Given a schedule row that other workers keep changing under this one's writes
    provider = LimitedProvider(clock)
    services = _services(provider, clock)
    contended: Callable[[str, LimiterState, int], bool] = services.limits.write_limiter
    losses = {"left": 25}

    def write_limiter(name: str, state: LimiterState, expected_version: int) -> bool:
        if losses["left"]:
            losses["left"] -= 1
            return False
        return contended(name, state, expected_version)

    services.limits.write_limiter = write_limiter
    job_id = _batch(services, 2)
    # When the first item reserves, every one of its writes loses
    run_item(services.queue.sent[0], 1, "r", services)
    # Then it goes back to the queue for a second, holding nothing, and nothing failed
    assert services.queue.requeued == [(services.queue.sent[0], 1)] and provider.calls == []
    assert services.queue.delays == []
    _deliver_until_empty(services, clock)
    assert job_result(job_id, ALICE, services).counts.completed == 2


def test_an_unexpected_error_before_the_call_comes_back_after_the_backoff(clock: ManualClock) -> None:
    provider = LimitedProvider(clock)
    services = _services(provider, clock)
    _batch(services, 1)

    def broken(job_id: str, index: int) -> None:
        raise ConnectionError("DynamoDB is unreachable")

    services.jobs.get_item = broken
    with pytest.raises(ConnectionError):
        run_item(services.queue.sent[0], 1, "r1", services)
    assert services.queue.delays == [("r1", 2)]  # RETRY_BASE_DELAY_SECONDS, not the visibility timeout


PAID = {"openai_api_key": "sk-unit-never-sent"}  # the API then knows a rate-limited provider draws


def test_a_batch_takes_its_slots_when_it_is_created_and_each_image_is_delivered_once(
    clock: ManualClock,
) -> None:
    # Given tier 1's 5 images a minute and the shipped limiter settings
    provider = LimitedProvider(clock)
    services = _services(
        provider,
        clock,
        openai_rate_limit_rpm=5,
        openai_rate_limit_tpm=100_000,
        rate_limit_target=0.95,
        rate_limit_max_wait_seconds=10,
        **PAID,
    )
    # When a batch of 40 is created
    job_id = _batch(services, 40)
    # Then its 40 slots were taken in one write, and each message waits in the queue until its slot
    (state,) = services.limits.limiters.values()
    assert state.version == 1
    slots = [m.reservation.slot_at - clock.start for m in services.queue.sent if m.reservation]
    assert len(slots) == 40 and slots[0] == 0.25
    assert min(b - a for a, b in itertools.pairwise(slots)) == pytest.approx(60 / 5 / 0.95)
    assert services.queue.sent_delays[:3] == [0, 7, 20]  # due 5 s before its slot: 12.88 - 5, 25.51 - 5
    assert services.limits.usage("alice")["rate_waits"] == 39
    # And every image is delivered once, at the limit's pace
    assert _delivered_per_image(services, clock, 40) == 1.0
    assert job_result(job_id, ALICE, services).counts.completed == 40
    gaps = [later - earlier for earlier, later in itertools.pairwise(provider.calls)]
    assert min(gaps) >= 12.0


def test_a_batch_longer_than_fifteen_minutes_chains_from_creation(clock: ManualClock) -> None:
    provider = LimitedProvider(clock)
    services = _services(provider, clock, openai_rate_limit_rpm=5, openai_rate_limit_tpm=100_000, **PAID)
    job_id = _batch(services, 100)
    assert max(services.queue.sent_delays) == 900
    deliveries = _deliver_until_empty(services, clock, max_steps=1000)
    assert job_result(job_id, ALICE, services).counts.completed == 100
    chained = sum(delay == 900 for delay in services.queue.sent_delays)
    assert deliveries == 100 + chained  # each item due past 15 minutes comes back once more
    assert len(provider.calls) == 100


def test_a_cancel_frees_the_slots_its_batch_took_at_creation(clock: ManualClock) -> None:
    provider = LimitedProvider(clock)
    services = _services(provider, clock, **PAID)
    first = _batch(services, 10)  # slots at 0.25 to 9.25 s, all taken at creation
    cancel_job(first, ALICE, services)
    second = _batch(services, 3)
    slots = [
        m.reservation.slot_at - clock.start
        for m in services.queue.sent
        if m.job_id == second and m.reservation
    ]
    assert slots == [0.25, 1.25, 2.25]  # the cancelled batch's slots, not after them
    _deliver_until_empty(services, clock)
    assert job_result(second, ALICE, services).counts.completed == 3 and len(provider.calls) == 3


def test_slots_taken_at_creation_are_moved_by_a_429_and_taken_again_once(clock: ManualClock) -> None:
    provider = LimitedProvider(clock, None, ProviderRateLimitedError("rate limited (429)", 3))
    services = _services(provider, clock, rate_limit_recovery_seconds=5, **PAID)
    job_id = _batch(services, 12)
    per_image = _delivered_per_image(services, clock, 12)
    assert job_result(job_id, ALICE, services).counts.completed == 12 and len(provider.calls) == 13
    later = [at for at in provider.calls if at > provider.calls[1]]
    assert later[0] >= provider.calls[1] + 3  # Retry-After kept
    assert min(b - a for a, b in itertools.pairwise(later)) >= 0.999
    assert per_image <= 2.1  # once at the moved slot, once more after the 429 (not once per look)


def test_items_that_come_back_later_than_a_slot_lasts_still_finish(clock: ManualClock) -> None:
    """Every trip through the queue takes 2 s, longer than a slot (1 s; a high tier's are 0.24 s): an
    item that missed its slot waits for its new one in the worker that holds it. Sent back instead, it
    came back late again and missed every slot it took."""
    provider = LimitedProvider(clock)
    services = _services(
        provider, clock, rate_limit_target=0.95, openai_api_key="sk-test"
    )  # slots at creation
    job_id = _batch(services, 3)
    order = itertools.count()
    trip = 2.0
    due = [
        (clock.now.timestamp() + delay + trip, next(order), message)
        for message, delay in zip(services.queue.sent, services.queue.sent_delays, strict=True)
    ]
    heapq.heapify(due)
    seen, deliveries = 0, 0
    while due and deliveries < 100:
        at, _, message = heapq.heappop(due)
        clock.now = max(clock.now, datetime.fromtimestamp(at, UTC))
        run_item(message, 1, "r", services)
        for requeued, delay in services.queue.requeued[seen:]:
            heapq.heappush(due, (clock.now.timestamp() + delay + trip, next(order), requeued))
        seen = len(services.queue.requeued)
        deliveries += 1
    assert job_result(job_id, ALICE, services).state == "completed"
    assert len(provider.calls) == 3 and deliveries <= 6
    assert min(b - a for a, b in itertools.pairwise(provider.calls)) >= 0.95  # and never two in a slot
