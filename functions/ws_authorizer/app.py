"""The WebSocket API's $connect authorizer (REQUEST, identity: the `ticket` query string): spends the
single-use ticket and passes its owner on in the context."""

import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagegen.logic.websocket import default_connections, redeem_ticket

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ticket = (event.get("queryStringParameters") or {}).get("ticket")
    owner = redeem_ticket(ticket, default_connections(), int(time.time()))
    if owner is None:
        logger.info("websocket ticket refused")
    # WebSocket APIs take an IAM policy from a Lambda authorizer (simple responses are HTTP API only).
    answer: dict[str, Any] = {
        "principalId": owner or "anonymous",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow" if owner else "Deny",
                    "Resource": event["methodArn"],
                }
            ],
        },
    }
    if owner:
        answer["context"] = {"owner": owner}
    return answer
