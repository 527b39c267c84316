"""Check a provider's bytes before anything is stored."""

from __future__ import annotations

import io

from PIL import Image

from imagegen.errors import PermanentGenerationError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 4096 * 4096


def validate_png(data: bytes, width: int, height: int, max_bytes: int) -> None:
    """Raise PermanentGenerationError unless `data` is a whole PNG of exactly width x height."""
    if len(data) > max_bytes:
        raise PermanentGenerationError(f"image is {len(data)} bytes, over the {max_bytes}-byte limit")
    if not data.startswith(PNG_SIGNATURE):
        raise PermanentGenerationError("provider returned bytes that are not a PNG")
    if width * height > MAX_PIXELS:
        raise PermanentGenerationError("requested image exceeds the pixel cap")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.size != (width, height):
                raise PermanentGenerationError(
                    f"image is {image.size[0]}x{image.size[1]}, expected {width}x{height}"
                )
            image.verify()
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.load()  # verify() skips pixel data; a truncated stream fails here
    except PermanentGenerationError:
        raise
    except Exception as error:  # Pillow raises many types for corrupt data; all mean the same here
        raise PermanentGenerationError(f"provider returned a damaged PNG ({type(error).__name__})") from error
