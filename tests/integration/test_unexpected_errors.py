"""Errors outside the domain map (an AWS error, a bug): a JSON 500 without internals, logged with
the request id."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from imagegen.dal.jobs_table import JobsTable
from imagegen.local.lambdas import LocalContext
from tests.helpers import http_event
from tests.integration.conftest import Deployed

# What an AWS error says names the table and the role: none of it may reach the caller.
SECRET_DETAIL = "arn:aws:dynamodb:us-east-1:123456789012:table/imagegen-jobs-secret-name"


def _access_denied(*_: Any, **__: Any) -> None:
    message = f"not authorized to perform PutItem on {SECRET_DETAIL}"
    raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, "PutItem")


def _bug(*_: Any, **__: Any) -> None:
    raise RuntimeError(f"unexpected state in {SECRET_DETAIL}")


def _call(
    deployed: Deployed, function: str, event: dict[str, Any], request_id: str
) -> tuple[int, dict[str, str], Any]:
    event["requestContext"]["requestId"] = request_id
    response = deployed.handlers[function](event, LocalContext(function, 29))
    return response["statusCode"], response["headers"], json.loads(response["body"])


@pytest.mark.parametrize(
    ("method", "fails", "function", "path"),
    [
        ("create", _access_denied, "generate", "/api/icons/generate"),
        ("create", _bug, "batch", "/api/icons/generate/batch"),
        ("get_job", _access_denied, "status", "/api/jobs/0123456789abcdef0123456789abcdef"),
    ],
)
def test_an_error_outside_the_map_is_a_json_500_logged_with_the_request_id(
    deployed: Deployed,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
    fails: Any,
    function: str,
    path: str,
) -> None:
    # Given a table call that fails as AWS or a bug would make it fail
    monkeypatch.setattr(JobsTable, method, fails)
    body = {"categories": ["tools"]} if function == "batch" else {"category": "tools"}
    if function == "status":
        event = http_event("GET", path, path_parameters={"job_id": path.rsplit("/", 1)[1]})
    else:
        event = http_event("POST", path, body=body)
    # When a request reaches it
    code, headers, answer = _call(deployed, function, event, "req-7f3a")
    # Then the caller gets the JSON contract, the request id to quote, and nothing of the error
    assert code == 500
    assert headers["Content-Type"] == "application/json"
    assert answer == {
        "error": "internal_error",
        "message": "something went wrong on our side; it was logged with request id req-7f3a",
    }
    # And the log has the error with its traceback under that request id
    failures = [record for record in caplog.records if record.getMessage() == "request failed"]
    assert len(failures) == 1
    assert failures[0].__dict__["request_id"] == "req-7f3a" and failures[0].levelname == "ERROR"
    assert failures[0].exc_info is not None and SECRET_DETAIL in str(failures[0].exc_info[1])
    assert deployed.queue_depth() == 0


def test_a_request_without_an_authorized_caller_is_a_json_500(
    deployed: Deployed, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an event that reached a handler with no caller (a misconfigured route: PermissionError)
    event = http_event("POST", "/api/icons/generate", body={"category": "tools"})
    event["requestContext"]["authorizer"] = {"lambda": {}}
    code, _, answer = _call(deployed, "generate", event, "req-no-caller")
    assert (code, answer["error"]) == (500, "internal_error")
    assert "authorized" not in answer["message"]
    assert [record.__dict__.get("request_id") for record in caplog.records if record.exc_info] == [
        "req-no-caller"
    ]
    assert deployed.queue_depth() == 0 and deployed.table_rows() == 0
