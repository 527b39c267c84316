"""What the client sends and parses. Each model names the OpenAPI schema it mirrors (`OPENAPI_SCHEMAS`):
the server's suite checks every field here against `GET /api/openapi.json`, so the two cannot drift.

Answers keep fields the client does not know yet (extra="allow"): a newer service stays readable.
Requests leave out what is None, so the service's own defaults apply.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

TERMINAL_STATES = frozenset({"completed", "partially_failed", "failed", "cancelled"})


class IconStyle(StrEnum):
    """The styles the service draws (its IconRequest.style enum)."""

    MINIMAL = "minimal"
    DETAILED = "detailed"
    FLAT = "flat"
    MODERN = "modern"
    VINTAGE = "vintage"
    ABSTRACT = "abstract"
    REALISTIC = "realistic"


class IconColor(StrEnum):
    """The colour schemes the service paints with (its IconRequest.color_scheme enum)."""

    MONOCHROME = "monochrome"
    COLORFUL = "colorful"
    BRAND_COLORS = "brand_colors"
    BLUE_TONES = "blue_tones"
    WARM_TONES = "warm_tones"
    PASTEL = "pastel"
    DARK = "dark"


# --- requests ---------------------------------------------------------------------------------


class _Body(BaseModel):
    """A JSON body: options the client does not name yet pass through as they are."""

    model_config = ConfigDict(extra="allow")

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class _IconOptions(_Body):
    style: IconStyle | None = None
    color_scheme: IconColor | None = None
    custom_elements: list[str] | None = None
    size: str | None = None  # WIDTHxHEIGHT; default: the service's OPENAI_IMAGE_SIZE
    model: str | None = None
    quality: str | None = None
    output_format: str | None = None
    background: str | None = None
    derivatives: list[int] | None = None  # smaller copies: 512, 256, 128, 64, 32
    brand_colors: list[str] | None = None  # with color_scheme brand_colors
    use_cache: bool | None = None
    max_cost_usd: float | None = None
    priority: str | None = None  # "economy": OpenAI's Batch API, half price, within 24 h
    webhook_url: str | None = None
    webhook_events: list[str] | None = None


class IconRequest(_IconOptions):
    """POST /api/icons/generate: one icon for a category."""

    category: str


class BatchGenerationRequest(_IconOptions):
    """POST /api/icons/generate/batch: every category in `variations_per_category` variations."""

    categories: list[str]
    variations_per_category: int | None = None


class BlogImageRequest(_Body):
    """POST /api/images/generate: one image for a blog post's section."""

    prompt: str
    post_id: str
    section_id: str
    filename: str | None = None
    size: str | None = None
    model: str | None = None
    quality: str | None = None
    output_format: str | None = None
    template: str | None = None  # hero, section or photo; the prompt is used as written without
    use_cache: bool | None = None
    max_cost_usd: float | None = None
    priority: str | None = None  # "economy": OpenAI's Batch API, half price, within 24 h
    webhook_url: str | None = None
    webhook_events: list[str] | None = None


# --- answers ----------------------------------------------------------------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class Counts(_Answer):
    total: int
    completed: int
    failed: int
    cancelled: int
    pending: int


class Webhook(_Answer):
    url: str
    events: list[str]


class JobStatus(_Answer):
    batch_id: str
    kind: str
    state: str
    counts: Counts
    percent: float
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    billed_calls: int
    status_url: str
    result_url: str
    webhook: Webhook | None = None
    priority: str = "standard"  # economy: OpenAI's Batch API, half price, within 24 h
    provider_batches: list[str] = []
    cancel_requested: bool = False

    @property
    def done(self) -> bool:
        return self.state in TERMINAL_STATES


class JobAccepted(_Answer):
    batch_id: str
    state: str
    total: int
    status_url: str
    result_url: str
    priority: str = "standard"


class Derivative(_Answer):
    size: str
    key: str
    image_url: str
    download_url: str


class Item(_Answer):
    index: int
    state: str
    category: str | None
    variation: int
    post_id: str | None
    section_id: str | None
    size: str
    key: str
    image_url: str | None
    metadata_url: str | None
    error: str | None
    cache_hit: bool = False
    billed_calls: int = 0
    download_url: str | None = None
    metadata_download_url: str | None = None
    download_url_expires_at: datetime | None = None
    derivatives: list[Derivative] = []


class JobResult(_Answer):
    batch_id: str
    state: str
    counts: Counts
    billed_calls: int = 0
    items: list[Item]

    @property
    def done(self) -> bool:
        return self.state in TERMINAL_STATES


class ImageLink(_Answer):
    key: str
    download_url: str
    download_url_expires_at: datetime


class JobPage(_Answer):
    batches: list[JobStatus]
    next_cursor: str | None


class Suggestion(_Answer):
    category: str
    parent: str | None
    score: float
    matched: str
    icon: str


class Suggestions(_Answer):
    query: str
    suggestions: list[Suggestion]


class ModelUsage(_Answer):
    model: str
    images: int = 0
    billed_calls: int = 0
    lost_calls: int = 0
    actual_cost_usd: float = 0.0
    estimated_cost_usd: float = 0.0


class DayUsage(_Answer):
    date: str  # YYYY-MM-DD, UTC
    images: int
    cost_usd: float


class Stats(_Answer):
    scope: str
    generations: int
    completed: int
    failed: int
    success_rate: float | None
    average_ms: float | None
    p95_ms: float | None
    cache_hits: int
    cache_hit_rate: float | None
    retries: int
    rate_limited: int
    rate_waits: int
    billed_calls: int
    lost_calls: int
    actual_cost_usd: float
    estimated_cost_usd: float
    by_model: list[ModelUsage]
    by_day: list[DayUsage]  # the last 30 days, oldest first


class CachedEntry(_Answer):
    request_hash: str
    key: str
    image_url: str
    model: str
    kind: str
    summary: str
    created_at: str
    expires_at: int


class CachedPage(_Answer):
    entries: list[CachedEntry]
    next_cursor: str | None


class CacheCleared(_Answer):
    cleared: int
    scope: str


class Ticket(_Answer):
    ticket: str
    url: str
    expires_in: int


class Progress(BaseModel):
    """What a progress callback receives: from a status poll or a live (WebSocket) message."""

    batch_id: str
    state: str
    counts: Counts
    percent: float
    event: str = "status"  # "status" when polled, else the live message's type (item.completed, ...)

    @property
    def done(self) -> bool:
        return self.state in TERMINAL_STATES


# The OpenAPI schema each model mirrors, for the drift test (the server's suite).
OPENAPI_SCHEMAS: dict[type[BaseModel], str] = {
    IconRequest: "IconRequest",
    BatchGenerationRequest: "BatchRequest",
    BlogImageRequest: "BlogImageRequest",
    Counts: "CountsOut",
    Webhook: "WebhookOut",
    JobStatus: "JobStatusOut",
    JobAccepted: "JobAcceptedOut",
    Derivative: "DerivativeOut",
    Item: "ItemOut",
    JobResult: "JobResultOut",
    ImageLink: "ImageLinkOut",
    JobPage: "JobListOut",
    Suggestion: "SuggestionOut",
    Suggestions: "SuggestionsOut",
    ModelUsage: "ModelUsageOut",
    DayUsage: "DayUsageOut",
    Stats: "StatsOut",
    CachedEntry: "CachedEntryOut",
    CachedPage: "CachedListOut",
    CacheCleared: "CacheClearedOut",
    Ticket: "TicketOut",
}
