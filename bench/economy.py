"""Standard vs economy for the same icon batch: provider calls, cost, and time to complete.

One fake OpenAI server (loopback) plays a tier-1 account with time compressed SCALE times: 5 images
a minute (times SCALE, over 10 s windows of wall time, refused requests counted), each synchronous image
drawn in a time taken from gpt-image-2's latency distribution at the batch's quality (the model
registry's p50/p99, log-normal), and each Batch API batch finished after BATCH_MINUTES. Two
local stacks with the shipped defaults for tier 1 (OPENAI_RATE_LIMIT_RPM 5 and the template's
worker concurrency, 29; rates multiplied and the poll's 5 minutes divided by SCALE) draw the same
batch, one after the other in this run: (a) as a standard job, (b) with "priority": "economy".

Figures are printed in provider time (wall time x SCALE). OpenAI promises a batch only within 24 h
and publishes no typical duration: BATCH_MINUTES is an assumption, printed with the table.
Usage: .venv/bin/python bench/economy.py [--images 100] [--quality high] [--scale 10] [--batch-minutes 60]
"""

from __future__ import annotations

import argparse
import base64
import collections
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import run_icon_batch, stack_client

from imagegen.local.fake_openai import FakeOpenAI
from imagegen.local.stack import LocalStack
from imagegen.providers.registry import DEFAULT_MODEL

KEY = "sk-bench-not-a-real-key"  # the fake accepts any key
SECRET = "whsec_" + base64.b64encode(b"bench-economy-webhook-secret").decode()
TIER_1_IPM = 5
TIER_1_WORKERS = 29  # infra/template.yaml Mappings.Tiers "1" (checked against logic/capacity.py)
POLL_MINUTES = 5  # EconomyPollMinutes' default in the template


class CountingFake(FakeOpenAI):
    """The fake, counting every request a client made to it, by kind."""

    def __init__(self) -> None:
        super().__init__(latency=None, seed=7)
        self.counted: collections.Counter[str] = collections.Counter()
        for name in ("upload", "file", "content", "create", "listing", "batch", "cancel"):
            self._count(name)

    def _count(self, name: str) -> None:
        route = getattr(self.batch_api, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.counted[f"batch:{name}"] += 1
            return route(*args, **kwargs)

        setattr(self.batch_api, name, counted)

    def generate(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        status, response_headers, payload = super().generate(headers, body)
        with self.lock:
            self.counted[f"images:{status}"] += 1
        return status, response_headers, payload

    def take(self) -> tuple[collections.Counter[str], float, int]:
        """The calls counted since the last take, the dollars billed and the images billed."""
        with self.lock:
            counted, self.counted = self.counted, collections.Counter()
            ledger, self._ledger = list(self._ledger), []
        return counted, round(sum(call.usd or 0.0 for call in ledger), 4), len(ledger)


def run(fake: CountingFake, args: argparse.Namespace, priority: str) -> dict[str, Any]:
    environ = {  # the shipped defaults for tier 1, with time compressed
        **os.environ,
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_WEBHOOK_SECRET": SECRET,
        "OPENAI_RATE_LIMIT_RPM": str(TIER_1_IPM * args.scale),
        "OPENAI_RATE_LIMIT_TPM": str(100_000 * args.scale),
        "BATCH_MAX_CONCURRENT": str(TIER_1_WORKERS),
        "LOCAL_SCHEDULE_SECONDS": str(POLL_MINUTES * 60 / args.scale),
        "QUOTA_IMAGES_PER_DAY": "0",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "ERROR"),
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    with LocalStack(port=0, environ=environ) as stack:
        fake.configure(webhook_url=f"{stack.url}/api/openai/webhook", webhook_secret=SECRET)
        client = stack_client(stack)
        fake.take()
        began = time.perf_counter()
        status = run_icon_batch(client, args.images, 0.25, quality=args.quality, priority=priority)
        wall = time.perf_counter() - began
        stats = client.get("/api/icons/stats").json()
    counted, billed_usd, billed_images = fake.take()
    return {
        "priority": status.get("priority"),
        "state": status["state"],
        "completed": status["counts"]["completed"],
        "minutes": wall * args.scale / 60,
        "counted": counted,
        "billed_usd": billed_usd,
        "billed_images": billed_images,
        "recorded_usd": stats.get("actual_cost_usd", 0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--quality", default="high", choices=["low", "medium", "high"])
    # 10x: a tier-1 slot (12 s) becomes 1.2 s and the limiter's headroom (5 % of a slot) 60 ms, which
    # a loaded 2-core machine still keeps; at 60x (10 ms) calls miss their slots and the standard
    # path slows for reasons a real account would not have.
    parser.add_argument("--scale", type=int, default=10, help="provider seconds per wall second")
    parser.add_argument("--batch-minutes", type=float, default=60.0, help="how long a batch takes (assumed)")
    args = parser.parse_args()
    fake = CountingFake().start()
    fake.configure(
        time_scale=1 / args.scale,
        images_per_minute=TIER_1_IPM * args.scale,
        # Windows stay 10 s of wall time: compressed to 10/SCALE s, the jitter of a loaded machine
        # (tens of ms) would crowd two calls into one window and earn 429s a real account would not
        # give. This favours the standard path (a 10 s window lets SCALE/6 calls start back to back).
        window_seconds=10.0,
        batch_seconds=args.batch_minutes * 60,
    )
    try:
        rows = {priority: run(fake, args, priority) for priority in ("standard", "economy")}
    finally:
        fake.stop()
    print(
        f"The same {args.images}-icon batch ({DEFAULT_MODEL}, 1024x1024, {args.quality}) on a tier-1 account "
        f"({TIER_1_IPM} images/min), time compressed {args.scale}x; a batch assumed to take "
        f"{args.batch_minutes:.0f} min"
    )
    print(
        f"  {'path':9} {'state':10} {'images':>6} {'image calls':>11} {'429s':>5} {'batch API calls':>15} "
        f"{'billed $':>9} {'recorded $':>10} {'minutes':>8}"
    )
    for name, row in rows.items():
        counted = row["counted"]
        image_calls = sum(n for kind, n in counted.items() if kind.startswith("images:"))
        refused = counted.get("images:429", 0)
        batch_calls = sum(n for kind, n in counted.items() if kind.startswith("batch:"))
        label = name if row["priority"] == name else f"{name}*"
        print(
            f"  {label:9} {row['state']:10} {row['completed']:6d} {image_calls:11d} {refused:5d} "
            f"{batch_calls:15d} {row['billed_usd']:9.2f} {row['recorded_usd']:10.2f} {row['minutes']:8.1f}"
        )
    economy = rows["economy"]["counted"]
    print(
        "  batch API calls (economy): "
        + ", ".join(f"{k[6:]} {n}" for k, n in sorted(economy.items()) if k[:6] == "batch:")
    )
    print(
        "  billed $: what the fake OpenAI billed; recorded $: the service's own stats (GET /api/icons/stats)"
    )


if __name__ == "__main__":
    main()
