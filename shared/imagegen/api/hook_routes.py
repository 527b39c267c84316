"""CMS webhooks in: POST /api/hooks/{source} (public: the signature is the authentication), and the
owner's hook URL and secret per source, GET and POST /api/hooks/{source}/secret (JWT)."""

from __future__ import annotations

from functools import cache
from http import HTTPStatus
from typing import Annotated, Any, cast

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from imagegen.api.http import caller_of, documented, json_response
from imagegen.logic.hooks import HooksStore, current_hook, receive_hook, rotate_hook
from imagegen.logic.hooks_in import HookRequest
from imagegen.logic.provider_hooks import receive_openai_webhook
from imagegen.logic.services import default_services
from imagegen.models.economy import ProviderHookOut
from imagegen.models.hooks import HookAnswerOut, HookSecretOut, HookSource

router = Router()
HookId = Annotated[str, Query(min_length=1, max_length=64, description="The hook id its URL was given with")]
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_RECEIVE = documented(
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.TOO_MANY_REQUESTS,
    public=True,
    ok={
        200: {
            "description": "Verified; nothing to make (the post was deleted or unpublished, or unchanged)",
            "content": {content_types.APPLICATION_JSON: {"model": HookAnswerOut}},
        },
        202: {
            "description": "Verified; a blog job makes the new or changed sections' images (batch_id)",
            "headers": {"Location": {"description": "The job's status URL", "schema": {"type": "string"}}},
            "content": {content_types.APPLICATION_JSON: {"model": HookAnswerOut}},
        },
    },
)
_OPENAI = documented(HTTPStatus.UNAUTHORIZED, public=True)
_READ_SECRET = documented(HTTPStatus.NOT_FOUND)
_SET_SECRET = documented()


@cache
def hooks_store() -> HooksStore:
    from imagegen.dal.events_table import HooksTable

    return HooksTable(default_services().settings.events_table)


def _event() -> APIGatewayProxyEventV2:
    return cast(APIGatewayProxyEventV2, router.current_event)


def _base_url() -> str:
    """The API's own address as the caller reached it: API Gateway's domain over https, or the
    local stack's http on loopback."""
    event = _event()
    host = event.request_context.domain_name
    scheme = event.headers.get("x-forwarded-proto") or (
        "http" if host.startswith(_LOOPBACK_HOSTS) else "https"
    )
    return f"{scheme}://{host}"


@router.post(
    "/api/hooks/<source>",
    summary="Receive a CMS webhook (Ghost, Sanity, Contentful or Standard Webhooks)",
    description=(
        "No bearer token: the request is authenticated by its signature with the hook's secret. The "
        "body is the CMS's own JSON (see the README's CMS webhooks section)."
    ),
    tags=["hooks"],
    responses=_RECEIVE,
)
def receive(source: HookSource, hook: HookId) -> Response[HookAnswerOut]:
    event = _event()
    query = f"?{event.raw_query_string}" if event.raw_query_string else ""
    request = HookRequest(
        headers=event.headers,
        body=(event.body or "").encode(),
        method=event.request_context.http.method,
        path=f"{event.raw_path}{query}",
    )
    answer = receive_hook(source, hook, request, default_services(), hooks_store())
    headers: dict[str, Any] = {"Location": answer.status_url} if answer.status_url else {}
    return json_response(202 if answer.outcome == "created" else 200, answer, headers=headers)


@router.post(
    "/api/openai/webhook",
    summary="Receive OpenAI's batch webhooks (economy jobs)",
    description=(
        "No bearer token: the request is authenticated by its Standard Webhooks signature with "
        "OPENAI_WEBHOOK_SECRET. A batch.completed, failed, expired or cancelled event for one of the "
        "service's provider batches starts its collect."
    ),
    tags=["hooks"],
    responses=_OPENAI,
)
def receive_openai() -> ProviderHookOut:
    event = _event()
    return receive_openai_webhook(event.headers, (event.body or "").encode(), default_services())


@router.get(
    "/api/hooks/<source>/secret",
    summary="Your hook URL and secret for a CMS",
    tags=["hooks"],
    responses=_READ_SECRET,
)
def read_secret(source: HookSource) -> HookSecretOut:
    return current_hook(source, caller_of(router), hooks_store(), _base_url())


@router.post(
    "/api/hooks/<source>/secret",
    summary="Make your hook for a CMS, or rotate its secret (the old one works 24 h more)",
    tags=["hooks"],
    responses=_SET_SECRET,
)
def set_secret(source: HookSource) -> HookSecretOut:
    caller = caller_of(router)
    return rotate_hook(source, caller, hooks_store(), _base_url(), default_services().clock())
