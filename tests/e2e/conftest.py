"""End-to-end tests: the local stack (`imagegen serve`'s code) driven over HTTP on loopback."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest

from imagegen.local.aws import FAKE_CREDENTIALS
from imagegen.local.fake_openai import FakeOpenAI
from imagegen.local.stack import LocalStack
from tests.helpers import clean_environ, token


class Client:
    """HTTP to the stack as a given user, plus a look at the emulated AWS behind it."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.http = httpx.Client(base_url=stack.url, timeout=60)

    def auth(self, sub: str = "alice") -> dict[str, str]:
        return {"Authorization": f"Bearer {token(sub, secret=self.stack.jwt_secret)}"}

    def post(self, path: str, body: Any = None, sub: str = "alice", **headers: str) -> httpx.Response:
        return self.http.post(path, json=body, headers={**self.auth(sub), **headers})

    def get(self, path: str, sub: str = "alice", **params: str) -> httpx.Response:
        return self.http.get(path, headers=self.auth(sub), params=params)

    def wait_until_done(self, status_url: str, sub: str = "alice", seconds: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.get(status_url, sub).json()
            if status["state"] not in ("queued", "running"):
                return status
            time.sleep(0.2)
        raise AssertionError(f"{status_url} did not finish in {seconds}s; last status: {status}")

    def aws(self, service: str) -> Any:
        return boto3.session.Session().client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.stack.aws.endpoint,
            region_name="us-east-1",
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def keys(self, prefix: str = "") -> list[str]:
        answer = self.aws("s3").list_objects_v2(Bucket=self.stack.resource("ImagesBucket"), Prefix=prefix)
        return sorted(obj["Key"] for obj in answer.get("Contents", []))

    def queue_depth(self, logical_id: str) -> int:
        attributes = self.aws("sqs").get_queue_attributes(
            QueueUrl=self.stack.resource(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())


def stack_for(**environ: str) -> LocalStack:
    """A stack (not started) on an ephemeral port whose functions see the template's values and
    `environ`, never the shell's (LocalStack would default to this process's environment)."""
    return LocalStack(port=0, environ=clean_environ({"RETRY_BASE_DELAY_SECONDS": "0", **environ}))


def start_stack(**environ: str) -> LocalStack:
    return stack_for(**environ).start()


@contextlib.contextmanager
def worker_disabled(stack: LocalStack) -> Iterator[None]:
    """The worker's event source disabled (as UpdateEventSourceMapping Enabled=false does): a new
    batch waits in the queue until the block ends, so a client can subscribe before its first item."""
    (source,) = (source for source in stack.event_sources if source.function.name == "WorkerFunction")
    source.disable()
    try:
        yield
    finally:
        source.enable()


_SHARED: list[Client] = []  # the default stack of this worker, while its e2e files run


@pytest.fixture(scope="module")
def client() -> Client:
    """One stack with the template's defaults, shared by the e2e files a worker runs one after another
    (each start and stop costs seconds). It is stopped before the worker runs any other kind of test
    (tests/conftest.py), so that it never runs beside them, and at the end of the session. Tests that
    need other settings start their own (start_stack)."""
    if not _SHARED:
        _SHARED.append(Client(start_stack()))
    return _SHARED[0]


def stop_shared_stack() -> None:
    if _SHARED:
        _SHARED.pop().stack.stop()


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    """The fake OpenAI server on loopback, for a module whose stack draws through the real SDK."""
    server = FakeOpenAI().start()
    yield server
    server.stop()
