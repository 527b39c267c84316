"""The economy function: OpenAI Batch API work (imagegen.logic.economy).

EconomyQueue records submit a job's items as provider batches, collect a provider batch that ended
(announced by OpenAI's webhook or found by the poll), or cancel a job's provider batches. The
schedule's event ({"action": "poll"}) checks every open provider batch: the webhook's fallback."""

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagegen.logic import economy
from imagegen.logic.services import default_services

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    def seconds_left() -> float:
        return lambda_context.get_remaining_time_in_millis() / 1000

    attempt = int(record.attributes.approximate_receive_count or 1)
    economy.handle_message(record.body, default_services(), seconds_left, attempt)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(
    event: dict[str, Any], context: LambdaContext
) -> PartialItemFailureResponse | dict[str, Any]:
    services = default_services()
    services.idempotency_config.register_lambda_context(context)  # a crashed claim frees at the timeout
    services.idempotency.configure(services.idempotency_config)
    if event.get("action") == economy.POLL_ACTION:  # the schedule (EventBridge Scheduler; a timer locally)
        return {"checked": economy.poll(services)}
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
