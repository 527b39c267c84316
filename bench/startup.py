"""Time from `make serve` to a ready local stack, and from Ctrl-C to stopped. Prints the figures."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import free_port

ROOT = Path(__file__).resolve().parents[1]
RUNS = 3


def one_run() -> tuple[float, float]:
    port = free_port()
    began = time.perf_counter()
    state = tempfile.mkdtemp(prefix="imagegen-bench-")  # not the project's .imagegen, which may be in use
    process = subprocess.Popen(
        ["make", "--no-print-directory", "serve", f"PORT={port}"],
        cwd=ROOT,
        env={**os.environ, "LOCAL_STATE_DIR": state},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while True:
            try:
                # Ready = the front answers and runs the authorizer path (401 without a token).
                if httpx.get(f"http://127.0.0.1:{port}/api/icons/batches", timeout=1).status_code == 401:
                    break
            except httpx.TransportError:
                pass
            if time.perf_counter() - began > 120:
                raise SystemExit("the local stack did not become ready in 120 s")
            time.sleep(0.05)
        ready = time.perf_counter() - began
        stop_began = time.perf_counter()
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group: make and imagegen
        process.wait(timeout=60)
        return ready, time.perf_counter() - stop_began
    finally:
        if process.poll() is None:
            process.kill()


def main() -> None:
    subprocess.run(["make", "--no-print-directory", ".venv/bin/imagegen"], cwd=ROOT, check=True)
    runs = [one_run() for _ in range(RUNS)]
    ready = [r for r, _ in runs]
    stop = [s for _, s in runs]
    print("startup (make serve -> first answer from the HTTP front; .venv already present)")
    print(f"  ready:  median {statistics.median(ready):.2f} s  runs {', '.join(f'{r:.2f}' for r in ready)}")
    print(f"  Ctrl-C: median {statistics.median(stop):.2f} s  runs {', '.join(f'{s:.2f}' for s in stop)}")


if __name__ == "__main__":
    main()
