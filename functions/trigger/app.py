"""The trigger function: S3 notifications of manifests dropped into incoming/ (through IncomingQueue)
become jobs and receipts (imagegen.logic.intake). A failed record is reported and delivered again;
after three receives it waits in the dead-letter queue."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagegen.dal.images_bucket import ImagesBucket
from imagegen.logic.intake import take_upload, uploads_in
from imagegen.logic.services import default_services

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    services = default_services()
    files = ImagesBucket(services.settings.images_bucket)
    for upload in uploads_in(record.body):
        take_upload(upload, services, files)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    services = default_services()
    services.idempotency_config.register_lambda_context(context)  # a crashed claim frees at the timeout
    services.idempotency.configure(services.idempotency_config)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
