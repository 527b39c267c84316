"""Check a provider's bytes before anything is stored, and convert between output formats."""

from __future__ import annotations

import io

from PIL import Image

from imagegen.errors import PermanentGenerationError

MAX_PIXELS = 4096 * 4096
PIL_FORMATS = {"png": "PNG", "webp": "WEBP", "jpeg": "JPEG"}


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


def encode(image: Image.Image, fmt: str) -> bytes:
    """Encode a picture as `fmt` (JPEG has no alpha: flattened on white)."""
    if fmt == "jpeg" and image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    buffer = io.BytesIO()
    image.save(buffer, format=PIL_FORMATS[fmt], quality=92)
    return buffer.getvalue()


def derivative(data: bytes, fmt: str, pixels: int) -> bytes:
    """A checked image scaled to pixels x pixels, in the same format."""
    with Image.open(io.BytesIO(data), formats=[PIL_FORMATS[fmt]]) as image:
        return encode(image.resize((pixels, pixels), Image.Resampling.LANCZOS), fmt)
