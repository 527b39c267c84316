"""Incoming CMS webhooks, wired (issue 12, part 2): an owner's hook per source, and what a webhook
posted to it does (a blog job for the post's new or changed sections, or nothing).

A hook URL names its tenant by an unguessable id (`/api/hooks/ghost?hook=<id>`), so no owner id is
ever pasted into a CMS. Verification is logic/hooks_in.verify_hook; the replay store and the
section hashes are the events table's rows (dal/events_table.py). Nothing here calls the provider:
the job is queued and the webhook answered at once.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from imagegen.errors import HookNotFoundError, WebhookRejectedError
from imagegen.logic.hook_posts import PostUpdate, SectionPrompt, post_update
from imagegen.logic.hooks_in import HookRequest, verify_hook
from imagegen.logic.job_commands import create_job
from imagegen.logic.services import Services
from imagegen.logic.webhooks_out import new_webhook_secret
from imagegen.models.domain import Caller
from imagegen.models.hooks import HookAnswerOut, HookSecretOut, HookSource, HookTenant, VerifiedHook
from imagegen.models.requests import BlogImageRequest, BlogPost
from imagegen.paths import status_url

logger = Logger(child=True)

HOOKS_PATH = "/api/hooks"  # POST /api/hooks/{source}?hook={hook_id}
ROTATION_GRACE = timedelta(hours=24)  # the previous secret is accepted this long after a rotation
HOOK_ID = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
UNKNOWN_HOOK = "unknown hook URL: ask the service for this source's hook URL again"


class HooksStore(Protocol):
    def tenant(self, hook_id: str) -> HookTenant | None: ...
    def hook_of(self, owner: str, source: str) -> str | None: ...
    def save(self, tenant: HookTenant) -> None: ...
    def seen(self, hook_id: str, replay_key: str, expires_at: datetime) -> bool: ...
    def forget(self, hook_id: str, replay_key: str) -> None: ...
    def claim_section(self, owner: str, post_id: str, section_id: str, content_hash: str) -> str | None: ...
    def restore_section(self, owner: str, post_id: str, section_id: str, previous_hash: str) -> None: ...


# --- the owner's side ---------------------------------------------------------------------------


def new_hook_secret(source: HookSource) -> str:
    """A secret each CMS accepts: Standard Webhooks' `whsec_<base64>`, else 64 URL-safe characters
    (Contentful asks for 64 characters of letters, digits, - and _)."""
    return new_webhook_secret() if source == "standard" else secrets.token_urlsafe(48)


def hook_url(base_url: str, source: HookSource, hook_id: str) -> str:
    return f"{base_url}{HOOKS_PATH}/{source}?hook={hook_id}"


def _out(tenant: HookTenant, base_url: str) -> HookSecretOut:
    until = datetime.fromisoformat(tenant.previous_until) if tenant.previous_until else None
    return HookSecretOut(
        source=tenant.source,
        url=hook_url(base_url, tenant.source, tenant.hook_id),
        secret=tenant.secret,
        previous_secret_valid_until=until,
    )


def current_hook(source: HookSource, caller: Caller, hooks: HooksStore, base_url: str) -> HookSecretOut:
    """The caller's hook URL and secret for the source; HookNotFoundError before the first POST."""
    hook_id = hooks.hook_of(caller.sub, source)
    tenant = hooks.tenant(hook_id) if hook_id else None
    if tenant is None:
        raise HookNotFoundError(f"no {source} hook yet: POST {HOOKS_PATH}/{source}/secret makes one")
    return _out(tenant, base_url)


def rotate_hook(
    source: HookSource, caller: Caller, hooks: HooksStore, base_url: str, now: datetime
) -> HookSecretOut:
    """Make the caller's hook for the source, or give it a new secret: the URL stays, and the old
    secret is accepted for ROTATION_GRACE so the CMS can be updated without losing events."""
    hook_id = hooks.hook_of(caller.sub, source)
    current = hooks.tenant(hook_id) if hook_id else None
    if current is None:
        tenant = HookTenant(
            hook_id=secrets.token_urlsafe(24),
            owner=caller.sub,
            source=source,
            secret=new_hook_secret(source),
            created_at=now.isoformat(),
        )
    else:
        tenant = current.model_copy(
            update={
                "secret": new_hook_secret(source),
                "previous_secret": current.secret,
                "previous_until": (now + ROTATION_GRACE).isoformat(),
            }
        )
    hooks.save(tenant)
    logger.info("hook secret set", source=source, rotated=current is not None)
    return _out(tenant, base_url)


# --- the CMS's side -----------------------------------------------------------------------------


def _accepted_secrets(tenant: HookTenant, now: datetime) -> list[str]:
    until = datetime.fromisoformat(tenant.previous_until) if tenant.previous_until else None
    if tenant.previous_secret and until and until > now:
        return [tenant.secret, tenant.previous_secret]
    return [tenant.secret]


def _verified(
    source: HookSource, request: HookRequest, tenant: HookTenant, now: datetime, hooks: HooksStore
) -> VerifiedHook:
    """verify_hook with the current secret, then the previous one during its grace. A refusal names
    what the first secret found (each message is safe: it never holds a secret or an owner)."""
    refused: WebhookRejectedError | None = None
    for secret in _accepted_secrets(tenant, now):
        try:
            return verify_hook(
                source,
                request,
                secret,
                now=now,
                seen=lambda key, expires_at: hooks.seen(tenant.hook_id, key, expires_at),
            )
        except WebhookRejectedError as error:
            refused = refused or error
    assert refused is not None
    raise refused


def receive_hook(
    source: HookSource, hook_id: str, request: HookRequest, services: Services, hooks: HooksStore
) -> HookAnswerOut:
    """Verify a webhook posted to a hook URL and make images for its post's new or changed sections
    (one blog job), or nothing; WebhookRejectedError (401) for an unknown hook or a refused webhook."""
    tenant = hooks.tenant(hook_id) if HOOK_ID.fullmatch(hook_id) else None
    if tenant is None or tenant.source != source:
        raise WebhookRejectedError(UNKNOWN_HOOK)
    verified = _verified(source, request, tenant, services.clock(), hooks)
    try:
        update = post_update(verified.event, json.loads(request.body), _lowered(request))
        answer = _act(update, tenant.owner, services, hooks)
    except Exception:
        hooks.forget(tenant.hook_id, verified.replay_key)  # let the sender's retry through
        raise
    logger.info(
        "hook received",
        source=source,
        event_type=verified.event.event_type,
        outcome=answer.outcome,
        batch_id=answer.batch_id,
        sections=len(answer.sections),
    )
    return answer


def _lowered(request: HookRequest) -> dict[str, str]:
    return {name.lower(): value for name, value in request.headers.items()}


def changed_sections(
    owner: str, post_id: str, sections: list[SectionPrompt], hooks: HooksStore
) -> tuple[list[tuple[SectionPrompt, str]], list[str]]:
    """Claim each section's content hash: (claimed with the hash each replaces, unchanged ids)."""
    claim: Callable[[SectionPrompt], str | None] = lambda section: hooks.claim_section(  # noqa: E731
        owner, post_id, section.section_id, section.content_hash
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        previous = list(pool.map(claim, sections))
    claimed = [(section, old) for section, old in zip(sections, previous, strict=True) if old is not None]
    unchanged = [section.section_id for section, old in zip(sections, previous, strict=True) if old is None]
    return claimed, unchanged


def _act(update: PostUpdate, owner: str, services: Services, hooks: HooksStore) -> HookAnswerOut:
    if update.post_id is None or not update.sections:
        return HookAnswerOut(outcome="ignored", post_id=update.post_id, reason=update.reason)
    post_id = update.post_id
    claimed, unchanged = changed_sections(owner, post_id, update.sections, hooks)
    if not claimed:
        return HookAnswerOut(
            outcome="unchanged", post_id=post_id, unchanged=unchanged, reason="no section has changed"
        )
    post = BlogPost(
        sections=tuple(
            BlogImageRequest.model_validate(
                {"prompt": section.prompt, "post_id": post_id, "section_id": section.section_id}
            )
            for section, _ in claimed
        )
    )
    try:
        job = create_job(post, Caller(sub=owner), services)
    except Exception:
        for section, old in claimed:  # the next delivery tries these sections again
            hooks.restore_section(owner, post_id, section.section_id, old)
        raise
    return HookAnswerOut(
        outcome="created",
        post_id=post_id,
        batch_id=job.job_id,
        status_url=status_url(job.job_id, job.kind),
        sections=[section.section_id for section, _ in claimed],
        unchanged=unchanged,
    )
