"""Lambda-like execution: each function runs in processes of its own, one invocation at a time.

Powertools keeps the current request on a class attribute, so two invocations may never share a
process; in AWS each container also serves one invocation at a time. Separate processes give the
same isolation (and real parallelism for the image rendering).

Containers are forked from multiprocessing's fork server, which has imported the libraries every
function loads (boto3, Powertools, pydantic, ...) once: a stack starts a dozen containers, and with
plain spawn each paid about a second of CPU re-importing them. A container still has its own process
and environment and imports its own handler and imagegen's modules (some read settings at import),
as a Lambda container does.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

# How long `close` lets running invocations finish before it kills their containers.
CLOSE_GRACE_SECONDS = 5.0
STACK_CHECK_SECONDS = 1.0

# None of these reads the environment at import: each container sets its own after the fork.
_PRELOADED = [
    "boto3",
    "botocore.session",
    "botocore.client",
    "pydantic",
    "pydantic_settings",
    "jwt",
    "httpx",
    "openai",
    "PIL.Image",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.data_classes",
    # Powertools' Tracer builds the X-Ray recorder even when tracing is off, and the recorder makes
    # two botocore clients: about a second per container, spent once here instead.
    "aws_xray_sdk.core",
    # imagegen's modules that only define models and tables (no Logger, Metrics or settings read at
    # import); the rest is imported by each container, under its own environment.
    "imagegen.models.requests",
    "imagegen.models.responses",
    "imagegen.models.domain",
    "imagegen.models.progress",
    "imagegen.models.websocket",
    "imagegen.models.hooks",
    "imagegen.models.manifests",
    "imagegen.models.webhooks",
    "imagegen.config",
    "imagegen.errors",
    "imagegen.providers.registry",
    "imagegen.templates",
]
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(_PRELOADED)

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


def _alive(pid: int) -> bool:
    """Whether process `pid` runs: a stack killed with SIGKILL may wait as a zombie until its parent
    reaps it, which os.kill alone takes for alive (/proc tells, where there is one)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _end_with_the_stack(stack_pid: int) -> None:
    """A container outlives a stack killed with SIGKILL (nothing closes its pool); it ends itself.
    It watches the stack's process, not its parent: its parent is the fork server, which ends only
    once no container holds the stack's end of its pipe."""
    while _alive(stack_pid):
        time.sleep(STACK_CHECK_SECONDS)
    os._exit(1)


def _start_container(
    function_name: str, code_dir: str, env: dict[str, str], timeout: int, stack_pid: int
) -> None:
    global _handler, _function_name, _timeout
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when containers stop
    threading.Thread(target=_end_with_the_stack, args=(stack_pid,), daemon=True).start()
    os.environ.clear()  # noqa: TID251 - a function sees exactly its configured environment
    os.environ.update(env)  # noqa: TID251 - this is the emulated Lambda runtime setting a function's env
    _handler, _function_name, _timeout = load_handler(Path(code_dir)), function_name, timeout


def _invoke(event: dict[str, Any]) -> Any:
    return _handler(event, LocalContext(_function_name, _timeout))


def _warm() -> bool:
    return _handler is not None


class LambdaFunction:
    """One function's containers, started on demand as Lambda's cold starts are.

    The pool starts a process for a submitted invocation only when none is idle (Python 3.11's
    ProcessPoolExecutor), up to `containers`; each loads the handler once.
    """

    def __init__(self, name: str, code_dir: Path, env: dict[str, str], timeout: int, containers: int) -> None:
        self.name, self.timeout, self.containers = name, timeout, containers
        self._pool = ProcessPoolExecutor(
            max_workers=containers,
            mp_context=_CONTEXT,
            initializer=_start_container,
            initargs=(name, str(code_dir), env, timeout, os.getpid()),
        )

    def warm(self, containers: int = 1) -> list[Future[bool]]:
        """Start up to `containers` containers now; each future is done once a loaded container ran it."""
        return [self._pool.submit(_warm) for _ in range(min(containers, self.containers))]

    def submit(self, event: dict[str, Any]) -> Future[Any]:
        """Invoke without waiting: the future holds the handler's answer or its exception."""
        return self._pool.submit(_invoke, event)

    def invoke(self, event: dict[str, Any]) -> Any:
        """Invoke and wait for the handler's answer (its exception is raised here)."""
        return self.submit(event).result(timeout=self.timeout + 30)

    def close(self, grace_seconds: float = CLOSE_GRACE_SECONDS) -> None:
        """Stop the containers; running invocations get `grace_seconds` to end, then are killed."""
        containers = list((self._pool._processes or {}).values())  # None once the pool is shut down
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace_seconds
        for container in containers:
            container.join(max(0.0, deadline - time.monotonic()))
        for container in containers:
            if container.is_alive():
                container.terminate()
                container.join(5)
