"""Generate one blog image onto the local disk: the original blog script's workflow, checked."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from imagegen.config import Settings
from imagegen.dal.local_files import write_new
from imagegen.errors import ImagegenError
from imagegen.logic.metadata import build_metadata
from imagegen.logic.specs import blog_spec
from imagegen.models.requests import BlogImageRequest
from imagegen.providers.base import Provider
from imagegen.providers.validation import validate_image


class FilesystemError(ImagegenError):
    code = "filesystem"


class PartialSuccessError(FilesystemError):
    """The image is on disk but its metadata could not be written."""

    code = "partial_success"


@dataclass(frozen=True)
class SavedImage:
    image_path: Path
    metadata_path: Path
    model: str
    provider: str
    cost_usd: float | None = None  # what the provider bills, from its usage
    billed_calls: int = 0


def generate_to_disk(
    request: BlogImageRequest,
    out_dir: Path,
    provider: Provider,
    settings: Settings,
    clock: Callable[[], datetime],
    *,
    overwrite: bool = False,
) -> SavedImage:
    """Draw, check, and write `<out>/posts/<post>/sections/<section>/raw/<name>.<fmt>` and its metadata."""
    now = clock()
    spec = blog_spec(request, uuid.uuid4().hex, now, settings)
    image = provider.generate(spec)
    validate_image(image.data, spec.output_format, spec.width, spec.height, settings.images_max_size)
    data = image.data
    image_path = out_dir / spec.key
    metadata_path = out_dir / spec.metadata_key
    try:
        write_new(image_path, data, overwrite=overwrite)
    except FileExistsError:
        raise FilesystemError(f"{image_path} exists; choose another --filename or pass --force") from None
    except OSError as error:
        raise FilesystemError(f"could not write {image_path}: {error.strerror or error}") from None
    metadata = build_metadata(spec, image, data, str(image_path.resolve()), now)
    try:
        write_new(metadata_path, json.dumps(metadata, indent=2).encode(), overwrite=True)
    except OSError as error:
        raise PartialSuccessError(
            f"image saved at {image_path}, but its metadata could not be written to {metadata_path}: "
            f"{error.strerror or error}"
        ) from None
    return SavedImage(
        image_path, metadata_path, image.model, image.provider, image.cost_usd, image.billed_calls
    )
