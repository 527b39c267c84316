"""What follows a webhook delivery attempt (issue 12): the Standard Webhooks schedule, Retry-After,
and which answers retry, disable the endpoint or give up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from imagegen.logic.webhook_delivery import (
    RETRY_AFTER_CAP,
    RETRY_SCHEDULE,
    AttemptOutcome,
    NextStep,
    after_attempt,
    classify_answer,
    next_delay,
    retry_after_seconds,
)

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def test_the_schedule_is_the_standard_webhooks_one() -> None:
    minute, hour = 60, 3600
    expected = [0, 5, 5 * minute, 30 * minute, 2 * hour, 5 * hour, 10 * hour, 14 * hour, 20 * hour, 24 * hour]
    assert list(RETRY_SCHEDULE) == expected


def test_failed_attempts_wait_by_the_schedule_and_stop_after_the_tenth() -> None:
    delays = [next_delay(attempt, None, NOW) for attempt in range(1, 11)]
    assert delays == [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400, None]
    with pytest.raises(ValueError, match="failed attempt"):
        next_delay(0, None, NOW)


@pytest.mark.parametrize(
    ("attempts_made", "header", "expected"),
    [
        (1, "120", 120.0),  # longer than the 5 s step: the receiver's wish wins
        (1, "2", 5.0),  # shorter: never earlier than the schedule
        (3, "60", 1800.0),
        (1, "604800", float(RETRY_AFTER_CAP)),  # a week is cut to 24 h
        (1, format_datetime(NOW + timedelta(minutes=10), usegmt=True), 600.0),  # an HTTP date
        (1, format_datetime(NOW - timedelta(minutes=10), usegmt=True), 5.0),  # a date in the past
        (1, "soon", 5.0),  # unreadable: ignored
        (1, "-30", 5.0),
        (1, "", 5.0),
        (10, "60", None),  # the schedule is over whatever the receiver asks
    ],
)
def test_retry_after_lengthens_the_wait_within_bounds(
    attempts_made: int, header: str, expected: float | None
) -> None:
    assert next_delay(attempts_made, header, NOW) == expected


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds(" 30 ", NOW) == 30.0
    assert retry_after_seconds("Sun, 22 Nov 2026 03:01:00 GMT", NOW) == 60.0
    assert retry_after_seconds(None, NOW) is None
    assert retry_after_seconds("1.5", NOW) is None  # the header is whole seconds


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, AttemptOutcome.DELIVERED),
        (202, AttemptOutcome.DELIVERED),
        (204, AttemptOutcome.DELIVERED),
        (410, AttemptOutcome.DISABLE_ENDPOINT),
        (None, AttemptOutcome.RETRY),  # timeout, refused or reset connection
        (408, AttemptOutcome.RETRY),
        (429, AttemptOutcome.RETRY),
        (500, AttemptOutcome.RETRY),
        (502, AttemptOutcome.RETRY),
        (503, AttemptOutcome.RETRY),
        (504, AttemptOutcome.RETRY),
        (301, AttemptOutcome.GIVE_UP),  # redirects are not followed
        (307, AttemptOutcome.GIVE_UP),
        (400, AttemptOutcome.GIVE_UP),
        (401, AttemptOutcome.GIVE_UP),
        (403, AttemptOutcome.GIVE_UP),
        (404, AttemptOutcome.GIVE_UP),
        (413, AttemptOutcome.GIVE_UP),
        (422, AttemptOutcome.GIVE_UP),
    ],
)
def test_answers_are_classified(status: int | None, outcome: AttemptOutcome) -> None:
    assert classify_answer(status) is outcome


def test_after_an_attempt_the_next_step_combines_the_answer_and_the_schedule() -> None:
    assert after_attempt(1, 200, None, NOW) == NextStep(AttemptOutcome.DELIVERED)
    assert after_attempt(1, 503, None, NOW) == NextStep(AttemptOutcome.RETRY, 5.0)
    assert after_attempt(2, 429, "900", NOW) == NextStep(AttemptOutcome.RETRY, 900.0)
    assert after_attempt(4, None, None, NOW) == NextStep(AttemptOutcome.RETRY, 7200.0)
    assert after_attempt(10, 500, None, NOW) == NextStep(AttemptOutcome.EXHAUSTED)
    assert after_attempt(3, 410, "60", NOW) == NextStep(AttemptOutcome.DISABLE_ENDPOINT)
    assert after_attempt(1, 404, None, NOW) == NextStep(AttemptOutcome.GIVE_UP)


def test_a_receiver_that_fails_twice_still_gets_the_event() -> None:
    # Given a receiver answering 500, then no answer, then 200
    answers: list[int | None] = [500, None, 200]
    waited, step = 0.0, NextStep(AttemptOutcome.RETRY, 0.0)
    for attempt, status in enumerate(answers, start=1):
        step = after_attempt(attempt, status, None, NOW)
        waited += step.delay or 0.0
    # Then the third attempt delivers it, 5 s + 5 min after the first
    assert step.outcome is AttemptOutcome.DELIVERED
    assert waited == 305.0
