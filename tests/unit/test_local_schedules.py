"""The local stack's EventBridge Scheduler: a timer per scheduled function (imagegen.local.schedules)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from imagegen.local.schedules import ScheduleSource
from imagegen.local.stack import LocalStack


class Recorder:
    """A function that notes its events and how many of its invocations overlapped."""

    name = "EconomyFunction"
    timeout = 900

    def __init__(self, seconds: float = 0.0, fail: bool = False) -> None:
        self.seconds, self.fail = seconds, fail
        self.events: list[Any] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(self.seconds)
        with self._lock:
            self.running -= 1
            self.events.append(event)
        if self.fail:
            raise RuntimeError("the handler failed")
        return {"checked": len(self.events)}


def _wait_for(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the schedule did not fire in time"
        time.sleep(0.01)


def test_each_tick_invokes_the_function_with_the_schedules_input() -> None:
    function = Recorder()
    source = ScheduleSource(function, 0.05, {"action": "poll"}).start()
    try:
        _wait_for(lambda: source.invocations >= 3)
    finally:
        source.stop()
    assert function.events[:3] == [{"action": "poll"}] * 3
    assert source.last_result == {"checked": len(function.events)}
    assert source.failures == 0


def test_the_first_tick_comes_one_period_after_start() -> None:
    function = Recorder()
    source = ScheduleSource(function, 0.3, {"action": "poll"}).start()
    time.sleep(0.1)
    early = source.invocations
    _wait_for(lambda: source.invocations >= 1)
    source.stop()
    assert early == 0


def test_a_run_longer_than_the_period_delays_the_next_instead_of_overlapping() -> None:
    # Given invocations of 0.15 s on a 0.02 s schedule
    function = Recorder(seconds=0.15)
    source = ScheduleSource(function, 0.02, {"action": "poll"}).start()
    began = time.monotonic()
    _wait_for(lambda: source.invocations >= 3)
    elapsed = time.monotonic() - began
    source.stop()
    _wait_for(lambda: function.running == 0)
    # Then one runs at a time, the next starting as the last ends (missed ticks are not caught up)
    assert function.most_at_once == 1
    assert elapsed >= 0.3  # two whole runs before the third began


def test_a_failing_run_is_counted_and_the_schedule_goes_on() -> None:
    function = Recorder(fail=True)
    source = ScheduleSource(function, 0.02, {"action": "poll"}).start()
    try:
        _wait_for(lambda: source.failures >= 2)
    finally:
        source.stop()
    assert source.invocations >= 2 and source.last_result is None


def test_stop_ends_a_long_wait_at_once_and_nothing_fires_after_it() -> None:
    function = Recorder()
    source = ScheduleSource(function, 3600, {"action": "poll"}).start()
    began = time.monotonic()
    source.stop()
    assert time.monotonic() - began < 0.5
    assert not source.running
    assert source.invocations == 0 and function.events == []


def test_stop_does_not_wait_for_a_running_invocation() -> None:
    function = Recorder(seconds=1.5)
    source = ScheduleSource(function, 0.01, {"action": "poll"}).start()
    _wait_for(lambda: function.running == 1)
    began = time.monotonic()
    source.stop()
    assert time.monotonic() - began < 1.0
    _wait_for(lambda: function.running == 0)
    assert source.invocations == 1  # no tick after the stop


@pytest.mark.parametrize("period", [0, -1])
def test_a_period_that_is_not_positive_is_refused(period: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        ScheduleSource(Recorder(), period, {})


@pytest.mark.parametrize("value", ["0", "-2", "soon", "nan", "inf"])
def test_local_schedule_seconds_must_be_a_positive_number(value: str) -> None:
    with pytest.raises(ValueError, match="LOCAL_SCHEDULE_SECONDS must be a number of seconds above 0"):
        LocalStack(port=0, environ={"PATH": "/usr/bin", "LOCAL_SCHEDULE_SECONDS": value})


def test_local_schedule_seconds_replaces_the_templates_rate_only_when_set() -> None:
    assert LocalStack(port=0, environ={"PATH": "/usr/bin"}).schedule_seconds is None
    stack = LocalStack(port=0, environ={"PATH": "/usr/bin", "LOCAL_SCHEDULE_SECONDS": "0.5"})
    assert stack.schedule_seconds == 0.5


def test_the_hooks_function_sees_the_callers_openai_webhook_secret() -> None:
    # Locally the secret is a plain value from the environment (in AWS: OPENAI_WEBHOOK_SECRET_ARN)
    stack = LocalStack(port=0, environ={"PATH": "/usr/bin", "OPENAI_WEBHOOK_SECRET": "whsec_bG9jYWw="})
    env = stack.function_env("HooksFunction")
    assert env["OPENAI_WEBHOOK_SECRET"] == "whsec_bG9jYWw="
    assert "OPENAI_WEBHOOK_SECRET_ARN" not in env
    assert "OPENAI_WEBHOOK_SECRET" not in LocalStack(port=0, environ={}).function_env("HooksFunction")
