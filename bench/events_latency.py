"""p50/p95 from an item's change (its started_at or finished_at) to its progress event, on the local
stack, at both ends side by side in one run: the event published by the events function (the stream
source's poll, the function, its publishers), and the message a WebSocket client subscribed to the
batch receives (the notifier's post through the @connections endpoint too). Prints the figures.

The stack's events function appends each event to LOCAL_EVENTS_LOG; a thread here notes when each
line appears (polling every 2 ms, so those figures are at most ~2 ms high). The WebSocket client
notes when each message arrives. Each batch is subscribed to before its first item starts (the
worker's event source is disabled meanwhile), so every item's messages are seen.
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
from websockets.sync.client import connect

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


def subscribed_batch(stack: LocalStack, client: Any, images: int) -> list[tuple[float, dict[str, Any]]]:
    """A batch of `images` uncached offline icons, followed over WebSocket from before its first item
    starts to its end: each message with the wall-clock time it arrived."""
    (worker,) = (source for source in stack.event_sources if source.function.name == "WorkerFunction")
    worker.disable()
    try:
        body = {"categories": [f"ws bench {n}" for n in range(images)], "use_cache": False, "size": "256x256"}
        batch_id = client.post("/api/icons/generate/batch", json=body).json()["batch_id"]
        socket = connect(client.post("/api/ws/ticket").json()["url"], open_timeout=30)
        socket.send(json.dumps({"action": "subscribe", "batch_id": batch_id}))
        socket.recv(timeout=30)  # the snapshot
    finally:
        worker.enable()
    messages: list[tuple[float, dict[str, Any]]] = []
    with socket:
        while not messages or messages[-1][1]["type"] != "job.completed":
            message = json.loads(socket.recv(timeout=60))
            messages.append((time.time(), message))
    return messages


def main() -> None:
    log = Path(tempfile.mkdtemp()) / "events.jsonl"
    environ = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING", "LOCAL_EVENTS_LOG": str(log)}
    stack = LocalStack(port=0, environ=environ).start()
    try:
        client = stack_client(stack)
        run_icon_batch(client, 2, 0.1, size="256x256")  # the events function's cold start
        time.sleep(1)
        received: list[tuple[float, dict[str, Any]]] = []
        with Tail(log) as tail:
            for _ in range(BATCHES):
                received += subscribed_batch(stack, client, IMAGES)
            time.sleep(1)  # the last events
    finally:
        stack.stop()
    print(f"change -> progress event ({BATCHES} batches of {IMAGES} offline icons, local stack, defaults)")
    outlets = (("published by the events function", tail.lines), ("WebSocket message received", received))
    for title, seen in outlets:
        samples: dict[str, list[float]] = {}
        for at, event in seen:
            samples.setdefault(event["type"], []).append(at - datetime.fromisoformat(event["at"]).timestamp())
        print(f"  {title}:")
        for kind in ("item.running", "item.completed", "job.completed"):
            if samples.get(kind):
                print(f"    {kind:15s} {describe_ms(samples[kind])}")


if __name__ == "__main__":
    main()
