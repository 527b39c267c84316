"""Reading stored images: only their owner gets a (short-lived) URL."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from imagegen.errors import ImageNotFoundError
from imagegen.logic.services import Services
from imagegen.models.domain import Caller
from imagegen.models.responses import ImageLinkOut

_KEY = re.compile(r"^(?:[A-Za-z0-9_-]+/){1,8}[A-Za-z0-9_-]+(?:\.png|\.webp|\.jpeg|_metadata\.json)$")


def owner_tag(owner: str) -> str:
    """What the bucket records of an owner: a hash (S3 metadata is ASCII, and a sub may be an email)."""
    return hashlib.sha256(owner.encode()).hexdigest()[:32]


def presign(keys: Iterable[str], services: Services) -> tuple[dict[str, str], datetime]:
    """Presigned GET URLs of keys the caller is known to own, and when they expire.

    The expiry is taken before signing and cut to the second (SigV4's X-Amz-Date has no fraction):
    it is never later than the URLs' own."""
    ttl = services.settings.presign_ttl_seconds
    signed_at = services.clock().replace(microsecond=0)
    urls = {key: services.images.presigned_get(key, ttl) for key in keys}
    return urls, signed_at + timedelta(seconds=ttl)


def _owned_key(key: str, caller: Caller, services: Services) -> str:
    metadata = services.images.metadata_of(key) if _KEY.match(key) else None
    if metadata is None or metadata.get("owner") != owner_tag(caller.sub):
        raise ImageNotFoundError(f"no image '{key}'")
    return key


def image_location(key: str, caller: Caller, services: Services) -> str:
    """A presigned GET URL for the caller's own image or metadata; anything else is not found."""
    urls, _ = presign([_owned_key(key, caller, services)], services)
    return urls[key]


def image_link(key: str, caller: Caller, services: Services) -> ImageLinkOut:
    """The same URL as image_location, with its expiry, for a page that cannot follow a redirect."""
    urls, expires_at = presign([_owned_key(key, caller, services)], services)
    return ImageLinkOut(key=key, download_url=urls[key], download_url_expires_at=expires_at)
