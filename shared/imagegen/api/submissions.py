"""One answer for every route that creates a job, single requests and batches alike."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from imagegen.api.http import caller_of, documented, idempotent, json_response, prefer_wait
from imagegen.api.job_views import submit
from imagegen.logic.services import default_services
from imagegen.models.requests import BatchRequest, BlogImageRequest, IconRequest
from imagegen.models.responses import JobAcceptedOut, JobResultOut

_APPLIED: dict[str, Any] = {
    "Preference-Applied": {"description": "The wait honoured, as wait=N", "schema": {"type": "string"}}
}
_LOCATION: dict[str, Any] = {
    "Location": {"description": "The job's status URL", "schema": {"type": "string"}, "required": True}
}
# The statuses of a route that creates a job: a body that is not JSON, an Idempotency-Key still
# running or reused with another body, a blog filename taken, the budget or the daily quota passed.
SUBMISSION_RESPONSES = documented(
    HTTPStatus.CONFLICT,
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    HTTPStatus.UNPROCESSABLE_ENTITY,
    HTTPStatus.TOO_MANY_REQUESTS,
    ok={
        200: {
            "description": "The job ended within the wait asked for with Prefer: wait=N",
            "headers": _APPLIED,
            "content": {content_types.APPLICATION_JSON: {"model": JobResultOut}},
        },
        202: {
            "description": "Queued: poll status_url (also in Location)",
            "headers": {**_LOCATION, **_APPLIED},
            "content": {content_types.APPLICATION_JSON: {"model": JobAcceptedOut}},
        },
    },
)


def answer_submission(
    router: Router, request: IconRequest | BlogImageRequest | BatchRequest
) -> Response[JobAcceptedOut | JobResultOut]:
    """Create the job (once per Idempotency-Key). With `Prefer: wait=N` wait up to N s, at most 25, for
    it to end: 200 with its result, else 202 with a Location to poll; `Preference-Applied` names the
    wait honoured (RFC 7240)."""

    def answer() -> Response[JobAcceptedOut | JobResultOut]:
        wait = prefer_wait(router)
        outcome = submit(request, caller_of(router), wait, default_services())
        applied = {"Preference-Applied": f"wait={wait}"} if wait else {}
        if isinstance(outcome, JobAcceptedOut):
            return json_response(202, outcome, headers={"Location": outcome.status_url, **applied})
        return json_response(200, outcome, headers=applied)

    return idempotent(router, answer)
