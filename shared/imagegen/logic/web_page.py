"""The web page's files (shared/imagegen/web, carried by the Lambda layer) and the headers they go with."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
INDEX = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str  # the content's hash: a browser revalidates (no-cache) and gets 304 when unchanged


@cache
def asset(name: str) -> Asset | None:
    """The page's file at `name` (relative, e.g. app.js or samples/style-flat.png); None when there is
    none, or when the name leaves the page's folder or has a type the page does not serve."""
    path = (WEB_DIR / name).resolve()
    content_type = CONTENT_TYPES.get(path.suffix)
    if content_type is None or not path.is_relative_to(WEB_DIR) or not path.is_file():
        return None
    body = path.read_bytes()
    return Asset(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def security_headers(images_url: str, websocket_url: str) -> dict[str, str]:
    """What every answer of the page carries: a policy allowing only this origin, plus the images'
    presigned URLs' origin (images, and the metadata files fetch() reads) and the WebSocket API's."""
    images, websocket = _origin(images_url), _origin(websocket_url)
    policy = "; ".join(
        (
            "default-src 'self'",
            f"img-src 'self' data: {images}".strip(),
            f"connect-src 'self' {images} {websocket}".strip(),
            "style-src 'self'",
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # Files keep their names from one version to the next (no build step hashes them): a browser
        # keeps them but asks again each time, and the ETag makes that a 304.
        "Cache-Control": "no-cache",
    }
