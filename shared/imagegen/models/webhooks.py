"""Outgoing webhooks (issue 12, part 3): the events an owner's endpoint receives and the signing secret
stored per owner, and the WebhookQueue's messages (logic.webhook_dispatch queues them, logic.webhook_sending
sends them)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from imagegen.models.domain import ItemState, JobState
from imagegen.models.responses import CountsOut

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
# The Standard Webhooks spec asks for secrets of 24 to 64 random bytes.
SECRET_MIN_BYTES, SECRET_MAX_BYTES = 24, 64


class WebhookEventType(StrEnum):
    ITEM_COMPLETED = "item.completed"
    ITEM_FAILED = "item.failed"
    JOB_COMPLETED = "job.completed"  # the job ended: completed, partially_failed or failed
    JOB_CANCELLED = "job.cancelled"


# The item state each item event reports, and the job states each job event may report.
ITEM_EVENTS = {
    WebhookEventType.ITEM_COMPLETED: ItemState.COMPLETED,
    WebhookEventType.ITEM_FAILED: ItemState.FAILED,
}
JOB_EVENTS = {
    WebhookEventType.JOB_COMPLETED: frozenset(
        {JobState.COMPLETED, JobState.PARTIALLY_FAILED, JobState.FAILED}
    ),
    WebhookEventType.JOB_CANCELLED: frozenset({JobState.CANCELLED}),
}


class WebhookItem(BaseModel):
    """The item an item.* event is about: where its image is, never the image itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    key: str  # the PNG's S3 key, as in the job's result
    state: ItemState
    image_url: str | None = None  # the API path of the image (bearer token), as in the job's result
    error: str | None = None  # why an item failed, as in the job's result

    @field_validator("image_url")
    @classmethod
    def _no_inline_bytes(cls, url: str | None) -> str | None:
        # A data: URL would carry the image in the event: receivers fetch it instead.
        if url is not None and url.strip().lower().startswith("data:"):
            raise ValueError("image_url must point at the image, not contain it")
        return url


class WebhookEventData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: str  # the job's id under the name the API gives it (JobAcceptedOut.batch_id)
    state: JobState  # the job's state when the event happened
    counts: CountsOut
    percent: Annotated[float, Field(ge=0, le=100)]
    item: WebhookItem | None = None


class WebhookEvent(BaseModel):
    """One event's JSON body: {type, timestamp, data}, the envelope the Standard Webhooks spec suggests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: WebhookEventType
    timestamp: datetime  # when the event happened (the delivery's own time is the webhook-timestamp header)
    data: WebhookEventData

    @model_validator(mode="after")
    def _type_matches_data(self) -> WebhookEvent:
        item_state = ITEM_EVENTS.get(self.type)
        if item_state is not None:
            if self.data.item is None or self.data.item.state != item_state:
                raise ValueError(f"{self.type} needs an item in state {item_state}")
        elif self.data.item is not None or self.data.state not in JOB_EVENTS[self.type]:
            states = ", ".join(sorted(JOB_EVENTS[self.type]))
            raise ValueError(f"{self.type} carries no item and a job state in {states}")
        return self


class WebhookDelivery(BaseModel):
    """A WebhookQueue message: one event for one endpoint, and which attempt this message makes.

    Signed when it is sent (with the owner's secrets at that moment), never when queued. `due_at`
    chains a wait longer than SQS's 900 s delay: a message received early is sent on again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: str
    url: str
    event: WebhookEvent
    attempt: Annotated[int, Field(ge=1)] = 1
    due_at: datetime | None = None


@dataclass(frozen=True)
class WebhookAnswer:
    """What one attempt got back: the status and Retry-After, or None when no answer came."""

    status: int | None
    retry_after: str | None = None
    problem: str | None = None  # why no answer came (an exception's name: no receiver's text)


class OwnerWebhookSecret(BaseModel):
    """What is stored per owner: the secret deliveries are signed with, and after a rotation the previous
    one, still signed with until `previous_valid_until` so receivers can switch without losing events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: str
    created_at: datetime
    previous_secret: str | None = None
    previous_valid_until: datetime | None = None

    @field_validator("secret", "previous_secret")
    @classmethod
    def _whsec(cls, secret: str | None) -> str | None:
        if secret is None:
            return None
        try:
            key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error as error:
            raise ValueError("a webhook secret is whsec_ and base64") from error
        if not secret.startswith(SECRET_PREFIX) or not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
            sizes = f"{SECRET_MIN_BYTES}-{SECRET_MAX_BYTES}"
            raise ValueError(f"a webhook secret is whsec_ and {sizes} bytes in base64")
        return secret
