"""The WebSocket function: the WebSocket API's routes (imagegen.api.websocket_events) and the HTTP
route that mints their tickets (imagegen.api.ws_routes, behind the JWT authorizer)."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagegen.api.http import build_resolver
from imagegen.api.websocket_events import handle
from imagegen.api.ws_routes import router

logger = Logger()
tracer = Tracer()
app = build_resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "connectionId" in event.get("requestContext", {}):  # a WebSocket route, not the HTTP API
        return handle(event)
    return app.resolve(event, context)
