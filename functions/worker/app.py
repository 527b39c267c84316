"""The worker: one SQS record per item, the records of a batch run at once; failed records are reported.

Each record waits on a slow provider (15 s to minutes), so the records of one batch run in threads
and an invocation lasts about as long as its slowest item, within the function's timeout. The
offline renderer is CPU-bound instead: its records run one at a time.
"""

import asyncio
import functools
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagegen.logic.capacity import startup_warnings
from imagegen.logic.run_item import run_item
from imagegen.logic.services import default_services
from imagegen.logic.usage import metrics
from imagegen.models.domain import ItemMessage

logger = Logger()
tracer = Tracer()
processor = AsyncBatchProcessor(event_type=EventType.SQS)
MAX_RECORDS = 10  # SQS delivers at most 10 records an invocation without a batching window


@functools.cache
def record_threads(parallel_calls: int) -> ThreadPoolExecutor:
    """Threads for the records of a batch: one each for a provider that waits on the network, one
    for a CPU-bound renderer (Provider.parallel_calls). No thread starts before the first record."""
    return ThreadPoolExecutor(max_workers=min(parallel_calls, MAX_RECORDS), thread_name_prefix="record")


# An invocation that only sent items back to wait for the rate limit has no metric to publish.
warnings.filterwarnings("ignore", message="No application metrics to publish")


async def record_handler(record: SQSRecord) -> None:
    attempt = int(record.attributes.approximate_receive_count or 1)
    message = ItemMessage.model_validate_json(record.body)
    services = default_services()  # built here, on the event loop's thread, never twice
    loop = asyncio.get_running_loop()
    threads = record_threads(services.provider.parallel_calls)
    await loop.run_in_executor(threads, run_item, message, attempt, record.receipt_handle, services)


@functools.cache
def warn_about_capacity() -> None:
    """Once per cold start: settings that leave the rate limit idle or cut off calls OpenAI bills."""
    for problem in startup_warnings(default_services().settings, datetime.now(UTC).date()):
        logger.warning("worker settings do not fit the provider", problem=problem)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    warn_about_capacity()
    services = default_services()
    services.idempotency_config.register_lambda_context(context)  # in-progress records expire
    # Configured here, before the records' threads share it: Powertools marks the layer configured
    # before it copies the settings, so a racing thread could read its defaults.
    services.idempotency.configure(services.idempotency_config)
    return async_process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
