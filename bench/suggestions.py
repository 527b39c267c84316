"""Category suggestion latency: in-process, and over the local stack's HTTP front (per keystroke)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import describe_ms

from imagegen.config import Settings
from imagegen.local.stack import LocalStack
from imagegen.logic.auth import mint_token
from imagegen.logic.categories import suggestions

TYPED = [
    "office supplies",
    "electrnics",
    "auto parts",
    "jewellery",
    "pet food",
    "garden furniture",
    "ofice suplies",
    "womens shoes",
    "kitchenware",
    "video games",
]


def keystrokes() -> list[str]:
    """Every prefix of every word list, as a user types it."""
    return [text[:n] for text in TYPED for n in range(2, len(text) + 1)]


def main() -> None:
    queries = keystrokes()
    suggestions("warm up", 8)
    in_process = []
    for query in queries * 3:
        began = time.perf_counter()
        suggestions(query, 8)
        in_process.append(time.perf_counter() - began)
    stack = LocalStack(port=0, environ={**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"}).start()
    try:
        token = mint_token(Settings(), "bench", stack.jwt_secret)
        client = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        for query in queries[:20]:
            client.get("/api/icons/categories/suggestions", params={"q": query})  # warm the containers
        over_http = []
        for query in queries * 2:
            began = time.perf_counter()
            answer = client.get("/api/icons/categories/suggestions", params={"q": query})
            over_http.append(time.perf_counter() - began)
            assert answer.status_code == 200, answer.text
    finally:
        stack.stop()
    print(f"category suggestions, one request per keystroke ({len(queries)} prefixes of {len(TYPED)} inputs)")
    print(f"  in-process                 {describe_ms(in_process)}")
    print(f"  over the local HTTP front  {describe_ms(over_http)}")


if __name__ == "__main__":
    main()
