"""EventBridge Scheduler, emulated: one timer thread per scheduled function, invoking it with the
schedule's Input every period.

moto stores schedules but never fires them, so the stack runs them itself (as it runs the SQS and
stream event sources). The first invocation comes one period after `start`, as a new schedule's
does. One invocation runs at a time: a run longer than the period delays the next one, which then
starts as soon as it ends, as with a Lambda whose reserved concurrency is 1 (in AWS, an invocation
that outlasts the period overlaps the next one; the function is written to allow it).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from imagegen.local.streams import Invocable


class ScheduleSource:
    """One schedule feeding one function. `invocations` counts the invocations started, `failures`
    those that raised (Scheduler would retry them per its RetryPolicy; the next tick does here), and
    `last_result` holds the last answer; the counts only grow."""

    def __init__(
        self, function: Invocable, period_seconds: float, event: Any, name: str = "schedule"
    ) -> None:
        if period_seconds <= 0:
            raise ValueError(f"a schedule's period must be positive, not {period_seconds}")
        self.function, self.period_seconds, self.event = function, period_seconds, event
        self.invocations = 0
        self.failures = 0
        self.last_result: Any = None
        self._stopping = threading.Event()
        self._timer = threading.Thread(target=self._tick_loop, name=f"{function.name}-{name}", daemon=True)

    def start(self) -> ScheduleSource:
        self._timer.start()
        return self

    @property
    def running(self) -> bool:
        """The timer is alive: started and not yet stopped."""
        return self._timer.is_alive()

    def stop(self) -> None:
        """Fire no more. A tick not yet begun is cancelled at once; a running invocation is not
        waited for (its container ends with the function's, as an abandoned one would)."""
        self._stopping.set()
        if self._timer.is_alive():
            self._timer.join(timeout=0.5)

    def _tick_loop(self) -> None:
        due = time.monotonic() + self.period_seconds
        # Event.wait, not sleep: stop() ends the wait at once.
        while not self._stopping.wait(max(0.0, due - time.monotonic())):
            self._invoke_once()
            # The next tick keeps to the schedule's grid; one missed while the invocation ran is
            # run once, at once, not caught up tick by tick.
            due = max(due + self.period_seconds, time.monotonic())

    def _invoke_once(self) -> None:
        self.invocations += 1
        try:
            self.last_result = self.function.invoke(self.event)
        except Exception as error:  # a failed run must not end the schedule; say it
            self.failures += 1
            if self._stopping.is_set():  # its container was ended by the stack's stop: nothing to say
                return
            print(f"schedule {self.function.name}: {type(error).__name__}: {error}", file=sys.stderr)
