"""`imagegen serve` keeps its state in a folder: a stop (Ctrl-C) or a crash (kill -9) loses nothing,
and a batch stopped half-way finishes after the restart, each image stored once."""

from __future__ import annotations

import contextlib
import hashlib
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from imagegen.local.stack import LOCAL_JWT_SECRET
from imagegen.local.state import STATE_FILE
from tests.helpers import clean_environ, token

pytestmark = pytest.mark.e2e

CATEGORIES = ["tea", "beer", "wine", "bread", "cheese", "fish"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its new parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Served:
    """`imagegen serve` in a process of its own, as a user runs it, on a given state folder."""

    def __init__(self, state_dir: Path, log: Path) -> None:
        self.state_dir, self.log, self.port = state_dir, log, _free_port()
        env = clean_environ(RETRY_BASE_DELAY_SECONDS="0")
        # Its own WebSocket port too: the next port after a free one may be taken.
        self.ws_port = _free_port()
        command = [sys.executable, "-m", "imagegen.cli", "serve", "--port", str(self.port)]
        command += ["--ws-port", str(self.ws_port)]
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "--state-dir", str(state_dir)], stdout=out, stderr=subprocess.STDOUT, env=env
            )
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {token('alice', secret=LOCAL_JWT_SECRET)}"},
            timeout=60,
            follow_redirects=True,  # an image URL sends to its presigned link
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            if f"ready on http://127.0.0.1:{self.port}" in self.log.read_text():
                return
            time.sleep(0.2)
        raise AssertionError(f"not ready in 120 s: {self.log.read_text()[-3000:]}")

    def banner_data_line(self) -> str:
        return next(line for line in self.log.read_text().splitlines()[::-1] if line.startswith("  data:"))

    def get(self, path: str) -> Any:
        answer = self.http.get(path)
        assert answer.status_code == 200, answer.text
        return answer.json() if "json" in answer.headers["content-type"] else answer.content

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(path, json=body)
        assert answer.status_code in (200, 202), answer.text
        result: dict[str, Any] = answer.json()
        return result

    def wait(self, batch_id: str, until: Any, seconds: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.get(f"/api/icons/batch/{batch_id}/status")
            if until(status):
                return status
            time.sleep(0.1)
        raise AssertionError(f"batch {batch_id} not there in {seconds}s: {status}")

    def interrupt(self) -> None:
        """Ctrl-C, and wait for the stack to stop by itself."""
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(60) == 0, self.log.read_text()[-3000:]
        self.http.close()

    def descendants(self) -> set[int]:
        """The processes `imagegen serve` started (the emulated AWS, the fork server, the functions'
        containers), and theirs."""
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        found, frontier = set(), {self.process.pid}
        while frontier:
            frontier = {pid for pid, parent in parents.items() if parent in frontier}
            found |= frontier
        return found

    def kill(self) -> None:
        """kill -9 of the `imagegen serve` process alone: the processes it started end by themselves."""
        children = self.descendants()
        assert len(children) > 3, "the stack runs its emulated AWS and containers in processes of their own"
        self.process.kill()
        self.process.wait(10)
        self.http.close()
        deadline = time.monotonic() + 10
        while (alive := {pid for pid in children if _running(pid)}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive, f"left running after the stack was killed: {alive}"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def _ended(status: dict[str, Any]) -> bool:
    return status["state"] not in ("queued", "running")


def _snapshot(served: Served, batch_id: str) -> dict[str, Any]:
    """Everything a user can see of a batch: status, result, listing, stats, the images' bytes."""
    result = served.get(f"/api/icons/batch/{batch_id}/result")
    images = {
        item["key"]: hashlib.sha256(served.get(item["image_url"])).hexdigest() for item in result["items"]
    }
    metadata = {item["key"]: served.get(item["metadata_url"]) for item in result["items"]}
    for item in result["items"]:  # presigned links are minted per answer, not stored state
        for volatile in ("download_url", "metadata_download_url", "download_url_expires_at"):
            item.pop(volatile, None)
    listing = served.get("/api/jobs")
    return {
        "status": served.get(f"/api/icons/batch/{batch_id}/status"),
        "result": result,
        "listed": [job for job in listing["batches"] if job["batch_id"] == batch_id],
        "stats": served.get("/api/icons/stats"),
        "images": images,
        "metadata": metadata,
    }


def _stored_keys(state_dir: Path, batch_id: str) -> list[str]:
    """The objects of a batch in the state file itself (read once the stack is stopped)."""
    with sqlite3.connect(state_dir / STATE_FILE) as db:
        rows = db.execute("SELECT key FROM objects WHERE key LIKE ?", (f"%{batch_id}%",)).fetchall()
    return sorted(key for (key,) in rows)


def test_a_stopped_stack_comes_back_with_its_batches_images_listing_and_stats(
    state_dir: Path, tmp_path: Path
) -> None:
    served = Served(state_dir, tmp_path / "serve.log")
    batch = served.post(
        "/api/icons/generate/batch", {"categories": CATEGORIES[:2], "variations_per_category": 2}
    )
    served.wait(batch["batch_id"], _ended)
    before = _snapshot(served, batch["batch_id"])
    assert before["status"]["state"] == "completed" and len(before["images"]) == 4
    served.interrupt()

    again = Served(state_dir, tmp_path / "serve.log")
    try:
        assert ", 8 objects," in again.banner_data_line()  # 4 images and their metadata
        after = _snapshot(again, batch["batch_id"])
        assert after == before
        # and it goes on working where it stopped
        more = again.post("/api/icons/generate/batch", {"categories": ["salt"]})
        assert again.wait(more["batch_id"], _ended)["state"] == "completed"
        _a_second_stack_on_the_folder_is_refused(state_dir)
    finally:
        again.interrupt()


def _a_second_stack_on_the_folder_is_refused(state_dir: Path) -> None:
    env = clean_environ()
    port = str(_free_port())
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "imagegen.cli",
            "serve",
            "--port",
            port,
            "--ws-port",
            str(_free_port()),
            "--state-dir",
            str(state_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert second.returncode == 1, second.stderr
    assert f"the state folder {state_dir} is in use by imagegen serve (pid" in second.stderr


def test_a_batch_killed_half_way_finishes_after_the_restart_each_image_once(
    state_dir: Path, tmp_path: Path
) -> None:
    served = Served(state_dir, tmp_path / "serve.log")
    stats_before = served.get("/api/icons/stats")
    batch = served.post("/api/icons/generate/batch", {"categories": CATEGORIES, "variations_per_category": 2})
    total = len(CATEGORIES) * 2
    batch_id = batch["batch_id"]
    part = served.wait(batch_id, lambda status: status["counts"]["completed"] >= 2)
    served.kill()
    assert part["counts"]["completed"] < total, "the batch ended before the kill: make it longer"

    again = Served(state_dir, tmp_path / "serve.log")
    try:
        status = again.wait(batch_id, _ended, seconds=180)
        assert status["state"] == "completed", status
        assert status["counts"] == {
            "total": total,
            "completed": total,
            "failed": 0,
            "cancelled": 0,
            "pending": 0,
        }
        result = again.get(f"/api/icons/batch/{batch_id}/result")
        keys = [item["key"] for item in result["items"]]
        assert len(set(keys)) == total and all(item["state"] == "completed" for item in result["items"])
        for item in result["items"]:
            assert again.get(item["image_url"])[:8] == b"\x89PNG\r\n\x1a\n"
        stats = again.get("/api/icons/stats")
        assert stats["completed"] - stats_before["completed"] == total, stats
    finally:
        again.interrupt()
    stored = _stored_keys(state_dir, batch_id)
    assert stored == sorted([*keys, *(key.removesuffix(".png") + "_metadata.json" for key in keys)])
