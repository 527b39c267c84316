"""POST /api/icons/generate/batch (optionally awaited), cancel (POST /api/icons/batch/{batch_id}/cancel,
or /api/jobs/{job_id}/cancel), POST /api/icons/cache/clear."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from imagegen.api.http import caller_of, documented, idempotent, json_response
from imagegen.api.job_views import cancel_job
from imagegen.api.submissions import SUBMISSION_RESPONSES, answer_submission
from imagegen.logic.cache import clear_cache
from imagegen.logic.services import default_services
from imagegen.models.requests import BatchRequest
from imagegen.models.responses import CacheClearedOut, JobAcceptedOut, JobResultOut, JobStatusOut

router = Router()
# A POST with an Idempotency-Key may meet the same key still running (409) or reused (422).
_CANCEL_RESPONSES = documented(HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT, HTTPStatus.UNPROCESSABLE_ENTITY)
_CLEAR_RESPONSES = documented(HTTPStatus.CONFLICT, HTTPStatus.UNPROCESSABLE_ENTITY)


@router.post(
    "/api/icons/generate/batch",
    summary="Start a batch of icons",
    tags=["batches"],
    responses=SUBMISSION_RESPONSES,
)
def start_batch(body: BatchRequest) -> Response[JobAcceptedOut | JobResultOut]:
    return answer_submission(router, body)


def _cancel(job_id: str) -> Response[JobStatusOut]:
    return idempotent(
        router, lambda: json_response(200, cancel_job(job_id, caller_of(router), default_services()))
    )


@router.post(
    "/api/icons/batch/<batch_id>/cancel",
    summary="Cancel what has not started",
    tags=["batches"],
    responses=_CANCEL_RESPONSES,
)
def cancel_batch(batch_id: str) -> Response[JobStatusOut]:
    return _cancel(batch_id)


@router.post(
    "/api/jobs/<job_id>/cancel",
    summary="Cancel what has not started (any job)",
    tags=["jobs"],
    responses=_CANCEL_RESPONSES,
)
def cancel_any_job(job_id: str) -> Response[JobStatusOut]:
    return _cancel(job_id)


@router.post(
    "/api/icons/cache/clear",
    summary="Forget your cached requests (an admin: everyone's)",
    tags=["cache"],
    responses=_CLEAR_RESPONSES,
)
def cache_clear() -> Response[CacheClearedOut]:
    return idempotent(router, lambda: json_response(200, clear_cache(caller_of(router), default_services())))
