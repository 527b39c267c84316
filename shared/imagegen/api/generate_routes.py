"""POST /api/icons/generate and POST /api/images/generate: one-item jobs, optionally awaited."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from imagegen.api.submissions import SUBMISSION_RESPONSES, answer_submission
from imagegen.models.requests import BlogImageRequest, IconRequest
from imagegen.models.responses import JobAcceptedOut, JobResultOut

router = Router()


@router.post(
    "/api/icons/generate",
    summary="Generate one category icon",
    tags=["icons"],
    responses=SUBMISSION_RESPONSES,
)
def generate_icon(body: IconRequest) -> Response[JobAcceptedOut | JobResultOut]:
    return answer_submission(router, body)


@router.post(
    "/api/images/generate", summary="Generate one blog image", tags=["images"], responses=SUBMISSION_RESPONSES
)
def generate_blog_image(body: BlogImageRequest) -> Response[JobAcceptedOut | JobResultOut]:
    return answer_submission(router, body)
