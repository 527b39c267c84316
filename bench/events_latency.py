"""p50/p95 from an item's change (its started_at or finished_at) to its progress event being published,
on the local stack: the stream source's poll, the events function and its publishers. Prints the figures.

The stack's events function appends each event to LOCAL_EVENTS_LOG; a thread here notes when each
line appears (polling every 2 ms, so the figures are at most ~2 ms high).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import describe_ms, run_icon_batch, stack_client

from imagegen.local.stack import LocalStack

BATCHES, IMAGES = 4, 10  # 256x256 icons: the offline renderer draws each in a fraction of a second
POLL_SECONDS = 0.002


class Tail:
    """Each line of a growing file, with the wall-clock time it was first seen."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[tuple[float, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        offset, pending = self.path.stat().st_size if self.path.exists() else 0, ""  # from now on
        while not self._stop.is_set():
            if self.path.exists():
                with self.path.open(encoding="utf-8") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
                    offset = handle.tell()
                seen = time.time()
                pending += chunk
                *complete, pending = pending.split("\n")
                self.lines += [(seen, json.loads(line)) for line in complete if line]
            time.sleep(POLL_SECONDS)

    def __enter__(self) -> Tail:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    log = Path(tempfile.mkdtemp()) / "events.jsonl"
    environ = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING", "LOCAL_EVENTS_LOG": str(log)}
    stack = LocalStack(port=0, environ=environ).start()
    try:
        client = stack_client(stack)
        run_icon_batch(client, 2, 0.1, size="256x256")  # the events function's cold start
        time.sleep(1)
        with Tail(log) as tail:
            for _ in range(BATCHES):
                run_icon_batch(client, IMAGES, 0.1, size="256x256")
            time.sleep(1)  # the last events
        samples: dict[str, list[float]] = {}
        for seen, event in tail.lines:
            samples.setdefault(event["type"], []).append(
                seen - datetime.fromisoformat(event["at"]).timestamp()
            )
    finally:
        stack.stop()
    print(f"change -> progress event published ({BATCHES} batches of {IMAGES} offline icons, local stack)")
    for kind in ("item.running", "item.completed", "job.completed"):
        if samples.get(kind):
            print(f"  {kind:15s} {describe_ms(samples[kind])}")


if __name__ == "__main__":
    main()
