"""POST /api/icons/generate/batch (optionally awaited), cancel (POST /api/icons/batch/{batch_id}/cancel,
or /api/jobs/{job_id}/cancel), POST /api/icons/cache/clear."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from imagegen.api.http import caller_of, idempotent, json_response
from imagegen.api.job_views import cancel_job
from imagegen.api.submissions import answer_submission
from imagegen.logic.cache import clear_cache
from imagegen.logic.services import default_services
from imagegen.models.requests import BatchRequest
from imagegen.models.responses import CacheClearedOut, JobAcceptedOut, JobResultOut, JobStatusOut

router = Router()


@router.post("/api/icons/generate/batch", summary="Start a batch of icons", tags=["batches"])
def start_batch(body: BatchRequest) -> Response[JobAcceptedOut | JobResultOut]:
    return answer_submission(router, body)


def _cancel(job_id: str) -> Response[JobStatusOut]:
    return idempotent(
        router, lambda: json_response(200, cancel_job(job_id, caller_of(router), default_services()))
    )


@router.post("/api/icons/batch/<batch_id>/cancel", summary="Cancel what has not started", tags=["batches"])
def cancel_batch(batch_id: str) -> Response[JobStatusOut]:
    return _cancel(batch_id)


@router.post("/api/jobs/<job_id>/cancel", summary="Cancel what has not started (any job)", tags=["jobs"])
def cancel_any_job(job_id: str) -> Response[JobStatusOut]:
    return _cancel(job_id)


@router.post(
    "/api/icons/cache/clear", summary="Forget your cached requests (an admin: everyone's)", tags=["cache"]
)
def cache_clear() -> Response[CacheClearedOut]:
    return idempotent(router, lambda: json_response(200, clear_cache(caller_of(router), default_services())))
