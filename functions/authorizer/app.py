"""The HTTP API Lambda authorizer (payload 2.0, simple responses): verifies the bearer JWT."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagegen.config import get_settings
from imagegen.logic.auth import authorize

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = event.get("headers") or {}
    return authorize(headers.get("authorization"), get_settings())
