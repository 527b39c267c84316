"""What keeping the local stack's state on disk costs: the same work on a stack in memory and on one
with a state folder, side by side in one run, then a restart that loads the folder back.
Prints the figures."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import describe_ms

from imagegen.local.stack import LocalStack
from imagegen.logic.auth import mint_token

ROUNDS, POSTS, GETS = 2, 60, 200
BODY = {
    "categories": ["electronics", "tools"],
    "style": "flat",
    "variations_per_category": 1,
    "use_cache": False,
}


def _client(stack: LocalStack) -> httpx.Client:
    from imagegen.config import Settings

    token = mint_token(Settings(), "bench", stack.jwt_secret)
    return httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def _work(stack: LocalStack) -> dict[str, list[float]]:
    """POST batches (two icons each, rendered), GET their status, wait until all are stored."""
    client = _client(stack)
    posts, gets, urls = [], [], []
    began = time.perf_counter()
    for _ in range(POSTS):
        started = time.perf_counter()
        answer = client.post("/api/icons/generate/batch", json=BODY)
        posts.append(time.perf_counter() - started)
        assert answer.status_code == 202, answer.text
        urls.append(answer.json()["status_url"])
    for n in range(GETS):
        started = time.perf_counter()
        assert client.get(urls[n % len(urls)]).status_code == 200
        gets.append(time.perf_counter() - started)
    while any(client.get(url).json()["state"] in ("queued", "running") for url in urls):
        time.sleep(0.2)
    return {"post": posts, "get": gets, "all_stored": [time.perf_counter() - began]}


def main() -> None:
    environ = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"}
    folder = Path(tempfile.mkdtemp(prefix="imagegen-state-bench-"))
    figures: dict[str, dict[str, list[float]]] = {"in memory": {}, "state folder": {}}
    for _ in range(ROUNDS):  # alternate, so that the machine's noise falls on both alike
        for mode, state_dir in (("in memory", None), ("state folder", folder)):
            stack = LocalStack(port=0, environ=environ, state_dir=state_dir).start()
            try:
                for name, samples in _work(stack).items():
                    figures[mode].setdefault(name, []).extend(samples)
            finally:
                stack.stop()
    print(f"state overhead: {ROUNDS} rounds of {POSTS} batches of 2 icons and {GETS} GETs, alternating")
    for mode, of_mode in figures.items():
        stored = sum(of_mode["all_stored"]) / len(of_mode["all_stored"])
        print(f"  {mode:13} POST {describe_ms(of_mode['post'])} | GET {describe_ms(of_mode['get'])}")
        print(f"  {'':13} all {2 * POSTS} icons stored in {stored:.1f} s (mean of rounds)")
    size = sum(path.stat().st_size for path in folder.iterdir()) / 2**20
    for mode, state_dir in (("in memory", None), ("state folder", folder)):
        stack = LocalStack(port=0, environ=environ, state_dir=state_dir).start()
        print(
            f"  start, {mode:12}: ready in {stack.started_seconds:.1f} s, restored {stack.restored.summary()}"
        )
        stack.stop()
    print(f"  state folder: {size:.1f} MiB")


if __name__ == "__main__":
    main()
