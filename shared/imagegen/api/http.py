"""Build a resolver: the one place where domain errors become HTTP statuses and JSON bodies."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from imagegen import errors
from imagegen.models.domain import Caller
from imagegen.models.messages import INTERNAL_ERROR, JSON_ONLY, NOT_UTF8, readable
from imagegen.models.requests import MAX_BODY_BYTES
from imagegen.models.responses import ErrorOut, GatewayErrorOut

logger = Logger(child=True)

ERROR_STATUS: dict[type[errors.ImagegenError], HTTPStatus] = {
    errors.InvalidRequestError: HTTPStatus.BAD_REQUEST,
    errors.JobNotFoundError: HTTPStatus.NOT_FOUND,
    errors.ImageNotFoundError: HTTPStatus.NOT_FOUND,
    errors.JobFinishedError: HTTPStatus.CONFLICT,
    errors.ImageExistsError: HTTPStatus.CONFLICT,
    errors.QuotaExceededError: HTTPStatus.TOO_MANY_REQUESTS,
    errors.BudgetExceededError: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.IdempotencyInProgressError: HTTPStatus.CONFLICT,
    errors.IdempotencyKeyReusedError: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.HookNotFoundError: HTTPStatus.NOT_FOUND,
    errors.WebhookRejectedError: HTTPStatus.UNAUTHORIZED,
}
# What each error status means, for the OpenAPI document. The `error` codes come from the map above
# and the handlers of build_resolver; 401 and 403 (and an unknown path's 404) are API Gateway's own.
_HANDLER_CODES: dict[HTTPStatus, tuple[str, ...]] = {
    HTTPStatus.BAD_REQUEST: ("invalid_request",),
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: ("body_too_large",),
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: ("unsupported_media_type",),
    HTTPStatus.INTERNAL_SERVER_ERROR: ("internal_error",),
}
_GATEWAY_ERRORS = {
    HTTPStatus.UNAUTHORIZED: "No Authorization header (answered by API Gateway: {message})",
    HTTPStatus.FORBIDDEN: "The authorizer refused the token (answered by API Gateway: {message})",
}
# Every route may answer these: a bad query or a body that is not UTF-8, a body over the limit or not
# JSON, a token missing or refused, and an unexpected error.
_EVERY_ROUTE = (
    HTTPStatus.BAD_REQUEST,
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    HTTPStatus.INTERNAL_SERVER_ERROR,
)
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:~-]{1,255}$")
# A POST with an Idempotency-Key is answered once; the same key, caller and route replay the stored
# answer for 24 h, and the same key with another body is refused (payload validation).
API_IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="[owner, route, key]",
    payload_validation_jmespath="body_sha256",
    expires_after_seconds=24 * 3600,
)
MAX_WAIT_SECONDS = 25
_PREFER_WAIT = re.compile(r"(?:^|[;,\s])wait\s*=\s*(\d{1,6})(?:$|[;,\s])")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    """A JSON response; Powertools serialises the model (or dict) given as body."""
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


def error_response(status: HTTPStatus, code: str, message: str) -> Response[Any]:
    return json_response(status, {"error": code, "message": message})


def _error_codes(status: HTTPStatus) -> list[str]:
    mapped = {error.code for error, answered in ERROR_STATUS.items() if answered == status}
    return sorted(mapped.union(_HANDLER_CODES.get(status, ())))


def _error_doc(status: HTTPStatus, public: bool = False) -> OpenAPIResponse:
    if status in _GATEWAY_ERRORS and not public:
        content: dict[str, Any] = {"model": GatewayErrorOut}
        description = _GATEWAY_ERRORS[status]
    else:
        content = {"model": ErrorOut}
        description = f"{status.phrase}: error " + " or ".join(_error_codes(status))
        if status == HTTPStatus.NOT_FOUND:
            content = {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/ErrorOut"},
                        {"$ref": "#/components/schemas/GatewayErrorOut"},
                    ]
                }
            }
            description += " (an unknown path: API Gateway's {message})"
    answer: dict[str, Any] = {
        "description": description,
        "content": {content_types.APPLICATION_JSON: content},
    }
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        retry_after = {"description": "Seconds until the quota frees", "schema": {"type": "integer"}}
        answer["headers"] = {"Retry-After": {**retry_after, "required": True}}
    return cast(OpenAPIResponse, answer)


def documented(
    *statuses: HTTPStatus, ok: Mapping[int, OpenAPIResponse] | None = None, public: bool = False
) -> dict[int, OpenAPIResponse]:
    """A route's responses for its OpenAPI document: its successes (default: 200 with the handler's
    return type), the error statuses it may answer, and those every route may answer. A public route
    (no authorizer, e.g. a CMS webhook) answers its own 401s and never API Gateway's 403."""
    responses: dict[int, OpenAPIResponse] = dict(ok or {200: {"description": "OK"}})
    every = {*_EVERY_ROUTE} - ({HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN} if public else set())
    for status in sorted({*every, *statuses}):
        responses[status.value] = _error_doc(status, public)
    return responses


def caller_of(router: Router | APIGatewayHttpResolver) -> Caller:
    """The caller the authorizer established (API Gateway refuses requests it did not authorize)."""
    event = cast(APIGatewayProxyEventV2, router.current_event)
    context = event.request_context.authorizer.get_lambda or {}
    sub = context.get("sub")
    if not isinstance(sub, str) or not sub:
        raise PermissionError("request reached a handler without an authorized caller")
    scope = context.get("scope", "")
    return Caller(sub=sub, scopes=frozenset(str(scope).split()))


def prefer_wait(router: Router) -> int:
    """Seconds the caller will wait (RFC 7240 `Prefer: wait=N`), at most 25; 0 when absent."""
    match = _PREFER_WAIT.search(router.current_event.headers.get("prefer") or "")
    return min(int(match.group(1)), MAX_WAIT_SECONDS) if match else 0


def _jsonable(body: Any) -> Any:
    return body.model_dump(mode="json") if isinstance(body, BaseModel) else body


def idempotent(router: Router, answer: Callable[[], Response[Any]]) -> Response[Any]:
    """Answer a POST once per Idempotency-Key (Powertools idempotency on DynamoDB); without the
    header, just answer."""
    from imagegen.logic.services import default_services

    event = router.current_event
    key = event.headers.get("idempotency-key")
    if key is None:
        return answer()
    if not IDEMPOTENCY_KEY.match(key):
        raise errors.InvalidRequestError("Idempotency-Key must be 1-255 characters of A-Z a-z 0-9 . _ : ~ -")
    claim = {
        "owner": caller_of(router).sub,
        "route": f"{event.http_method} {event.path}",
        "key": key,
        "body_sha256": hashlib.sha256((event.body or "").encode()).hexdigest(),
    }

    @idempotent_function(
        data_keyword_argument="claim",
        persistence_store=default_services().idempotency,
        config=API_IDEMPOTENCY,
    )
    def respond(claim: dict[str, str]) -> dict[str, Any]:
        response = answer()
        return {"status": response.status_code, "headers": response.headers, "body": _jsonable(response.body)}

    try:
        stored = respond(claim=claim)
    except IdempotencyAlreadyInProgressError:
        raise errors.IdempotencyInProgressError(
            "a request with this Idempotency-Key is still running"
        ) from None
    except IdempotencyValidationError:
        raise errors.IdempotencyKeyReusedError(
            "this Idempotency-Key was already used for a different request"
        ) from None
    headers = {name: str(value) for name, value in (stored.get("headers") or {}).items()}
    return json_response(int(stored["status"]), stored["body"], headers=headers)


# What `curl -d` (form) and `fetch` with a string body (text/plain) send, and no header at all.
_READ_AS_JSON = frozenset({"", "application/x-www-form-urlencoded", "text/plain"})


def _media_type(event: Mapping[str, Any]) -> str:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    return str(headers.get("content-type", "")).split(";")[0].strip().lower()


def _as_json(event: Mapping[str, Any], body: str) -> Mapping[str, Any]:
    """The event with Content-Type application/json when its body is JSON sent under another type:
    this API takes JSON only, and Powertools would parse such a body as form fields."""
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    media_type = _media_type(event)
    if event.get("isBase64Encoded") or media_type not in _READ_AS_JSON or body.lstrip()[:1] not in ("{", "["):
        return event
    return {**event, "headers": {**headers, "content-type": content_types.APPLICATION_JSON}}


def _early_error(status: HTTPStatus, code: str, message: str) -> dict[str, Any]:
    """An answer given before Powertools reads the event (it would fail on these bodies)."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": code, "message": message}),
        "isBase64Encoded": False,
    }


def _as_text(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The event with its body as text: API Gateway base64-encodes bodies it takes for binary, and JSON
    is UTF-8 text (RFC 8259). None when the body is not UTF-8 (Powertools would raise a 500 on it)."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return event
    try:
        text = base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return {**event, "body": text, "isBase64Encoded": False}


def _parse_request_json(text: str) -> Any:
    """json.loads for bodies, refusing what Powertools would mishandle: a nesting deep enough to
    exhaust the stack (a 500), and a top level other than an object (it takes an array's first item
    as the request). Every body of this API is one JSON object."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise RequestValidationError(
            [{"type": "json_too_deep", "loc": ("body",), "msg": "JSON nested too deeply", "input": {}}]
        ) from None
    if not isinstance(document, dict):
        raise RequestValidationError(
            [{"type": "model_type", "loc": ("body",), "msg": "Input should be an object", "input": {}}]
        )
    return document


class _Resolver(APIGatewayHttpResolver):
    """Refuses oversized bodies and bodies that are not UTF-8 text before anything parses them
    (Powertools validates before middlewares), and reads a JSON body as JSON whatever Content-Type the
    client forgot to set."""

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        body = event.get("body") or ""
        size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
        if size > MAX_BODY_BYTES:
            message = f"request bodies are limited to {MAX_BODY_BYTES} bytes"
            return _early_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large", message)
        text_event = _as_text(event)
        if text_event is None:
            return _early_error(HTTPStatus.BAD_REQUEST, "invalid_request", NOT_UTF8)
        if body and _media_type(event).startswith("multipart/"):
            # Powertools would parse the form (and 500 on a missing boundary): this API takes JSON only.
            return _early_error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", JSON_ONLY)
        API_IDEMPOTENCY.register_lambda_context(context)  # a crashed request's key frees at its timeout
        return super().resolve(_as_json(text_event, text_event.get("body") or ""), context)


def build_resolver(*routers: Router) -> APIGatewayHttpResolver:
    """A resolver with validation, the body limit and the error map, serving the given routers."""
    app = _Resolver(enable_validation=True, json_body_deserializer=_parse_request_json)
    for router in routers:
        app.include_router(router)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[Any]:
        document = error.body if isinstance(error.body, str) else None  # a JSON error's position
        return error_response(HTTPStatus.BAD_REQUEST, "invalid_request", readable(error.errors(), document))

    @app.exception_handler(RequestUnsupportedContentType)
    def _not_json(_: RequestUnsupportedContentType) -> Response[Any]:
        return error_response(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", JSON_ONLY)

    @app.exception_handler(errors.ImagegenError)
    def _domain(error: errors.ImagegenError) -> Response[Any]:
        status = ERROR_STATUS.get(type(error), HTTPStatus.INTERNAL_SERVER_ERROR)
        response = error_response(status, error.code, str(error))
        if isinstance(error, errors.QuotaExceededError):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.exception_handler(ServiceError)
    def _service(error: ServiceError) -> Response[Any]:
        status = HTTPStatus(error.status_code)
        return error_response(status, status.phrase.lower().replace(" ", "_"), status.phrase)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[Any]:
        """Anything the map above does not name (an AWS ClientError, a bug): logged with the request
        id, answered as JSON without the exception's text, which may name tables, keys or ARNs."""
        request_id = app.current_event.request_context.request_id
        logger.exception("request failed", request_id=request_id, error_type=type(error).__name__)
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", INTERNAL_ERROR.format(request_id)
        )

    @app.not_found
    def _not_found(_: Exception) -> Response[Any]:
        return error_response(HTTPStatus.NOT_FOUND, "not_found", "no such route")

    return app


def http_function(*routers: Router) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The `lambda_handler` of a function serving these routers behind the HTTP API: one resolver,
    logged with the request's correlation id and traced, as every HTTP function of the template is."""
    from aws_lambda_powertools import Tracer
    from aws_lambda_powertools.logging import correlation_paths

    app, function_logger, tracer = build_resolver(*routers), Logger(), Tracer()

    @function_logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    return cast(Callable[[dict[str, Any], LambdaContext], dict[str, Any]], lambda_handler)
