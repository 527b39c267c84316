"""One rate limit shared by every worker: a cell-rate (GCRA) schedule kept in the limits table.

Every provider call takes a slot on one shared timeline. A slot costs the time the account's
limit gives one image: 60/RPM seconds, or its estimated tokens at the TPM rate when that is
longer. The state is a single row read and written with a version check, so workers in any
number of Lambdas agree on it.

Taking a slot reserves it, however far ahead it is: an item that must wait goes back to the queue
holding its reservation and comes back once, when its slot is due (waiting costs O(1) deliveries,
not one per look at the schedule). A reservation holds while the schedule keeps its generation:

- a provider 429 halves the share of the limit in use (`factor`), sets a cool-down honouring
  Retry-After and starts a new generation: the timeline restarts after the cool-down, and each
  waiting item takes a new slot when its old one comes due (one more delivery per 429);
- `insufficient_quota` pauses the schedule for QUOTA_PAUSE_SECONDS and starts a new generation:
  reservations move past the pause. If the account is still out of quota after it (the next call
  gets `insufficient_quota` again), items that come due fail with the reason instead of waiting on;
- a cancel frees the slots of its waiting items as holes that the next reservations fill.

Written here rather than taken from a library: the rate-limit libraries on PyPI keep their state
in process memory or Redis; none schedules against a DynamoDB row, and none reserves ahead.
"""

from __future__ import annotations

import functools
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from aws_lambda_powertools import Logger

from imagegen.config import Settings
from imagegen.models.domain import ImageSpec, LimiterState, Reservation
from imagegen.providers.registry import estimated_tokens

logger = Logger(child=True)
MIN_FACTOR = 0.25  # a 429 storm never lowers the rate below a quarter of the limit
RECOVERY_STEP = 0.125  # the share regained per recovery period
MAX_CONFLICT_RETRIES = 20
MAX_QUEUE_DELAY_SECONDS = 900  # SQS's longest DelaySeconds: longer waits are chained
CONFLICT_BACKOFF_SECONDS = 0.005  # times the attempt, at random: racing writers spread out
PAUSES_BEFORE_FAILING = 2  # the first pause is waited out (billing top-ups take minutes); the second fails
MAX_HOLES = 64  # freed intervals kept in the row; the shortest are forgotten beyond this
EPSILON = 1e-6
# A fresh slot starts this far ahead, so the writes a worker makes before its call (idempotency
# record, item state) are done by then and the call starts on the slot, not late.
RESERVE_AHEAD_SECONDS = 0.25


def limiter_name(provider: str, spec: ImageSpec) -> str:
    """One schedule per provider model: OpenAI's limits are per model."""
    return f"{provider}#{spec.model}"


def slot_tokens(spec: ImageSpec) -> int:
    """Tokens an image is expected to use against the tokens-per-minute limit."""
    return estimated_tokens(spec.model, spec.width, spec.height, spec.quality, spec.prompt)


def queue_delay(reservation: Reservation, now: float, settings: Settings) -> int:
    """Seconds to hold an item's message so that it arrives half of RATE_LIMIT_MAX_WAIT_SECONDS
    before its slot (the worker waits the rest, which absorbs a cold start); SQS allows 900 at most."""
    lead = settings.rate_limit_max_wait_seconds / 2
    return min(MAX_QUEUE_DELAY_SECONDS, max(0, math.floor(reservation.slot_at - now - lead)))


@dataclass(frozen=True)
class Decision:
    kind: Literal["go", "wait", "paused"]
    seconds: float = 0.0  # go: wait this long in process, then call; wait: the slot is this far ahead
    reason: str = ""
    reservation: Reservation | None = None  # go and wait: the slot now held


@dataclass(frozen=True)
class Limits:
    rpm: int
    tpm: int
    burst: int
    target: float
    recovery_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            rpm=settings.openai_rate_limit_rpm,
            tpm=settings.openai_rate_limit_tpm,
            burst=settings.openai_rate_limit_burst,
            target=settings.rate_limit_target,
            recovery_seconds=settings.rate_limit_recovery_seconds,
        )

    def factor_now(self, state: LimiterState, now: float) -> tuple[float, float]:
        """The share of the limit in use now, and when that share was reached (for the next step)."""
        if state.factor >= 1.0:
            return 1.0, state.factor_at
        steps = max(0, math.floor((now - state.factor_at) / self.recovery_seconds))
        factor = min(1.0, state.factor + RECOVERY_STEP * steps)
        return factor, state.factor_at + steps * self.recovery_seconds

    def slot_seconds(self, tokens: int, factor: float) -> float:
        """Seconds of the shared timeline one image takes at the current share of the limit."""
        return max(60.0 / self.rpm, tokens * 60.0 / self.tpm) / (self.target * factor)

    def tolerance(self, factor: float) -> float:
        """How far ahead of the timeline a call may start: the burst, less the image itself."""
        return (self.burst - 1) * 60.0 / self.rpm / (self.target * factor)


def _fill_hole(
    holes: tuple[tuple[float, float], ...], earliest: float, length: float
) -> tuple[float, tuple[tuple[float, float], ...]] | None:
    """The start of the first freed interval that fits `length`, and the holes left around it."""
    for n, (begin, end) in enumerate(holes):
        start = max(begin, earliest)
        if end - start >= length - EPSILON:
            rest = [(b, e) for b, e in ((begin, start), (start + length, end)) if e - b > EPSILON]
            return start, holes[:n] + tuple(rest) + holes[n + 1 :]
    return None


def decide(
    state: LimiterState,
    limits: Limits,
    tokens: int,
    now: float,
    max_wait: float,
    name: str = "",
    ahead: float = 0.0,
) -> tuple[Decision, LimiterState | None]:
    """Reserve the next slot for an image, at least `ahead` seconds away: go within `max_wait`,
    else wait holding it; and the new state."""
    if state.paused_until > now and state.pauses >= PAUSES_BEFORE_FAILING:
        return Decision("paused", state.paused_until - now, state.paused_reason), None
    factor, factor_at = limits.factor_now(state, now)
    length = limits.slot_seconds(tokens, factor)
    earliest = max(now + ahead, state.cooldown_until, state.paused_until)
    holes = tuple((b, e) for b, e in state.holes if e > earliest + EPSILON)
    filled = _fill_hole(holes, earliest, length)
    if filled is not None:
        start, holes = filled
        tat = state.tat
    else:
        tat = max(state.tat, earliest)
        start = max(earliest, tat - limits.tolerance(factor))
        tat += length
    taken = replace(
        state, tat=tat, holes=holes, factor=factor, factor_at=factor_at, version=state.version + 1
    )
    reservation = Reservation(limiter=name, slot_at=start, seconds=length, generation=state.generation)
    wait = start - now
    return Decision("go" if wait <= max_wait else "wait", wait, reservation=reservation), taken


def penalized(state: LimiterState, limits: Limits, now: float, retry_after: float | None) -> LimiterState:
    """After a provider 429: halve the share in use, start nothing before Retry-After, and restart
    the timeline there (a new generation: waiting items take new slots when theirs come due)."""
    factor, _ = limits.factor_now(state, now)
    lowered = max(MIN_FACTOR, factor / 2)
    pause = retry_after if retry_after is not None else limits.slot_seconds(0, lowered)
    cooldown = max(state.cooldown_until, now + pause)
    return replace(
        state,
        factor=lowered,
        factor_at=now,
        cooldown_until=cooldown,
        tat=cooldown,
        holes=(),
        generation=state.generation + 1,
        version=state.version + 1,
    )


def paused(state: LimiterState, now: float, seconds: float, reason: str) -> LimiterState:
    """insufficient_quota: stop the schedule; reservations move past the pause (a new generation).

    Calls that were already running when the pause began report the same shortage: they extend
    nothing and do not count as another pause."""
    if state.paused_until > now:
        return state
    until = now + seconds
    return replace(
        state,
        paused_until=until,
        paused_reason=reason,
        pauses=state.pauses + 1,
        tat=until,
        holes=(),
        generation=state.generation + 1,
        version=state.version + 1,
    )


def freed(state: LimiterState, reservations: Iterable[Reservation], now: float) -> LimiterState:
    """Give back slots nobody will use (their items were cancelled): the tail shortens the
    timeline, the others become holes that the next reservations fill."""
    holes = sorted(
        [(b, e) for b, e in state.holes if e > now]
        + [
            (r.slot_at, r.slot_at + r.seconds)
            for r in reservations
            if r.generation == state.generation and r.slot_at + r.seconds > now
        ]
    )
    merged: list[tuple[float, float]] = []
    for begin, end in holes:
        if merged and begin <= merged[-1][1] + EPSILON:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    tat = state.tat
    while merged and merged[-1][1] >= tat - EPSILON:
        tat = min(tat, max(merged.pop()[0], now))
    if len(merged) > MAX_HOLES:
        merged = sorted(sorted(merged, key=lambda h: h[0] - h[1])[:MAX_HOLES])
    return replace(state, tat=tat, holes=tuple(merged), version=state.version + 1)


class ScheduleBusy(Exception):
    """The schedule's row changed under every attempt to write it: come back in a moment."""


class LimiterStore(Protocol):
    def read_limiter(self, name: str) -> LimiterState | None: ...
    def write_limiter(self, name: str, state: LimiterState, expected_version: int) -> bool: ...


class SharedLimiter:
    """The shared schedule of one provider model; every change is a versioned conditional write."""

    def __init__(
        self, store: LimiterStore, settings: Settings, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._store = store
        self._limits = Limits.from_settings(settings)
        self._max_wait = settings.rate_limit_max_wait_seconds
        self._pause_seconds = settings.quota_pause_seconds
        self._sleep = sleep

    def _back_off(self, attempt: int) -> None:
        self._sleep(random.uniform(0, CONFLICT_BACKOFF_SECONDS * (attempt + 1)))

    def reserve(self, name: str, tokens: int, now: float) -> Decision:
        """Reserve the next free slot: go (within RATE_LIMIT_MAX_WAIT_SECONDS) or wait holding it;
        ScheduleBusy when every write lost a race (a burst of items all reserving at once)."""
        for attempt in range(MAX_CONFLICT_RETRIES):
            state = self._store.read_limiter(name) or LimiterState()
            decision, taken = decide(
                state, self._limits, tokens, now, self._max_wait, name, ahead=RESERVE_AHEAD_SECONDS
            )
            if taken is None or self._store.write_limiter(name, taken, state.version):
                return decision
            self._back_off(attempt)
        raise ScheduleBusy(name)

    def reserve_many(self, name: str, tokens: list[int], now: float) -> list[Reservation]:
        """Consecutive slots for a batch's items, in one write; none while the schedule is paused
        for good (each item then learns why on delivery). ScheduleBusy as for `reserve`."""
        for attempt in range(MAX_CONFLICT_RETRIES):
            read = state = self._store.read_limiter(name) or LimiterState()
            held: list[Reservation] = []
            for image_tokens in tokens:
                decision, taken = decide(
                    state, self._limits, image_tokens, now, self._max_wait, name, ahead=RESERVE_AHEAD_SECONDS
                )
                if taken is None or decision.reservation is None:
                    return []
                held.append(decision.reservation)
                state = replace(taken, version=read.version + 1)
            if self._store.write_limiter(name, state, read.version):
                return held
            self._back_off(attempt)
        raise ScheduleBusy(name)

    def standing(self, reservation: Reservation, now: float) -> Literal["valid", "moved", "paused"]:
        """Whether a held reservation still stands: moved by a 429 or a pause, or the account paused
        for good (the second pause in a row)."""
        state = self._store.read_limiter(reservation.limiter) or LimiterState()
        if state.paused_until > now and state.pauses >= PAUSES_BEFORE_FAILING:
            return "paused"
        return "valid" if state.generation == reservation.generation else "moved"

    def paused_reason(self, name: str, now: float) -> tuple[float, str]:
        state = self._store.read_limiter(name) or LimiterState()
        return max(0.0, state.paused_until - now), state.paused_reason

    def _change(self, name: str, change: Callable[[LimiterState], LimiterState]) -> LimiterState:
        for attempt in range(MAX_CONFLICT_RETRIES):
            state = self._store.read_limiter(name) or LimiterState()
            new = change(state)
            if new is state or self._store.write_limiter(name, new, state.version):
                return new
            self._back_off(attempt)
        logger.warning("limiter state not updated after retries", limiter=name)
        return self._store.read_limiter(name) or LimiterState()

    def rate_limited(self, name: str, now: float, retry_after: float | None) -> None:
        """Record a provider 429 for everyone: cool-down, a lowered rate, reservations moved."""
        self._change(name, lambda state: penalized(state, self._limits, now, retry_after))
        logger.warning("provider rate limit hit; shared rate lowered", limiter=name, retry_after=retry_after)

    def pause(self, name: str, now: float, reason: str) -> int:
        """Stop every worker from calling the provider for QUOTA_PAUSE_SECONDS; the pauses in a row."""
        state = self._change(name, lambda state: paused(state, now, self._pause_seconds, reason))
        logger.error(
            "provider generation paused",
            limiter=name,
            reason=reason,
            seconds=self._pause_seconds,
            pauses_in_a_row=state.pauses,
        )
        return state.pauses

    def succeeded(self, name: str) -> None:
        """A call went through: a later shortage of quota is a first pause again."""
        state = self._store.read_limiter(name)
        if state is not None and state.pauses:
            self._change(name, lambda s: replace(s, pauses=0, version=s.version + 1) if s.pauses else s)

    def free(self, reservations: list[Reservation], now: float) -> None:
        """Give the slots of cancelled items back to the schedule."""
        by_limiter: dict[str, list[Reservation]] = {}
        for reservation in reservations:
            by_limiter.setdefault(reservation.limiter, []).append(reservation)
        for name, held in by_limiter.items():
            self._change(name, functools.partial(freed, reservations=held, now=now))
