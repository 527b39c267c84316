"""A job's progress as its subscribers see it (issue 12, parts 3 and 4).

The events function reads the jobs table's stream and turns each change of an item or of a job into
ProgressEvents. The same events feed two outlets: WebSocket messages to the job's subscribers (every
type) and outgoing webhooks (the types the job asked for, as WebhookEvents). They carry where the
image is, never its bytes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from imagegen.models.domain import JobState
from imagegen.models.responses import CountsOut
from imagegen.models.webhooks import WebhookItem


class ProgressType(StrEnum):
    ITEM_RUNNING = "item.running"  # a worker started the item's provider call
    ITEM_COMPLETED = "item.completed"
    ITEM_FAILED = "item.failed"
    ITEM_CANCELLED = "item.cancelled"
    JOB_COMPLETED = "job.completed"  # the job ended: completed, partially_failed or failed
    JOB_CANCELLED = "job.cancelled"


class ProgressEvent(BaseModel):
    """One change: an item's new state (with the job's counts at that moment) or the job's end."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ProgressType
    job_id: str
    owner: str  # never sent: who may subscribe, and whose webhook secret signs
    at: datetime  # when the change happened (the row's updated_at or finished_at)
    state: JobState  # the job's state when the change happened
    counts: CountsOut
    percent: Annotated[float, Field(ge=0, le=100)]
    item: WebhookItem | None = None  # set for item.* events
