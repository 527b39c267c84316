"""The request cache: a request already drawn is answered from the stored image, with no provider call.

The key is a hash of the normalised request: provider, model, final prompt, size, quality, style,
colour scheme, variation, format, background and derivative sizes. With CACHE_SCOPE=owner (the
default) the owner is part of the hash, so one user's images never answer another's requests.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from imagegen.logic.cursors import decode_cursor, encode_cursor
from imagegen.logic.images import owner_tag
from imagegen.logic.services import Services
from imagegen.models.domain import CacheEntry, Caller, ImageSpec
from imagegen.models.responses import CacheClearedOut, CachedEntryOut, CachedListOut
from imagegen.providers.registry import CONTENT_TYPES

logger = Logger(child=True)


def request_hash(spec: ImageSpec, owner: str, provider: str, scope: str) -> str:
    normalised = {
        "provider": provider,
        "model": spec.model,
        "prompt": " ".join(spec.prompt.split()),
        "size": spec.size,
        "quality": spec.quality,
        "style": spec.style,
        "color_scheme": spec.color_scheme,
        "variation": spec.variation,
        "format": spec.output_format,
        "background": spec.background,
        "derivatives": sorted(spec.derivatives),
        "kind": spec.kind,
        "owner": owner if scope == "owner" else None,
    }
    return hashlib.sha256(json.dumps(normalised, sort_keys=True).encode()).hexdigest()


def _summary(spec: ImageSpec) -> str:
    return spec.category or (spec.user_prompt or spec.prompt)[:80]


def remember(spec: ImageSpec, owner: str, model: str, services: Services) -> None:
    """Record a freshly stored image under its request hash (the worker, after storing)."""
    if not spec.request_hash or not services.settings.cache_enabled:
        return
    now = services.clock()
    services.cache.put(
        CacheEntry(
            request_hash=spec.request_hash,
            owner=owner,
            key=spec.key,
            metadata_key=spec.metadata_key,
            model=model,
            kind=spec.kind,
            summary=_summary(spec),
            created_at=now,
            expires_at=int((now + timedelta(days=services.settings.cache_ttl_days)).timestamp()),
        )
    )


def _derivative_key(stem_key: str, pixels: int, fmt: str) -> str:
    return f"{stem_key.rsplit('.', 1)[0]}_{pixels}px.{fmt}"


def find(spec: ImageSpec, services: Services) -> CacheEntry | None:
    """The live entry answering this spec, if its image is still stored."""
    if not spec.request_hash:
        return None
    entry = services.cache.get(spec.request_hash, services.clock())
    if entry is None or services.images.metadata_of(entry.metadata_key) is None:
        return None
    return entry


def serve(
    spec: ImageSpec, entry: CacheEntry, job_id: str, index: int, owner: str, services: Services
) -> None:
    """Copy the cached image (and its derivatives) to the spec's key, with metadata saying so."""
    now = services.clock()
    sources = {entry.key: spec.key} | {
        _derivative_key(entry.key, px, spec.output_format): spec.derivative_key(px) for px in spec.derivatives
    }
    bodies = {source: services.images.read(source) for source in sources}
    metadata_body = services.images.read(entry.metadata_key)
    if any(body is None for body in bodies.values()) or metadata_body is None:
        raise RuntimeError(f"cache entry {entry.request_hash} lost its objects while being served")
    tags = {"job-id": job_id, "item": str(index), "owner": owner_tag(owner)}
    content_type = CONTENT_TYPES[spec.output_format]
    for source, target in sources.items():
        body = bodies[source]
        assert body is not None  # checked above
        services.images.put_new(target, body, content_type, tags)
    metadata = _cached_metadata(json.loads(metadata_body), spec, entry, job_id, index, now, services)
    services.images.put_new(
        spec.metadata_key, json.dumps(metadata, indent=2).encode(), "application/json", tags
    )


def _cached_metadata(
    source: dict[str, Any],
    spec: ImageSpec,
    entry: CacheEntry,
    job_id: str,
    index: int,
    now: datetime,
    services: Services,
) -> dict[str, Any]:
    image_url = services.settings.image_url
    derivatives = [
        {"size": f"{px}x{px}", "key": spec.derivative_key(px), "url": image_url(spec.derivative_key(px))}
        for px in spec.derivatives
    ]
    return source | {
        "post_id": spec.post_id,
        "section_id": spec.section_id,
        "image_path": spec.key,
        "image_url": image_url(spec.key),
        "derivatives": derivatives,
        "job_id": job_id,
        "item_index": index,
        "requested_quality": spec.requested_quality,  # what this request asked for, not the source's
        "requested_style": spec.requested_style,
        "cache_hit": True,
        "cached_from": entry.key,
        "served_at": now.isoformat(),
        "cost_usd": 0.0,  # a cache hit calls nobody
        "cost_usd_estimate": 0.0,
        "billed_calls": 0,
        "usage": None,
    }


CURSOR_FIELDS = frozenset({"request_hash", "owner", "created_at"})


def list_cached(caller: Caller, limit: int, cursor: str | None, services: Services) -> CachedListOut:
    """The caller's live cache entries, newest first."""
    start = decode_cursor(cursor, caller, CURSOR_FIELDS) if cursor else None
    entries, last = services.cache.list_for(caller.sub, limit, start)
    now = services.clock().timestamp()
    return CachedListOut(
        entries=[
            CachedEntryOut(
                request_hash=entry.request_hash,
                key=entry.key,
                image_url=services.settings.image_url(entry.key),
                model=entry.model,
                kind=entry.kind,
                summary=entry.summary,
                created_at=entry.created_at.isoformat(),
                expires_at=entry.expires_at,
            )
            for entry in entries
            if entry.expires_at > now
        ],
        next_cursor=encode_cursor(last) if last else None,
    )


def clear_cache(caller: Caller, services: Services) -> CacheClearedOut:
    """Forget the caller's entries; an admin's clear forgets every entry.

    Only the cache entries go: the images already delivered stay where they are."""
    if caller.is_admin:
        return CacheClearedOut(cleared=services.cache.clear(None), scope="everyone")
    return CacheClearedOut(cleared=services.cache.clear(caller.sub), scope="caller")
