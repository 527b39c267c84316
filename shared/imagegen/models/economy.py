"""Economy work (OpenAI's Batch API): the messages the economy function takes, and provider batches."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

POLL_ACTION = "poll"  # the scheduled event's input: {"action": "poll"}


class SubmitMessage(BaseModel):
    """Put a job's economy items into provider batches (one per input file)."""

    action: Literal["submit"] = "submit"
    job_id: str


class CollectMessage(BaseModel):
    """Read a provider batch that ended: store its lines from `from_line` on (a long file continues in
    a message of its own)."""

    action: Literal["collect"] = "collect"
    batch_id: str
    from_line: Annotated[int, Field(ge=0)] = 0


class CancelMessage(BaseModel):
    """Cancel the provider batches of a job whose cancel was requested."""

    action: Literal["cancel"] = "cancel"
    job_id: str


EconomyMessage = Annotated[SubmitMessage | CollectMessage | CancelMessage, Field(discriminator="action")]


class ProviderBatch(BaseModel):
    """One provider batch: which items of which job it draws, and what the provider last said of it."""

    batch_id: str
    job_id: str
    chunk: int  # the job's chunk of items it holds (chunk k: indexes in `indexes`)
    indexes: tuple[int, ...]
    status: str  # the provider's: validating, in_progress, finalizing, completed, failed, expired, ...
    collected: bool = False  # every line has been stored or ended
    created_at: datetime
    updated_at: datetime
    completed: int = 0  # the provider's request_counts, for progress
    failed: int = 0


class ProviderHookOut(BaseModel):
    """POST /api/openai/webhook's answer: what the verified event started."""

    outcome: Literal["collecting", "ignored"]  # ignored: not a batch event, or not one of ours
    batch_id: str | None = None
