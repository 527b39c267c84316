"""Jobs and items as the logic sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, TypeGuard

from pydantic import BaseModel, ConfigDict


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUBMITTED = "submitted_to_provider"  # economy: in OpenAI's Batch API, drawn within 24 h
    COMPLETED = "completed"
    PARTIALLY_FAILED = "partially_failed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ItemState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUBMITTED = "submitted_to_provider"  # a line of a provider batch
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_ITEM_STATES = frozenset({ItemState.COMPLETED, ItemState.FAILED, ItemState.CANCELLED})
TERMINAL_JOB_STATES = frozenset(
    {JobState.COMPLETED, JobState.PARTIALLY_FAILED, JobState.FAILED, JobState.CANCELLED}
)
JobKind = Literal["icon", "blog", "batch"]
Priority = Literal["standard", "economy"]  # economy: OpenAI's Batch API, half price, within 24 h


MAX_SUB_CHARS = 256  # a caller's id: the JWT `sub`, and the owner segment of an incoming/ key


def is_valid_sub(sub: object) -> TypeGuard[str]:
    """The owner ids the service accepts, from a token's `sub` or a manifest's key: 1-256 characters."""
    return isinstance(sub, str) and 0 < len(sub) <= MAX_SUB_CHARS


METADATA_SUFFIX = "_metadata.json"  # the metadata beside an image: <stem>_metadata.json


class ImageSpec(BaseModel):
    """Everything a provider needs to draw one image, and where it will be stored."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["icon", "blog"]
    prompt: str
    width: int
    height: int
    key: str  # the PNG's S3 key; metadata sits beside it
    category: str | None = None
    style: str | None = None
    color_scheme: str | None = None
    custom_elements: tuple[str, ...] = ()
    variation: int = 1
    post_id: str | None = None
    section_id: str | None = None
    model: str  # the model that draws it: logic.specs chooses it (OPENAI_MODEL unless asked)
    requested_model: str | None = None  # set when a shut-down model was mapped to `model`
    quality: str = "auto"
    requested_quality: str | None = None  # set when a DALL-E quality (standard, hd) was mapped to `quality`
    requested_style: str | None = None  # OPENAI_IMAGE_STYLE: a DALL-E style, recorded (GPT image takes none)
    output_format: str = "png"
    background: str = "auto"
    derivatives: tuple[int, ...] = ()  # square sizes stored beside an icon: key_<N>px.<ext>
    category_match: str | None = None  # the catalogue category the user's words matched, if any
    category_score: float | None = None
    catalogue_icon: str | None = None  # that category's icon, for the offline renderer
    brand_colors: tuple[str, ...] = ()
    template_version: str | None = None
    user_prompt: str | None = None  # the author's own words when a blog template built `prompt`
    request_hash: str | None = None  # the request cache's key; None when the caller opted out
    priority: Priority = "standard"  # the path that draws it: economy is a Batch API line

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def stem(self) -> str:
        return self.key.rsplit(".", 1)[0]

    @property
    def metadata_key(self) -> str:
        return self.stem + METADATA_SUFFIX

    def derivative_key(self, pixels: int) -> str:
        return f"{self.stem}_{pixels}px.{self.output_format}"


class Counts(BaseModel):
    total: int
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def finished(self) -> int:
        return self.completed + self.failed + self.cancelled

    @property
    def percent(self) -> float:
        """The share of items that ended, as the status answer and progress events give it."""
        return round(100.0 * self.finished / self.total, 1) if self.total else 100.0


class Reservation(BaseModel):
    """A slot taken on a provider model's shared schedule (logic.rate_limits): when the call may start.

    It holds only while the schedule keeps its generation: a 429 or a pause starts a new one."""

    model_config = ConfigDict(frozen=True)

    limiter: str
    slot_at: float  # epoch seconds
    seconds: float  # the slot's length on the timeline
    generation: int


class Job(BaseModel):
    job_id: str
    owner: str
    kind: JobKind
    state: JobState
    counts: Counts
    billed_calls: int = 0  # provider calls that may have been billed, timed-out ones included
    cancel_requested: bool = False
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # Where the job's events are sent (checked against SSRF when the job was created), and which
    # ones: models.webhooks.WebhookEventType values. None: no webhook.
    webhook_url: str | None = None
    webhook_events: tuple[str, ...] = ()
    priority: Priority = "standard"
    provider_batches: tuple[str, ...] = ()  # economy: the Batch API batches drawing its items


class Item(BaseModel):
    job_id: str
    index: int
    state: ItemState
    spec: ImageSpec
    error: str | None = None
    attempts: int = 0
    model: str | None = None
    started_at: datetime | None = None  # its last attempt's start
    finished_at: datetime | None = None
    cache_hit: bool = False
    billed_calls: int = 0  # calls that may have been billed for this item
    lost_calls: int = 0  # of which timed out or lost their connection (the provider may still bill)
    reservation: Reservation | None = None  # the slot a waiting item holds (freed if it is cancelled)
    used_slot_at: float | None = None  # the slot its last call started in: a reservation is used once


class ItemMessage(BaseModel):
    """The SQS message body: which item of which job to generate, and the slot it holds if it waited."""

    job_id: str
    index: int
    reservation: Reservation | None = None


class Caller(BaseModel):
    """Who is calling, as the authorizer established it."""

    model_config = ConfigDict(frozen=True)

    sub: str
    scopes: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes


class CacheEntry(BaseModel):
    """A stored image that answers any later request with the same normalised fields."""

    request_hash: str
    owner: str
    key: str
    metadata_key: str
    model: str
    kind: str
    summary: str
    created_at: datetime
    expires_at: int


EVERYONE = "*"  # the usage row that sums every owner's


@dataclass(frozen=True)
class LimiterState:
    """One provider model's shared rate schedule (logic.rate_limits), as the limits table stores it."""

    tat: float = 0.0  # epoch seconds: the end of the reserved timeline
    factor: float = 1.0  # share of the limit in use; lowered by 429s
    factor_at: float = 0.0  # when `factor` was last set
    cooldown_until: float = 0.0  # no call starts before this (a 429's Retry-After)
    paused_until: float = 0.0  # insufficient_quota: nothing starts before this
    paused_reason: str = ""
    pauses: int = 0  # insufficient_quota pauses since the last call that succeeded
    generation: int = 0  # reservations of an older generation were moved by a 429 or a pause
    holes: tuple[tuple[float, float], ...] = ()  # reserved slots freed by a cancel, reusable
    version: int = 0


@dataclass(frozen=True)
class DailyUsage:
    """What a change adds to its day's row (images, cost_usd): a row of its own per owner and day,
    expiring at `expires_at` (the table's TTL), so the stats row never grows with the days."""

    day: str  # YYYY-MM-DD, UTC
    counters: dict[str, float]
    expires_at: int


@dataclass(frozen=True)
class UsageChange:
    """What an item's end adds to its owner's stats (and everyone's): counter name -> amount."""

    owner: str
    counters: dict[str, float]
    daily: DailyUsage | None = None
