"""p50/p95 of POST batch and GET status on the local stack over HTTP. Prints the figures."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import describe_ms

from imagegen.local.stack import LocalStack
from imagegen.logic.auth import mint_token

WARMUP, POSTS, GETS = 20, 200, 400


def main() -> None:
    environ = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"}
    stack = LocalStack(port=0, environ=environ).start()
    try:
        from imagegen.config import Settings

        token = mint_token(Settings(), "bench", stack.jwt_secret)
        client = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        # use_cache false: every POST queues two icons the worker really renders (identical requests
        # would be answered from the request cache, and nothing would render during the figures).
        body = {
            "categories": ["electronics", "tools"],
            "style": "flat",
            "variations_per_category": 1,
            "use_cache": False,
        }

        def timed_gets(urls: list[str]) -> list[float]:
            samples = []
            for n in range(GETS):
                began = time.perf_counter()
                answer = client.get(urls[n % len(urls)])
                samples.append(time.perf_counter() - began)
                assert answer.status_code == 200, answer.text
            return samples

        warm = [
            client.post("/api/icons/generate/batch", json=body).json()["status_url"] for _ in range(WARMUP)
        ]
        while any(client.get(url).json()["state"] in ("queued", "running") for url in warm):
            time.sleep(0.5)  # let the workers finish: the next figures are for an idle stack
        idle_gets = timed_gets(warm)
        posts, status_urls = [], []
        for _ in range(POSTS):
            began = time.perf_counter()
            answer = client.post("/api/icons/generate/batch", json=body)
            posts.append(time.perf_counter() - began)
            assert answer.status_code == 202, answer.text
            status_urls.append(answer.json()["status_url"])
        busy_gets = timed_gets(status_urls)
        print(
            "API latency on the local stack (HTTP front -> authorizer -> function, moto behind; one client)"
        )
        print(f"  GET  /api/icons/batch/{{id}}/status, idle        {describe_ms(idle_gets)}")
        print(f"  POST /api/icons/generate/batch (2 items)       {describe_ms(posts)}")
        print(f"  GET  /api/icons/batch/{{id}}/status, rendering   {describe_ms(busy_gets)}")
        print("  (POST and the second GET run while the worker renders the queued icons on the same cores)")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
