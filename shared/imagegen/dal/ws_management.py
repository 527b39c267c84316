"""The WebSocket API's management endpoint (`@connections`): push a message to one client."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from imagegen.errors import ConnectionGoneError

# A slow or stuck client must not hold up the others: short timeouts, one retry.
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 2})


@cache
def _management_client(endpoint_url: str) -> Any:
    # Its own client: the endpoint is the API's stage URL, not AWS_ENDPOINT_URL's service endpoint.
    return boto3.session.Session().client(  # type: ignore[call-overload]
        "apigatewaymanagementapi", endpoint_url=endpoint_url, config=_CONFIG
    )


class ManagementApi:
    """`endpoint_url`: https://{api}.execute-api.{region}.amazonaws.com/{stage} (WEBSOCKET_MANAGEMENT_URL)."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url

    def post(self, connection_id: str, data: bytes) -> None:
        """Send `data` to the client, or ConnectionGoneError when it is gone (410)."""
        api = _management_client(self.endpoint_url)
        try:
            api.post_to_connection(ConnectionId=connection_id, Data=data)
        except api.exceptions.GoneException:
            raise ConnectionGoneError(connection_id) from None
