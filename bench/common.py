"""Helpers for the benchmarks: percentiles, a free loopback port, and batches on the local stack."""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def describe_ms(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"n={len(ms):4d}  p50={percentile(ms, 0.5):7.1f} ms  p95={percentile(ms, 0.95):7.1f} ms  "
        f"mean={statistics.fmean(ms):7.1f} ms"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stack_client(stack: Any, user: str = "bench") -> httpx.Client:
    """HTTP to a running local stack as `user`, with a token it accepts."""
    from imagegen.config import Settings
    from imagegen.logic.auth import mint_token

    token = mint_token(Settings(), user, stack.jwt_secret)
    return httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def run_icon_batch(client: httpx.Client, images: int, poll_seconds: float, **fields: Any) -> dict[str, Any]:
    """POST a batch of exactly `images` uncached icons (categories x up to 10 variations), wait until
    it ends; its last status."""
    categories = next(c for c in range((images + 9) // 10, images + 1) if images % c == 0)
    body = {
        "categories": [f"bench category {n}" for n in range(categories)],
        "variations_per_category": images // categories,
        "use_cache": False,
        **fields,
    }
    accepted = client.post("/api/icons/generate/batch", json=body)
    if accepted.status_code != 202:
        raise RuntimeError(f"the batch was refused: {accepted.status_code} {accepted.text}")
    status_url = accepted.json()["status_url"]
    ended = ("completed", "partially_failed", "failed", "cancelled")
    while (status := client.get(status_url).json())["state"] not in ended:
        time.sleep(poll_seconds)
    return dict(status)


def paced(images: int, per_minute: float, draw: Callable[[], bool]) -> int:
    """A process's own throttle, as the original service had: `draw` called `images` times, evenly
    spaced at `per_minute`; how many of the calls succeeded."""
    interval, next_at, done = 60.0 / per_minute, time.monotonic(), 0
    for _ in range(images):
        pause = next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        next_at = max(next_at, time.monotonic()) + interval
        done += draw()
    return done
