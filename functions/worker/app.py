"""The worker: one SQS record per item; failed records are reported, the rest are deleted."""

import warnings
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagegen.logic.run_item import run_item
from imagegen.logic.services import default_services
from imagegen.logic.usage import metrics
from imagegen.models.domain import ItemMessage

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)
# An invocation that only sent items back to wait for the rate limit has no metric to publish.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def record_handler(record: SQSRecord) -> None:
    attempt = int(record.attributes.approximate_receive_count or 1)
    run_item(ItemMessage.model_validate_json(record.body), attempt, record.receipt_handle, default_services())


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    default_services().idempotency_config.register_lambda_context(context)  # in-progress records expire
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
