"""The Python client as a package of its own: installable without the server's dependencies, and
its core's decisions (configuration, retries, errors, file layout) without any network."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from imagegen_client import (
    Client,
    ConfigurationError,
    ConnectionFailed,
    IconRequest,
    ImagegenError,
    RateLimited,
    RetryPolicy,
    ServerError,
    Unauthorized,
    _core,
)
from imagegen_client.errors import error_for, retry_after_of

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return match.group(0).lower()


def test_the_package_depends_on_httpx_and_pydantic_only() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert {_name(requirement) for requirement in project["dependencies"]} == {"httpx", "pydantic"}
    extras = project.get("optional-dependencies", {})
    assert {_name(requirement) for group in extras.values() for requirement in group} <= {"websockets"}


PROBE = """
import importlib, json, pkgutil, sys
import imagegen_client
for module in pkgutil.walk_packages(imagegen_client.__path__, "imagegen_client."):
    importlib.import_module(module.name)
server = sorted(name for name in sys.modules if name == "imagegen" or name.startswith("imagegen."))
heavy = sorted(name for name in ("boto3", "aws_lambda_powertools", "openai", "PIL") if name in sys.modules)
print(json.dumps([server, heavy]))
"""


def test_importing_the_client_loads_nothing_of_the_server() -> None:
    # Every module of the package, imported in a fresh interpreter with nothing from the shell
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(CLIENT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [[], []]


# --- configuration ------------------------------------------------------------------------------


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGEGEN_URL", "http://from-env:1/")
    monkeypatch.setenv("IMAGEGEN_TOKEN", "env-token")
    assert _core.resolve_config(None, None) == ("http://from-env:1", "env-token")
    assert _core.resolve_config("http://arg:2", "arg-token") == ("http://arg:2", "arg-token")
    assert _core.resolve_config("http://arg:2", "") == ("http://arg:2", "")  # "" means: no token


def test_no_url_anywhere_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMAGEGEN_URL", raising=False)
    with pytest.raises(ConfigurationError, match="IMAGEGEN_URL"):
        Client()


def test_the_token_goes_to_the_service_never_to_presigned_urls() -> None:
    service = _core.headers_for(_core.Call("GET", "/api/jobs"), "secret")
    presigned = _core.headers_for(_core.Call("GET", "http://s3/x?sig=1", authenticated=False), "secret")
    assert service["Authorization"] == "Bearer secret" and "Authorization" not in presigned


# --- retries, driven as a driver would, with scripted outcomes ------------------------------------


def drive(plan: Any, outcomes: list[httpx.Response | Exception]) -> tuple[Any, list[Any]]:
    """Run a plan against scripted call outcomes; the effects it yielded, and its value."""
    effects: list[Any] = []
    pending = iter(outcomes)
    try:
        effect = next(plan)
        while True:
            effects.append(effect)
            if isinstance(effect, _core.Call):
                outcome = next(pending)
                effect = plan.throw(outcome) if isinstance(outcome, Exception) else plan.send(outcome)
            else:
                if isinstance(effect, _core.Report):
                    effect.callback(effect.progress)
                effect = plan.send(None)
    except StopIteration as done:
        return done.value, effects


def answer(status: int, body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {}, headers=headers)


ACCEPTED = {"batch_id": "b1", "state": "queued", "total": 1, "status_url": "/s", "result_url": "/r"}


def test_a_create_is_retried_under_one_key_honouring_retry_after() -> None:
    plan = _core.create(IconRequest(category="pens"), 0, None, RetryPolicy(attempts=4))
    outcomes: list[httpx.Response | Exception] = [
        httpx.ConnectError("refused"),
        answer(429, {"error": "x", "message": "slow down"}, **{"Retry-After": "7"}),
        answer(503, {"error": "internal_error", "message": "down"}),
        answer(202, ACCEPTED),
    ]
    value, effects = drive(plan, outcomes)

    assert value.batch_id == "b1"
    calls = [effect for effect in effects if isinstance(effect, _core.Call)]
    assert len(calls) == 4 and len({call.headers["Idempotency-Key"] for call in calls}) == 1
    pauses = [effect.seconds for effect in effects if isinstance(effect, _core.Sleep)]
    assert pauses[1] == 7  # the service's Retry-After, as given
    assert 0.25 <= pauses[0] <= 0.5 and 1.0 <= pauses[2] <= 2.0  # jittered, doubling by attempt


def test_retries_are_bounded_and_end_in_the_typed_error() -> None:
    down = answer(503, {"error": "internal_error", "message": "down"})
    with pytest.raises(ServerError) as failed:
        drive(_core.stats(RetryPolicy(attempts=3)), [down, down, down])
    assert failed.value.status == 503 and failed.value.code == "internal_error"
    with pytest.raises(ConnectionFailed):
        drive(_core.stats(RetryPolicy(attempts=2)), [httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow")])


def test_a_quota_that_frees_tomorrow_is_not_waited_for() -> None:
    quota = answer(429, {"error": "quota_exceeded", "message": "spent"}, **{"Retry-After": "40000"})
    with pytest.raises(RateLimited) as limited:
        drive(_core.stats(RetryPolicy()), [quota])
    assert limited.value.retry_after == 40000 and limited.value.code == "quota_exceeded"


def test_a_refusal_is_never_retried() -> None:
    with pytest.raises(Unauthorized) as refused:
        drive(_core.stats(RetryPolicy()), [answer(401, {"message": "Unauthorized"})])
    assert refused.value.code is None and refused.value.message == "Unauthorized"


def test_retry_after_as_an_http_date() -> None:
    response = answer(
        503, Date="Sun, 22 Nov 2026 06:00:00 GMT", **{"Retry-After": "Sun, 22 Nov 2026 06:00:30 GMT"}
    )
    assert retry_after_of(response) == 30
    assert isinstance(error_for(httpx.Response(418, text="teapot")), ImagegenError)


# --- waiting and files ------------------------------------------------------------------------


def status_body(state: str, completed: int) -> dict[str, Any]:
    return {
        "batch_id": "b1",
        "kind": "batch",
        "state": state,
        "counts": {"total": 2, "completed": completed, "failed": 0, "cancelled": 0, "pending": 2 - completed},
        "percent": 50.0 * completed,
        "created_at": "2026-11-22T06:00:00Z",
        "updated_at": "2026-11-22T06:00:00Z",
        "started_at": None,
        "finished_at": None,
        "billed_calls": 0,
        "status_url": "/api/icons/batch/b1/status",
        "result_url": "/api/icons/batch/b1/result",
    }


def test_polling_honours_the_service_hint_and_reports_each_change_once() -> None:
    seen: list[str] = []
    options = _core.WaitOptions(live=False, poll_interval=0.5)
    plan = _core.wait("b1", options, lambda progress: seen.append(progress.state), RetryPolicy())
    outcomes: list[httpx.Response | Exception] = [
        answer(200, status_body("running", 0), **{"Retry-After": "3"}),
        answer(200, status_body("running", 0)),
        answer(200, status_body("running", 1)),
        answer(200, status_body("completed", 2)),
    ]
    value, effects = drive(plan, outcomes)
    assert value.state == "completed"
    assert [effect.seconds for effect in effects if isinstance(effect, _core.Sleep)] == [3, 0.75, 1.125]
    assert seen == ["running", "running", "completed"]  # the repeated status is not reported twice


def test_without_a_websocket_ticket_wait_polls() -> None:
    # The ticket route fails (a deployment without WEBSOCKET_URL answers 500): one try, then polling
    plan = _core.wait("b1", _core.WaitOptions(live=True), None, RetryPolicy())
    outcomes: list[httpx.Response | Exception] = [
        answer(500, {"error": "internal_error", "message": "no WebSocket here"}),
        answer(200, status_body("completed", 2)),
    ]
    value, effects = drive(plan, outcomes)
    calls = [(effect.method, effect.url) for effect in effects if isinstance(effect, _core.Call)]
    assert calls == [("POST", "/api/ws/ticket"), ("GET", "/api/jobs/b1")]
    assert value.state == "completed"


@pytest.mark.parametrize("key", ["../escape.png", "/etc/passwd", "posts/../../x.png", ""])
def test_a_stored_key_cannot_write_outside_the_folder(key: str, tmp_path: Path) -> None:
    with pytest.raises(ImagegenError, match="outside"):
        _core.local_path(tmp_path, key)


def test_the_metadata_lies_beside_its_image() -> None:
    assert (
        _core.metadata_key("posts/53/sections/2/raw/hero.png") == "posts/53/sections/2/raw/hero_metadata.json"
    )
