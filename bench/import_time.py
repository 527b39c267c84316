"""Cold import time of each function's app.py in a fresh interpreter, and what it pulls in.

The API functions must stay light: openai and Pillow belong to the worker only.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 5
PROBE = """
import importlib.util, json, sys, time
began = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
elapsed = time.perf_counter() - began
print(json.dumps({"seconds": elapsed, "openai": "openai" in sys.modules, "PIL": "PIL" in sys.modules}))
"""
ENV = {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true", "QUEUE_URL": "http://q"}


def measure(function: str) -> tuple[float, bool, bool]:
    samples, heavy = [], (False, False)
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(ROOT / "functions" / function / "app.py")],
            capture_output=True,
            text=True,
            check=True,
            env={**ENV, "PATH": ""},
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        samples.append(result["seconds"])
        heavy = (result["openai"], result["PIL"])
    return statistics.median(samples), *heavy


def main() -> None:
    print(f"import time of functions/*/app.py (fresh interpreter, median of {RUNS})")
    for function in ("authorizer", "generate", "batch", "status", "worker"):
        seconds, openai, pil = measure(function)
        print(
            f"  {function:10s} {seconds * 1000:7.1f} ms   openai loaded: {openai!s:5s}  Pillow loaded: {pil}"
        )


if __name__ == "__main__":
    main()
