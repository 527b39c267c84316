"""Incoming CMS webhooks once verified (issue 12, part 2: `POST /api/hooks/{source}`; not wired yet)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

HookSource = Literal["ghost", "sanity", "contentful", "standard"]
HOOK_SOURCES: tuple[HookSource, ...] = ("ghost", "sanity", "contentful", "standard")


class HookEvent(BaseModel):
    """What a verified webhook says happened; fields a source does not send stay None."""

    model_config = ConfigDict(frozen=True)

    source: HookSource
    event_type: Annotated[str, Field(description="the source's own name for the event, or its resource")]
    post_id: str | None = None
    title: str | None = None
    updated_at: str | None = None
    content_hash: Annotated[
        str | None, Field(description="sha256 hex of the post's html (Ghost): a change of text, not of tags")
    ] = None
    deleted: bool = False


class VerifiedHook(BaseModel):
    """A webhook whose signature, timestamp and novelty were checked."""

    model_config = ConfigDict(frozen=True)

    event: HookEvent
    replay_key: str
    signed_at: datetime
