"""Reads: job status, result and list (under /api/icons/batch... and the neutral /api/jobs...),
stored images, and the OpenAPI document."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from imagegen.api.http import caller_of, documented, json_response
from imagegen.api.job_views import job_result, job_status, list_jobs
from imagegen.logic.cache import list_cached
from imagegen.logic.categories import suggestions
from imagegen.logic.images import image_link, image_location
from imagegen.logic.job_reads import MAX_PAGE
from imagegen.logic.services import default_services
from imagegen.logic.usage import stats
from imagegen.models.responses import (
    CachedListOut,
    ImageLinkOut,
    JobListOut,
    JobResultOut,
    JobStatusOut,
    StatsOut,
    SuggestionsOut,
)
from imagegen.paths import IMAGES_PREFIX

router = Router()
# Every listing pages alike: the page size asked (20 unless said) and the cursor the last page gave.
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=2048)]
DEFAULT_PAGE_SIZE = 20
_ONE_JOB = documented(HTTPStatus.NOT_FOUND)
_READ = documented()
_IMAGE = documented(
    HTTPStatus.NOT_FOUND,
    ok={
        200: {
            "description": "With Accept: application/json, the presigned URL and its expiry",
            "content": {content_types.APPLICATION_JSON: {"model": ImageLinkOut}},
        },
        302: {
            "description": "A redirect to a presigned URL of the image (no token needed)",
            "headers": {"Location": {"description": "The presigned URL", "schema": {"type": "string"}}},
        },
    },
)


@router.get(
    "/api/icons/batch/<batch_id>/status",
    summary="A batch's state and counts",
    tags=["batches"],
    responses=_ONE_JOB,
)
def batch_status(batch_id: str) -> Response[JobStatusOut]:
    return json_response(200, job_status(batch_id, caller_of(router), default_services()))


@router.get(
    "/api/icons/batch/<batch_id>/result",
    summary="Every item of a batch",
    tags=["batches"],
    responses=_ONE_JOB,
)
def batch_result(batch_id: str) -> Response[JobResultOut]:
    return json_response(200, job_result(batch_id, caller_of(router), default_services()))


@router.get(
    "/api/icons/batches", summary="The caller's batches, newest first", tags=["batches"], responses=_READ
)
def batches(
    limit: PageSize = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Response[JobListOut]:
    return json_response(200, list_jobs(caller_of(router), limit, cursor, default_services()))


@router.get(
    "/api/jobs/<job_id>",
    summary="A job's state and counts (icons or blog images)",
    tags=["jobs"],
    responses=_ONE_JOB,
)
def job_state(job_id: str) -> Response[JobStatusOut]:
    return json_response(200, job_status(job_id, caller_of(router), default_services()))


@router.get("/api/jobs/<job_id>/result", summary="Every item of a job", tags=["jobs"], responses=_ONE_JOB)
def job_items(job_id: str) -> Response[JobResultOut]:
    return json_response(200, job_result(job_id, caller_of(router), default_services()))


@router.get("/api/jobs", summary="The caller's jobs, newest first", tags=["jobs"], responses=_READ)
def jobs(
    limit: PageSize = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Response[JobListOut]:
    return batches(limit, cursor)


@router.get(
    "/api/icons/cached", summary="Your cached requests, newest first", tags=["cache"], responses=_READ
)
def cached(
    limit: PageSize = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Response[CachedListOut]:
    return json_response(200, list_cached(caller_of(router), limit, cursor, default_services()))


@router.get(
    "/api/icons/stats",
    summary="Your generation figures (an admin: everyone's)",
    tags=["stats"],
    responses=_READ,
)
def usage_stats() -> Response[StatsOut]:
    return json_response(200, stats(caller_of(router), default_services()))


@router.get(
    "/api/icons/categories/suggestions",
    summary="Categories ranked for what was typed",
    tags=["icons"],
    responses=_READ,
)
def category_suggestions(
    q: Annotated[str, Query(min_length=1, max_length=100)],
    limit: Annotated[int, Query(ge=1, le=20)] = 8,
) -> Response[SuggestionsOut]:
    caller_of(router)  # authorized callers only, like every route
    return json_response(200, suggestions(q, limit))


# A key has slashes (posts/53/sections/2/raw/x.png): a catch-all pattern, as API Gateway's {key+}.
# With Accept: application/json the presigned URL comes as JSON with its expiry: a page's fetch()
# cannot read a redirect's Location across origins.
@router.get(
    IMAGES_PREFIX + ".+",
    summary="Redirect to a stored image or its metadata (JSON link with Accept: application/json)",
    tags=["images"],
    responses=_IMAGE,
)
def image() -> Response[ImageLinkOut | None]:
    key = router.current_event.path.removeprefix(IMAGES_PREFIX)
    no_store = {"Cache-Control": "private, no-store"}
    if "application/json" in (router.current_event.headers.get("accept") or ""):
        return json_response(200, image_link(key, caller_of(router), default_services()), no_store)
    location = image_location(key, caller_of(router), default_services())
    return Response(status_code=302, headers={"Location": location, **no_store})


@router.get("/api/openapi.json", summary="This API's OpenAPI document", tags=["meta"], responses=_READ)
def openapi() -> Response[dict[str, Any]]:
    from imagegen.api.openapi import openapi_json

    return json_response(200, json.loads(openapi_json()))
