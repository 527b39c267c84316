"""Check a provider's bytes before anything is stored, and convert between output formats."""

from __future__ import annotations

import io

from PIL import Image

from imagegen.errors import PermanentGenerationError

MAX_PIXELS = 4096 * 4096
PIL_FORMATS = {"png": "PNG", "webp": "WEBP", "jpeg": "JPEG"}
CONTENT_TYPES = {"png": "image/png", "webp": "image/webp", "jpeg": "image/jpeg"}


def _signature_ok(data: bytes, fmt: str) -> bool:
    if fmt == "png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if fmt == "jpeg":
        return data.startswith(b"\xff\xd8\xff")
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def validate_image(data: bytes, fmt: str, width: int, height: int, max_bytes: int) -> None:
    """Raise PermanentGenerationError unless `data` is a whole `fmt` image of exactly width x height."""
    if len(data) > max_bytes:
        raise PermanentGenerationError(f"image is {len(data)} bytes, over the {max_bytes}-byte limit")
    if not _signature_ok(data, fmt):
        raise PermanentGenerationError(f"provider returned bytes that are not a {fmt.upper()} image")
    if width * height > MAX_PIXELS:
        raise PermanentGenerationError("requested image exceeds the pixel cap")
    try:
        # Opened with the expected format only; the size is checked before any pixel is decoded,
        # so a decompression bomb never gets decoded.
        with Image.open(io.BytesIO(data), formats=[PIL_FORMATS[fmt]]) as image:
            if image.size != (width, height):
                raise PermanentGenerationError(
                    f"image is {image.size[0]}x{image.size[1]}, expected {width}x{height}"
                )
            image.verify()
        with Image.open(io.BytesIO(data), formats=[PIL_FORMATS[fmt]]) as image:
            image.load()  # verify() skips pixel data; a truncated stream fails here
    except PermanentGenerationError:
        raise
    except Exception as error:  # Pillow raises many types for corrupt data; all mean the same here
        raise PermanentGenerationError(
            f"provider returned a damaged image ({type(error).__name__})"
        ) from error


def validate_png(data: bytes, width: int, height: int, max_bytes: int) -> None:
    validate_image(data, "png", width, height, max_bytes)


def convert(data: bytes, fmt: str) -> bytes:
    """Re-encode checked PNG bytes as `fmt` (JPEG has no alpha: flattened on white)."""
    if fmt == "png":
        return data
    with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
        picture = image.convert("RGBA")
        if fmt == "jpeg":
            flat = Image.new("RGB", picture.size, (255, 255, 255))
            flat.paste(picture, mask=picture.getchannel("A"))
            picture = flat  # type: ignore[assignment]
        buffer = io.BytesIO()
        picture.save(buffer, format=PIL_FORMATS[fmt], quality=92)
        return buffer.getvalue()
