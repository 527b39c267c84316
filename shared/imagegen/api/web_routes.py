"""The web page: `GET /` and its files under `GET /app/...`, served by the status function with no
authorizer (the page signs in itself, then calls the API with the token)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from imagegen.api.http import error_response
from imagegen.config import get_settings
from imagegen.logic.services import default_services
from imagegen.logic.web_page import INDEX, asset, security_headers

router = Router()
APP_PREFIX = "/app/"


def _serve(name: str) -> Response[Any]:
    found = asset(name)
    if found is None:
        return error_response(HTTPStatus.NOT_FOUND, "not_found", "no such file")
    # Any presigned URL names the images' origin (bucket host, or the emulated S3 locally).
    images_url = default_services().images.presigned_get("web-page-origin", 60)
    headers = security_headers(images_url, get_settings().websocket_url) | {"ETag": found.etag}
    if router.current_event.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    return Response(status_code=200, content_type=found.content_type, body=found.body, headers=headers)


def _unvalidated(handler: Callable[[], Response[Any]]) -> Callable[[], Response[Any]]:
    """Powertools validates and JSON-serialises an answer by its handler's return annotation, which
    bytes (a PNG) cannot pass: the route sees a signature without one."""
    handler.__signature__ = inspect.Signature()  # type: ignore[attr-defined]
    return handler


# Not in the OpenAPI document: HTML and files, not the JSON API it describes.
@router.get("/", include_in_schema=False)
@_unvalidated
def web_page() -> Response[Any]:
    return _serve(INDEX)


@router.get(APP_PREFIX + ".+", include_in_schema=False)
@_unvalidated
def web_file() -> Response[Any]:
    return _serve(router.current_event.path.removeprefix(APP_PREFIX))
