"""One rate limit shared by every worker: a cell-rate (GCRA) schedule kept in the limits table.

Every provider call takes a slot on one shared timeline. A slot costs the time the account's
limit gives one image: 60/RPM seconds, or its estimated tokens at the TPM rate when that is
longer. The state is a single row read and written with a version check, so workers in any
number of Lambdas agree on it. A 429 lowers the share of the limit in use (`factor`) and sets a
cool-down honouring Retry-After; the share climbs back one step per RATE_LIMIT_RECOVERY_SECONDS.
`insufficient_quota` pauses everyone for QUOTA_PAUSE_SECONDS.

Written here rather than taken from a library: the rate-limit libraries on PyPI keep their state
in process memory or Redis; none schedules against a DynamoDB row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from aws_lambda_powertools import Logger

from imagegen.config import Settings
from imagegen.models.domain import LimiterState

logger = Logger(child=True)
MIN_FACTOR = 0.25  # a 429 storm never lowers the rate below a quarter of the limit
RECOVERY_STEP = 0.125  # the share regained per recovery period
MAX_CONFLICT_RETRIES = 20


@dataclass(frozen=True)
class Decision:
    kind: Literal["go", "wait", "paused"]
    seconds: float = 0.0  # go: wait this long, then call; wait: come back after this long
    reason: str = ""


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


def decide(
    state: LimiterState, limits: Limits, tokens: int, now: float, max_wait: float
) -> tuple[Decision, LimiterState | None]:
    """What a worker should do now, and the state to write when it takes a slot."""
    if state.paused_until > now:
        return Decision("paused", state.paused_until - now, state.paused_reason), None
    factor, factor_at = limits.factor_now(state, now)
    earliest = max(now, state.cooldown_until)
    tat = max(state.tat, earliest)
    start = max(earliest, tat - limits.tolerance(factor))
    wait = start - now
    if wait > max_wait:
        return Decision("wait", wait), None
    taken = replace(
        state,
        tat=tat + limits.slot_seconds(tokens, factor),
        factor=factor,
        factor_at=factor_at,
        version=state.version + 1,
    )
    return Decision("go", wait), taken


def penalized(state: LimiterState, limits: Limits, now: float, retry_after: float | None) -> LimiterState:
    """After a provider 429: halve the share in use, and start nothing before Retry-After."""
    factor, _ = limits.factor_now(state, now)
    lowered = max(MIN_FACTOR, factor / 2)
    pause = retry_after if retry_after is not None else limits.slot_seconds(0, lowered)
    cooldown = max(state.cooldown_until, now + pause)
    return replace(
        state,
        factor=lowered,
        factor_at=now,
        cooldown_until=cooldown,
        tat=max(state.tat, cooldown),
        version=state.version + 1,
    )


def paused(state: LimiterState, now: float, seconds: float, reason: str) -> LimiterState:
    return replace(state, paused_until=now + seconds, paused_reason=reason, version=state.version + 1)


class LimiterStore(Protocol):
    def read_limiter(self, name: str) -> LimiterState | None: ...
    def write_limiter(self, name: str, state: LimiterState, expected_version: int) -> bool: ...


class SharedLimiter:
    """The shared schedule of one provider model; every change is a versioned conditional write."""

    def __init__(self, store: LimiterStore, settings: Settings) -> None:
        self._store = store
        self._limits = Limits.from_settings(settings)
        self._max_wait = settings.rate_limit_max_wait_seconds
        self._pause_seconds = settings.quota_pause_seconds

    def acquire(self, name: str, tokens: int, now: float) -> Decision:
        """Take the next slot if it starts within RATE_LIMIT_MAX_WAIT_SECONDS, else say how long to wait."""
        for _ in range(MAX_CONFLICT_RETRIES):
            state = self._store.read_limiter(name) or LimiterState()
            decision, taken = decide(state, self._limits, tokens, now, self._max_wait)
            if taken is None or self._store.write_limiter(name, taken, state.version):
                return decision
        return Decision("wait", 1.0)  # heavy contention: come back shortly rather than spin

    def _change(self, name: str, change: Callable[[LimiterState], LimiterState]) -> None:
        for _ in range(MAX_CONFLICT_RETRIES):
            state = self._store.read_limiter(name) or LimiterState()
            new = change(state)
            if self._store.write_limiter(name, new, state.version):
                return
        logger.warning("limiter state not updated after retries", limiter=name)

    def rate_limited(self, name: str, now: float, retry_after: float | None) -> None:
        """Record a provider 429 for everyone: cool-down and a lowered rate."""
        self._change(name, lambda state: penalized(state, self._limits, now, retry_after))
        logger.warning("provider rate limit hit; shared rate lowered", limiter=name, retry_after=retry_after)

    def pause(self, name: str, now: float, reason: str) -> None:
        """Stop every worker from calling the provider for QUOTA_PAUSE_SECONDS."""
        self._change(name, lambda state: paused(state, now, self._pause_seconds, reason))
        logger.error("provider generation paused", limiter=name, reason=reason, seconds=self._pause_seconds)
