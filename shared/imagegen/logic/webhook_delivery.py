"""Outgoing webhooks (issue 12, part 3): what to do after each delivery attempt. Pure: the caller
reports the answer's status (or None when there was none) and its Retry-After (logic.webhook_sending,
once per WebhookQueue message).

The schedule is the Standard Webhooks spec's example. Decisions on answers:
- 2xx: delivered.
- 410 Gone: the receiver says the endpoint is gone for good; stop and disable it (as Ghost and the
  spec do), so later events are not sent to it.
- No answer (timeout, refused or reset connection, TLS failure), 408, 429 and 5xx: retry on schedule.
- Anything else (3xx, other 4xx): give up on this event. Redirects are never followed (the new
  location escaped the SSRF check), and a 400, 401, 404 or 413 will answer the same bytes the same way;
  the endpoint stays enabled for the next events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

# Seconds to wait before attempt n+1 (attempt 1 is immediate): 0, 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 14 h, 20 h, 24 h, ten attempts over about three days.
RETRY_SCHEDULE: tuple[int, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
# A Retry-After longer than the schedule's longest step is cut to it: a receiver cannot park an event
# for a week, and the queue has to hold the message that long.
RETRY_AFTER_CAP = max(RETRY_SCHEDULE)
_RETRIED_STATUSES = frozenset({408, 429})


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DISABLE_ENDPOINT = "disable_endpoint"
    GIVE_UP = "give_up"  # this event only: the endpoint stays enabled
    EXHAUSTED = "exhausted"  # would retry, but the schedule is over: the event goes to the DLQ


@dataclass(frozen=True)
class NextStep:
    outcome: AttemptOutcome
    delay: float | None = None  # seconds before the next attempt, for RETRY


def classify_answer(status: int | None) -> AttemptOutcome:
    """What an attempt's answer means: `status` is None when no answer came (timeout, connection error)."""
    if status is None or status in _RETRIED_STATUSES or 500 <= status <= 599:
        return AttemptOutcome.RETRY
    if 200 <= status <= 299:
        return AttemptOutcome.DELIVERED
    if status == 410:
        return AttemptOutcome.DISABLE_ENDPOINT
    return AttemptOutcome.GIVE_UP


def retry_after_seconds(header: str | None, now: datetime) -> float | None:
    """Retry-After in seconds from `now` (delta-seconds or an HTTP date); None if absent or unreadable."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT even when written -0000
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def next_delay(attempts_made: int, retry_after: str | None, now: datetime) -> float | None:
    """Seconds before the next attempt after `attempts_made` failed ones, or None when the schedule is
    over. A Retry-After makes the wait longer, never shorter, and is cut to RETRY_AFTER_CAP."""
    if attempts_made < 1:
        raise ValueError("next_delay follows a failed attempt")
    if attempts_made >= len(RETRY_SCHEDULE):
        return None
    scheduled = float(RETRY_SCHEDULE[attempts_made])
    asked = retry_after_seconds(retry_after, now)
    if asked is None:
        return scheduled
    return max(scheduled, min(asked, float(RETRY_AFTER_CAP)))


def after_attempt(attempts_made: int, status: int | None, retry_after: str | None, now: datetime) -> NextStep:
    """What follows attempt number `attempts_made` (1 for the first) that got `status`."""
    outcome = classify_answer(status)
    if outcome is not AttemptOutcome.RETRY:
        return NextStep(outcome)
    delay = next_delay(attempts_made, retry_after, now)
    if delay is None:
        return NextStep(AttemptOutcome.EXHAUSTED)
    return NextStep(AttemptOutcome.RETRY, delay)
