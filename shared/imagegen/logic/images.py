"""Reading stored images: only their owner gets a (short-lived) URL."""

from __future__ import annotations

import hashlib
import re

from imagegen.errors import ImageNotFoundError
from imagegen.logic.services import Services
from imagegen.models.domain import Caller

_KEY = re.compile(r"^(?:[A-Za-z0-9_-]+/){1,8}[A-Za-z0-9_-]+(?:\.png|\.webp|\.jpeg|_metadata\.json)$")


def owner_tag(owner: str) -> str:
    """What the bucket records of an owner: a hash (S3 metadata is ASCII, and a sub may be an email)."""
    return hashlib.sha256(owner.encode()).hexdigest()[:32]


def image_location(key: str, caller: Caller, services: Services) -> str:
    """A presigned GET URL for the caller's own image or metadata; anything else is not found."""
    metadata = services.images.metadata_of(key) if _KEY.match(key) else None
    if metadata is None or metadata.get("owner") != owner_tag(caller.sub):
        raise ImageNotFoundError(f"no image '{key}'")
    return services.images.presigned_get(key, services.settings.presign_ttl_seconds)
