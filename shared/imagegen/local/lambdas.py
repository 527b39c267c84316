"""Lambda-like execution: each function runs in its own spawned processes, one invocation at a time.

Powertools keeps the current request on a class attribute, so two invocations may never share a
process; in AWS each container also serves one invocation at a time. Spawned processes give the
same isolation (and real parallelism for the image rendering).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import signal
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

_handler: Any = None
_function_name = ""
_timeout = 0


class LocalContext:
    """The attributes of a Lambda context object that Powertools and handlers read."""

    def __init__(self, function_name: str, timeout_seconds: int, memory_mb: int = 512) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(code_dir: Path) -> Any:
    """Import `app.py` from a function's folder as Lambda does (a top-level module named app)."""
    spec = importlib.util.spec_from_file_location("app", code_dir / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"no app.py in {code_dir}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    return module.lambda_handler


def _start_container(function_name: str, code_dir: str, env: dict[str, str], timeout: int) -> None:
    global _handler, _function_name, _timeout
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when containers stop
    os.environ.clear()  # noqa: TID251 - a function sees exactly its configured environment
    os.environ.update(env)  # noqa: TID251 - this is the emulated Lambda runtime setting a function's env
    _handler, _function_name, _timeout = load_handler(Path(code_dir)), function_name, timeout


def _invoke(event: dict[str, Any]) -> Any:
    return _handler(event, LocalContext(_function_name, _timeout))


def _warm() -> bool:
    return _handler is not None


class LambdaFunction:
    """One function's containers; `invoke` blocks until a container has handled the event."""

    def __init__(self, name: str, code_dir: Path, env: dict[str, str], timeout: int, containers: int) -> None:
        self.name, self.timeout = name, timeout
        self._pool = ProcessPoolExecutor(
            max_workers=containers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_container,
            initargs=(name, str(code_dir), env, timeout),
        )

    def warm(self) -> Any:
        return self._pool.submit(_warm)

    def invoke(self, event: dict[str, Any]) -> Any:
        return self._pool.submit(_invoke, event).result(timeout=self.timeout + 30)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
