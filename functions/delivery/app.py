"""The delivery function: one WebhookQueue record per webhook attempt; failed records are reported.

Records fail only on AWS errors (SQS then delivers them again): a receiver's failure is handled by
queueing the next attempt, delayed (imagegen.logic.webhook_sending)."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagegen.logic.webhook_sending import deliver, webhook_services
from imagegen.models.webhooks import WebhookDelivery

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    deliver(WebhookDelivery.model_validate_json(record.body), webhook_services())


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
