"""The events function: the jobs table's stream in, ProgressEvents out to every publisher, in order.

One shard's records come in order (ParallelizationFactor 1), and each record's events are published
before the next record's; a failed record fails the ones after it, and Lambda retries from it.
"""

import functools
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagegen.config import get_settings
from imagegen.logic.events_out import Publisher, default_publishers, in_order

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@functools.cache
def publishers() -> list[Publisher]:
    return default_publishers(get_settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    batch = in_order(event["Records"], get_settings(), publishers())

    def record_handler(record: DynamoDBRecord) -> None:
        batch(str(record.dynamodb.sequence_number if record.dynamodb else ""))

    answer = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    logger.info("progress events published", records=len(event["Records"]), events=batch.published)
    return answer
