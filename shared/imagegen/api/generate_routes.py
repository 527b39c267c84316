"""POST /api/icons/generate and POST /api/images/generate: one-item jobs, optionally awaited."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from imagegen.api.http import caller_of, idempotent, json_response, prefer_wait
from imagegen.logic.jobs import submit
from imagegen.logic.services import default_services
from imagegen.models.requests import BlogImageRequest, IconRequest
from imagegen.models.responses import JobAcceptedOut, JobResultOut

router = Router()


def _answer(request: IconRequest | BlogImageRequest) -> Response[JobAcceptedOut | JobResultOut]:
    def answer() -> Response[JobAcceptedOut | JobResultOut]:
        outcome = submit(request, caller_of(router), prefer_wait(router), default_services())
        if isinstance(outcome, JobAcceptedOut):
            return json_response(202, outcome, headers={"Location": outcome.status_url})
        return json_response(200, outcome)

    return idempotent(router, answer)


@router.post("/api/icons/generate", summary="Generate one category icon", tags=["icons"])
def generate_icon(body: IconRequest) -> Response[JobAcceptedOut | JobResultOut]:
    return _answer(body)


@router.post("/api/images/generate", summary="Generate one blog image", tags=["images"])
def generate_blog_image(body: BlogImageRequest) -> Response[JobAcceptedOut | JobResultOut]:
    return _answer(body)
