"""The jobs table's stream through the local stack's events function: a batch's progress, in order.

The stack's events function appends what it publishes to LOCAL_EVENTS_LOG (a local-only publisher),
which is how this test sees the events the WebSocket notifier and the webhooks receive."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Client, start_stack

pytestmark = pytest.mark.e2e


def test_a_batch_of_six_publishes_each_items_start_then_end_then_the_jobs_end(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    stack = start_stack(LOCAL_EVENTS_LOG=str(log))
    try:
        client = Client(stack)
        categories = ["camping", "garden", "kitchen", "music", "travel", "weather"]
        # 256x256: the offline renderer draws them in a fraction of a second each
        batch = {"categories": categories, "size": "256x256"}
        accepted = client.post("/api/icons/generate/batch", batch).json()
        status = client.wait_until_done(f"/api/jobs/{accepted['batch_id']}")
        assert status["state"] == "completed"
        deadline = time.monotonic() + 20
        while not (log.exists() and "job.completed" in log.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stack.stop()
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert {event["job_id"] for event in events} == {accepted["batch_id"]}
    # Then each item's events are running then completed (a retried item may start again)
    for index in range(6):
        states = [e["type"] for e in events if e["item"] and e["item"]["index"] == index]
        assert states[0] == "item.running" and states[-1] == "item.completed", (index, states)
        assert states.count("item.completed") == 1 and set(states) == {"item.running", "item.completed"}
    # And the job's end comes once, last, with what the status route answers
    assert [e["type"] for e in events].count("job.completed") == 1 and events[-1]["type"] == "job.completed"
    assert (events[-1]["state"], events[-1]["counts"], events[-1]["percent"]) == (
        "completed",
        status["counts"],
        100.0,
    )
    # And counts only grow, each completion counted by its own event
    completed = [e["counts"]["completed"] for e in events if e["type"] == "item.completed"]
    assert completed == sorted(completed) and completed[-1] == 6
    assert all(
        e["item"]["image_url"].endswith(e["item"]["key"]) for e in events if e["type"] == "item.completed"
    )
