"""OpenAI's Batch API for economy jobs: input files, batches, and their output read back as images.

Imported by the economy function only (it loads the SDK). Each item is one JSONL line whose body is
what the synchronous call sends (OpenAIProvider.generate), keyed by `custom_id` = "{job_id}:{index}".
Output files can hold thousands of images in base64: they are streamed line by line, never held.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import openai
from aws_lambda_powertools import Logger

from imagegen.config import Settings
from imagegen.errors import PermanentGenerationError, TransientGenerationError
from imagegen.models.domain import ImageSpec
from imagegen.providers.base import GeneratedImage
from imagegen.providers.openai_provider import REFUSAL_CODES, request_body
from imagegen.providers.prices import BATCH_PRICE_FACTOR, cost_from_usage
from imagegen.providers.registry import (
    BATCH_ENDPOINT,
    BATCH_MAX_FILE_BYTES,
    BATCH_MAX_REQUESTS,
    BATCH_WINDOW,
    CONTENT_TYPES,
)

logger = Logger(child=True)
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
JOB_TAG, CHUNK_TAG = "imagegen_job", "imagegen_chunk"  # the batch's metadata: found again after a crash
RECENT_BATCHES = 100  # how far back a retried submission looks for the batch an earlier try created
Outcome = Literal["image", "failed", "retry", "expired", "cancelled"]


def custom_id(job_id: str, index: int) -> str:
    return f"{job_id}:{index}"


def parse_custom_id(value: str) -> tuple[str, int] | None:
    job_id, _, index = value.rpartition(":")
    return (job_id, int(index)) if job_id and index.isdigit() else None


def input_line(job_id: str, index: int, spec: ImageSpec) -> bytes:
    line = {"custom_id": custom_id(job_id, index), "method": "POST", "url": BATCH_ENDPOINT}
    return (json.dumps({**line, "body": request_body(spec)}, separators=(",", ":")) + "\n").encode()


def split_lines(
    lines: Sequence[bytes], max_lines: int = BATCH_MAX_REQUESTS, max_bytes: int = BATCH_MAX_FILE_BYTES
) -> list[list[int]]:
    """Which lines go in which input file, in order: each within the file limits. Deterministic for
    the same lines, so a retried submission makes the same files."""
    files: list[list[int]] = []
    size = 0
    for n, line in enumerate(lines):
        if not files or len(files[-1]) >= min(max_lines, BATCH_MAX_REQUESTS) or size + len(line) > max_bytes:
            files.append([])
            size = 0
        files[-1].append(n)
        size += len(line)
    return files


@dataclass(frozen=True)
class BatchState:
    """What the provider says of one batch."""

    batch_id: str
    status: str
    output_file_id: str | None
    error_file_id: str | None
    completed: int
    failed: int
    total: int
    errors: str | None  # why a batch failed as a whole (its input was refused)

    @property
    def ended(self) -> bool:
        return self.status in ENDED


@dataclass(frozen=True)
class LineResult:
    """One line of an output or error file, sorted: an image to store, or why there is none."""

    custom_id: str
    outcome: Outcome
    body: dict[str, Any] | None = None  # the images response, for "image"
    request_id: str | None = None
    reason: str | None = None  # for every other outcome

    def image(self, spec: ImageSpec, batch_id: str) -> GeneratedImage:
        """The line's image, billed at the Batch API's price; PermanentGenerationError if it has none."""
        data = (self.body or {}).get("data") or []
        encoded = data[0].get("b64_json") if data and isinstance(data[0], dict) else None
        if not encoded:
            raise PermanentGenerationError("OpenAI returned no image")
        usage = (self.body or {}).get("usage")
        full = cost_from_usage(spec.model, usage)
        return GeneratedImage(
            data=base64.b64decode(encoded),
            content_type=CONTENT_TYPES[spec.output_format],
            provider="openai",
            model=spec.model,
            usage=usage,
            cost_usd=round(full * BATCH_PRICE_FACTOR, 9) if full is not None else None,
            request_id=self.request_id,
            billed_calls=1,
            details={"provider_batch_id": batch_id},
        )


def sort_line(raw: str | bytes) -> LineResult | None:
    """A line as its item should take it; None for a line that is not JSON or names no item."""
    try:
        line = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
        return None
    cid = line["custom_id"]
    error = line.get("error") or {}
    if error:  # a line the batch never ran: expired or cancelled
        code = str(error.get("code") or "")
        outcome: Outcome = (
            "expired" if code == "batch_expired" else "cancelled" if code == "batch_cancelled" else "failed"
        )
        return LineResult(cid, outcome, reason=f"{error.get('message') or code} ({code})")
    response = line.get("response") or {}
    status = int(response.get("status_code") or 0)
    raw_body = response.get("body")
    body: dict[str, Any] = raw_body if isinstance(raw_body, dict) else {}
    request_id = response.get("request_id")
    if status == 200:
        return LineResult(cid, "image", body=body, request_id=request_id)
    raw_error = body.get("error")
    inner: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    kind = inner.get("code")
    if status == 429 and kind == "insufficient_quota":
        reason = "the OpenAI account has insufficient quota"
    elif status == 429 or status >= 500:  # the sync path's transient failures: drawn again there
        return LineResult(cid, "retry", reason=f"OpenAI answered {status}", request_id=request_id)
    elif kind in REFUSAL_CODES:
        reason = "refused by OpenAI's safety system"
    else:
        reason = f"OpenAI refused the request ({inner.get('message') or kind or f'status {status}'})"
    return LineResult(cid, "failed", reason=reason, request_id=request_id)


def _transient(error: openai.APIError) -> bool:
    return isinstance(
        error, openai.APIConnectionError | openai.InternalServerError | openai.RateLimitError
    ) and not (isinstance(error, openai.RateLimitError) and "insufficient_quota" in str(error.body))


class OpenAIBatches:
    """The Files and Batches endpoints through the SDK. Transient failures raise
    TransientGenerationError (the message is delivered again), others PermanentGenerationError."""

    def __init__(self, settings: Settings, api_key: str, timeout: float = 120.0) -> None:
        self._client = openai.OpenAI(
            api_key=api_key, base_url=settings.openai_base_url, max_retries=2, timeout=timeout
        )

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except openai.APIError as error:
            if _transient(error):
                raise TransientGenerationError(f"{what}: {type(error).__name__}") from error
            raise PermanentGenerationError(f"{what} refused: {error.message}") from error

    def find(self, job_id: str, chunk: int) -> str | None:
        """The batch an earlier try of this submission created, if it got that far."""
        page = self._call("listing batches", self._client.batches.list, limit=RECENT_BATCHES)
        for batch in page.data:
            tags = batch.metadata or {}
            if tags.get(JOB_TAG) == job_id and tags.get(CHUNK_TAG) == str(chunk):
                return str(batch.id)
        return None

    def submit(self, job_id: str, chunk: int, lines: Sequence[bytes]) -> str:
        """Upload one input file and create its batch (or find the one an earlier try created)."""
        found = self.find(job_id, chunk)
        if found:
            logger.info("batch found from an earlier try", job_id=job_id, chunk=chunk, batch_id=found)
            return found
        content = b"".join(lines)
        uploaded = self._call(
            "uploading the input file",
            self._client.files.create,
            file=(f"imagegen-{job_id}-{chunk}.jsonl", io.BytesIO(content)),
            purpose="batch",
        )
        # Never retried in the SDK: a create that timed out may have made a batch, and a second one
        # would draw (and bill) every line twice. A retry of the message looks for it first (find).
        batch = self._call(
            "creating the batch",
            self._client.with_options(max_retries=0).batches.create,
            input_file_id=uploaded.id,
            endpoint=BATCH_ENDPOINT,
            completion_window=BATCH_WINDOW,
            metadata={JOB_TAG: job_id, CHUNK_TAG: str(chunk)},
        )
        return str(batch.id)

    def state(self, batch_id: str) -> BatchState:
        batch = self._call("reading the batch", self._client.batches.retrieve, batch_id)
        counts = batch.request_counts
        errors = None
        if batch.errors and batch.errors.data:
            errors = "; ".join(f"{e.code}: {e.message}" for e in batch.errors.data if e.message or e.code)
        return BatchState(
            batch_id=batch.id,
            status=batch.status,
            output_file_id=batch.output_file_id,
            error_file_id=batch.error_file_id,
            completed=counts.completed if counts else 0,
            failed=counts.failed if counts else 0,
            total=counts.total if counts else 0,
            errors=errors,
        )

    def cancel(self, batch_id: str) -> str:
        """Ask the provider to cancel; the batch's status after the ask (an ended one stays as it is)."""
        try:
            return str(self._client.batches.cancel(batch_id).status)
        except openai.ConflictError:  # it ended meanwhile
            return self.state(batch_id).status
        except openai.APIError as error:
            if _transient(error):
                raise TransientGenerationError(f"cancelling the batch: {type(error).__name__}") from error
            raise PermanentGenerationError(f"cancelling the batch refused: {error.message}") from error

    def lines(self, file_id: str) -> Iterator[LineResult]:
        """The file's lines, streamed, sorted (lines that name no item are skipped and logged)."""
        try:
            with self._client.files.with_streaming_response.content(file_id) as response:
                for raw in response.iter_lines():
                    if not raw.strip():
                        continue
                    result = sort_line(raw)
                    if result is None:
                        logger.warning("unreadable batch output line skipped", file_id=file_id)
                        continue
                    yield result
        except openai.APIError as error:
            if _transient(error):
                raise TransientGenerationError(f"reading {file_id}: {type(error).__name__}") from error
            raise PermanentGenerationError(f"reading {file_id} refused: {error.message}") from error
