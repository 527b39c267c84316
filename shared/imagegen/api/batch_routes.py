"""POST /api/icons/generate/batch, POST /api/icons/batch/{batch_id}/cancel, POST /api/icons/cache/clear."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from imagegen.api.http import caller_of, idempotent, json_response
from imagegen.logic.cache import clear_cache
from imagegen.logic.jobs import cancel_job, create_job
from imagegen.logic.services import default_services
from imagegen.models.requests import BatchRequest
from imagegen.models.responses import CacheClearedOut, JobAcceptedOut, JobStatusOut

router = Router()


@router.post("/api/icons/generate/batch", summary="Start a batch of icons", tags=["batches"])
def start_batch(body: BatchRequest) -> Response[JobAcceptedOut]:
    def answer() -> Response[JobAcceptedOut]:
        accepted = create_job(body, caller_of(router), default_services())
        return json_response(202, accepted, headers={"Location": accepted.status_url})

    return idempotent(router, answer)


@router.post("/api/icons/batch/<batch_id>/cancel", summary="Cancel what has not started", tags=["batches"])
def cancel_batch(batch_id: str) -> Response[JobStatusOut]:
    return idempotent(
        router, lambda: json_response(200, cancel_job(batch_id, caller_of(router), default_services()))
    )


@router.post(
    "/api/icons/cache/clear", summary="Forget your cached requests (an admin: everyone's)", tags=["cache"]
)
def cache_clear() -> Response[CacheClearedOut]:
    return idempotent(router, lambda: json_response(200, clear_cache(caller_of(router), default_services())))
