"""p50/p95 of a CMS webhook's answer on the local stack: a Ghost-signed "post published" event of a
new post (a hero and three h2 sections, so a blog job of four images is made) posted to
/api/hooks/ghost, timed until its 202. The issue asks for an answer within a second. Prints the figures."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import describe_ms, stack_client

from imagegen.local.stack import LocalStack

WARMUP, POSTS = 3, 40


def ghost_event(n: int) -> bytes:
    parts = (f"<h2>Part {part} of post {n}</h2><p>Paragraph {part} of post {n}.</p>" for part in range(3))
    html = "".join(parts)
    post = {"id": f"bench{n:021d}", "status": "published", "title": f"Post {n}", "html": html}
    return json.dumps({"post": {"current": post, "previous": {}}}).encode()


def ghost_headers(secret: str, body: bytes) -> dict[str, str]:
    """As Ghost signs: sha256 = HMAC(secret, body + t), t in milliseconds."""
    at = str(int(time.time() * 1000))
    digest = hmac.new(secret.encode(), body + at.encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Ghost-Signature": f"sha256={digest}, t={at}"}


def main() -> None:
    environ = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"}
    stack = LocalStack(port=0, environ=environ).start()
    try:
        client = stack_client(stack)
        hook = client.post("/api/hooks/ghost/secret").json()
        samples = []
        for n in range(WARMUP + POSTS):
            body = ghost_event(n)
            began = time.perf_counter()
            answer = client.post(hook["url"], content=body, headers=ghost_headers(hook["secret"], body))
            elapsed = time.perf_counter() - began
            if answer.status_code != 202:
                raise RuntimeError(f"the hook answered {answer.status_code}: {answer.text}")
            if n >= WARMUP:
                samples.append(elapsed)
    finally:
        stack.stop()
    print(f"Ghost webhook -> 202 with a blog job of 4 images ({POSTS} new posts, local stack, defaults)")
    print(f"  {describe_ms(samples)}")


if __name__ == "__main__":
    main()
