"""What callers receive."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class CountsOut(BaseModel):
    total: int
    completed: int
    failed: int
    cancelled: int
    pending: int


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
    status_url: str
    result_url: str


class JobAcceptedOut(BaseModel):
    batch_id: str
    state: str
    total: int
    status_url: str
    result_url: str


class ItemOut(BaseModel):
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


class JobResultOut(BaseModel):
    batch_id: str
    state: str
    counts: CountsOut
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
