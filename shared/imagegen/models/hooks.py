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


class HookTenant(BaseModel):
    """Who a hook URL belongs to (stored item `hook#{hook_id}`): its owner never leaves the service."""

    model_config = ConfigDict(frozen=True)

    hook_id: str
    owner: str
    source: HookSource
    secret: str
    previous_secret: str | None = None  # still accepted until previous_until, after a rotation
    previous_until: str | None = None  # ISO 8601 UTC
    created_at: str


class HookSecretOut(BaseModel):
    """POST /api/hooks/{source}/secret: what to paste into the CMS's webhook settings."""

    source: HookSource
    url: Annotated[str, Field(description="The hook URL to give the CMS; it names no owner")]
    secret: Annotated[str, Field(description="The signing secret to give the CMS")]
    previous_secret_valid_until: Annotated[
        datetime | None, Field(description="After a rotation, the old secret is accepted until then")
    ] = None


class HookAnswerOut(BaseModel):
    """What a webhook caused: a blog job for the sections that are new or changed, or nothing."""

    outcome: Literal["created", "unchanged", "ignored"]
    post_id: str | None = None
    batch_id: Annotated[str | None, Field(description="The blog job made for the changed sections")] = None
    status_url: str | None = None
    sections: Annotated[list[str], Field(description="Sections whose images are being made")] = []
    unchanged: Annotated[list[str], Field(description="Sections whose text has not changed")] = []
    reason: Annotated[str, Field(description="Why nothing was made, when nothing was")] = ""
