"""Throughput against an images-per-minute limit: this service vs a sequential loop vs throttled processes.

One fake OpenAI server (loopback) enforces LIMIT images per minute over 10 s windows, with LATENCY
seconds per image, and answers 429 + Retry-After past it. Three clients draw IMAGES images each,
one after the other, in this one run:

  (a) this service on the local stack (shared limiter in DynamoDB, workers on the queue)
  (b) a sequential loop calling the openai SDK one image at a time (the original blog script)
  (c) PROCESSES processes, each with its own in-process throttle set to the same limit
      (the original service's asyncio throttle, once per worker)

The achieved rate is measured at the fake server from the times it accepted requests, past the
first 10 s window (the burst), as a fraction of the limit. Prints one table.
Usage: .venv/bin/python bench/throughput.py [--images 60] [--limit 60] [--latency 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import paced, run_icon_batch, stack_client

from imagegen.local.fake_openai import FakeOpenAI
from imagegen.local.stack import LocalStack
from imagegen.providers.registry import DEFAULT_MODEL

WINDOW = 10.0
MODEL, SIZE, QUALITY = DEFAULT_MODEL, "1024x1024", "low"
KEY = "sk-bench-not-a-real-key"  # the fake accepts any key


class CountingFake(FakeOpenAI):
    """The fake server, recording when it accepted or refused each image request."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[float, int]] = []

    def generate(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        arrived = time.monotonic()
        status, response_headers, payload = super().generate(headers, body)
        with self.lock:
            self.log.append((arrived, status))
        return status, response_headers, payload

    def take_log(self) -> list[tuple[float, int]]:
        with self.lock:
            log, self.log = self.log, []
            self.accepted.clear()  # each scenario starts with a fresh window
        return log


def steady_rate(log: list[tuple[float, int]], limit: int) -> float:
    """Accepted images per minute past the first window, as a fraction of the limit."""
    accepted = sorted(at for at, status in log if status == 200)
    if len(accepted) < 2:
        return 0.0
    start = accepted[0] + WINDOW
    later = [at for at in accepted if at >= start]
    if len(later) < 2:
        return len(accepted) / max(accepted[-1] - accepted[0], 1e-9) * 60 / limit
    return (len(later) - 1) / (later[-1] - later[0]) * 60 / limit


def run_service(fake: CountingFake, images: int, limit: int, latency: float) -> tuple[int, float, int]:
    environ = {  # the shipped defaults but the limits: the worker's concurrency follows from them
        **os.environ,
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_RATE_LIMIT_RPM": str(limit),
        "OPENAI_RATE_LIMIT_TPM": "10000000",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "ERROR"),
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    with LocalStack(port=0, environ=environ) as stack:
        client = stack_client(stack)
        fake.take_log()
        began = time.perf_counter()
        status = run_icon_batch(client, images, 0.5, size=SIZE, model=MODEL, quality=QUALITY)
        wall = time.perf_counter() - began
        return status["counts"]["completed"], wall, status["counts"]["failed"]


def _sdk_client(base_url: str) -> Any:
    import openai

    return openai.OpenAI(
        api_key=KEY, base_url=base_url, timeout=60
    )  # SDK defaults: 2 retries, honouring 429s


def _draw(client: Any) -> bool:
    import openai

    try:
        client.images.generate(model=MODEL, prompt="a bench icon", size=SIZE, quality=QUALITY, n=1)
    except openai.APIError:
        return False
    return True


def run_sequential(base_url: str, images: int) -> tuple[int, int]:
    client = _sdk_client(base_url)
    done = sum(_draw(client) for _ in range(images))
    return done, images - done


def _throttled_process(base_url: str, images: int, limit: int, results: Any) -> None:
    """One worker process with its own throttle: at most `limit` calls a minute, evenly spaced."""
    client = _sdk_client(base_url)
    done = paced(images, limit, lambda: _draw(client))
    results.put((done, images - done))


def run_throttled_processes(base_url: str, images: int, limit: int, processes: int) -> tuple[int, int]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    shares = [images // processes + (1 if n < images % processes else 0) for n in range(processes)]
    workers = [
        context.Process(target=_throttled_process, args=(base_url, share, limit, results)) for share in shares
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=3600) for _ in workers]
    for worker in workers:
        worker.join()
    return sum(o[0] for o in outcomes), sum(o[1] for o in outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--limit", type=int, default=60, help="images per minute the fake allows")
    parser.add_argument("--latency", type=float, default=3.0, help="seconds per image at the fake")
    parser.add_argument("--processes", type=int, default=3)
    args = parser.parse_args()
    fake = CountingFake().start()
    fake.configure(latency=args.latency, images_per_minute=args.limit, window_seconds=WINDOW)
    rows = []

    def row(name: str, done: int, wall: float, failed: int) -> None:
        log = fake.take_log()
        calls = len(log)
        refused = sum(1 for _, status in log if status == 429)
        rows.append((name, done, wall, steady_rate(log, args.limit), refused, calls, failed))

    try:
        done, wall, failed = run_service(fake, args.images, args.limit, args.latency)
        row("(a) imagegen service", done, wall, failed)
        began = time.perf_counter()
        done, failed = run_sequential(fake.base_url, args.images)
        row("(b) sequential SDK loop", done, time.perf_counter() - began, failed)
        began = time.perf_counter()
        done, failed = run_throttled_processes(fake.base_url, args.images, args.limit, args.processes)
        row(f"(c) {args.processes} processes, own throttles", done, time.perf_counter() - began, failed)
    finally:
        fake.stop()
    print(
        f"Throughput at {args.limit} images/min (fake OpenAI: {WINDOW:.0f} s windows, "
        f"{args.latency:.1f} s per image), {args.images} images each"
    )
    print(f"  {'client':34} {'images':>6} {'wall s':>7} {'rate/limit':>10} {'429s':>11} {'failed':>6}")
    for name, done, wall, rate, refused, calls, failed in rows:
        share = f"{refused} ({100 * refused / calls:.1f}%)" if calls else "0"
        print(f"  {name:34} {done:6d} {wall:7.1f} {rate:10.2f} {share:>11} {failed:6d}")
    print("  rate/limit: accepted images per minute past the first 10 s window, over the limit")


if __name__ == "__main__":
    main()
