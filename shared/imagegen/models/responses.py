"""What callers receive."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from imagegen.models.domain import Counts


class CountsOut(BaseModel):
    total: int
    completed: int
    failed: int
    cancelled: int
    pending: int


def counts_out(counts: Counts) -> CountsOut:
    return CountsOut(
        total=counts.total,
        completed=counts.completed,
        failed=counts.failed,
        cancelled=counts.cancelled,
        pending=counts.total - counts.finished,
    )


class WebhookOut(BaseModel):
    """A job's webhook as its status shows it: where events go and which ones (the secret never)."""

    url: str
    events: list[str]


class WebhookSecretOut(BaseModel):
    """GET /api/webhooks/secret and its rotation: the owner's signing secret (Standard Webhooks)."""

    secret: str  # whsec_<base64>: give it to standardwebhooks.Webhook(secret).verify
    created_at: datetime
    # After a rotation, deliveries are signed with the previous secret too until then.
    previous_valid_until: datetime | None = None


class JobStatusOut(BaseModel):
    batch_id: str
    kind: str
    state: str
    counts: CountsOut
    percent: float
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    billed_calls: int  # provider calls that may be billed, timed-out ones included
    status_url: str
    result_url: str
    webhook: WebhookOut | None = None
    priority: str = "standard"  # economy: drawn by OpenAI's Batch API at half price, within 24 h
    provider_batches: list[str] = []  # economy: the Batch API's batch ids
    cancel_requested: bool = False


class JobAcceptedOut(BaseModel):
    batch_id: str
    state: str
    total: int
    status_url: str
    result_url: str
    priority: str = "standard"  # the path the job's new images take (economy: the Batch API)


class DerivativeOut(BaseModel):
    size: str
    key: str
    image_url: str  # the API path (bearer token; a 302 to download_url)
    download_url: str  # presigned: a browser fetches it with no token until download_url_expires_at


class ItemOut(BaseModel):
    index: int
    state: str
    category: str | None
    variation: int
    post_id: str | None
    section_id: str | None
    size: str
    key: str
    image_url: str | None  # the API path (bearer token; a 302 to download_url)
    metadata_url: str | None
    error: str | None
    cache_hit: bool = False
    billed_calls: int = 0  # provider calls that may be billed for this item
    # Once completed: presigned S3 GET URLs a page can use as they are (an <img src>), no token
    # needed, valid until download_url_expires_at (PRESIGN_TTL_SECONDS). Ask the result again for new ones.
    download_url: str | None = None
    metadata_download_url: str | None = None
    download_url_expires_at: datetime | None = None
    derivatives: list[DerivativeOut] = []


class ImageLinkOut(BaseModel):
    """GET /api/images/{key} with Accept: application/json: the presigned URL instead of a redirect."""

    key: str
    download_url: str
    download_url_expires_at: datetime


class JobResultOut(BaseModel):
    batch_id: str
    state: str
    counts: CountsOut
    billed_calls: int = 0
    items: list[ItemOut]


class SuggestionOut(BaseModel):
    category: str
    parent: str | None
    score: float
    matched: str
    icon: str


class SuggestionsOut(BaseModel):
    query: str
    suggestions: list[SuggestionOut]


class JobListOut(BaseModel):
    batches: list[JobStatusOut]
    next_cursor: str | None


class ModelUsageOut(BaseModel):
    model: str
    images: int = 0
    billed_calls: int = 0  # calls the provider may bill: answered, or timed out or cut off
    lost_calls: int = 0  # of which timed out or lost their connection
    actual_cost_usd: float = 0.0  # from each answer's usage; lost calls at their estimate
    estimated_cost_usd: float = 0.0  # the same calls, estimated from the token table before each call


class DayUsageOut(BaseModel):
    date: str  # YYYY-MM-DD, UTC
    images: int  # images stored that day
    cost_usd: float  # what that day's provider calls cost (lost calls at their estimate)


class StatsOut(BaseModel):
    scope: str  # "caller", or "everyone" for an admin's ?all=true
    generations: int  # provider generations that ended (stored or failed for good)
    completed: int
    failed: int
    success_rate: float | None
    average_ms: float | None
    p95_ms: float | None  # from log-spaced buckets: exact to within about 19 %
    cache_hits: int
    cache_hit_rate: float | None
    retries: int  # transient failures given back to the queue
    rate_limited: int  # provider 429s seen
    rate_waits: int  # items that went back to the queue to wait for their slot on the shared schedule
    billed_calls: int  # provider calls that may be billed, timed-out ones included
    lost_calls: int  # of which timed out or lost their connection (the provider bills them anyway)
    actual_cost_usd: float  # from the usage each answer reported; lost calls at their estimate
    estimated_cost_usd: float  # the same calls, estimated from the token table before each call
    by_model: list[ModelUsageOut]
    by_day: list[DayUsageOut]  # the last 30 days, oldest first, days without usage included as zeros


class CachedEntryOut(BaseModel):
    request_hash: str
    key: str
    image_url: str
    model: str
    kind: str
    summary: str  # the category or the prompt's start
    created_at: str
    expires_at: int


class CachedListOut(BaseModel):
    entries: list[CachedEntryOut]
    next_cursor: str | None


class CacheClearedOut(BaseModel):
    cleared: int
    scope: str  # "caller" or "everyone"


class ErrorOut(BaseModel):
    """Every error the service answers: a stable code and a sentence for people."""

    error: str  # invalid_request, not_found, job_finished, quota_exceeded, internal_error, ...
    message: str


class GatewayErrorOut(BaseModel):
    """The errors API Gateway answers itself before any function runs (401, 403, an unknown path's 404)."""

    message: str
