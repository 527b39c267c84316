"""Generate one blog image onto the local disk: the original blog script's workflow, checked."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from imagegen.config import Settings
from imagegen.dal.local_files import read_json, write_new
from imagegen.errors import ImagegenError
from imagegen.logic.metadata import build_metadata
from imagegen.logic.specs import blog_spec
from imagegen.models.domain import METADATA_SUFFIX
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
    skipped: bool = False  # found on disk by find_on_disk, not drawn again


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
    image_path = out_dir / spec.key
    metadata_path = out_dir / spec.metadata_key
    if not overwrite and image_path.exists():  # before the call: a refused write must not cost an image
        raise FilesystemError(f"{image_path} exists; choose another --filename or pass --force")
    image = provider.generate(spec)
    validate_image(image.data, spec.output_format, spec.width, spec.height, settings.images_max_size)
    data = image.data
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


def find_on_disk(
    request: BlogImageRequest, out_dir: Path, settings: Settings, now: datetime
) -> SavedImage | None:
    """The section's image already on disk beside its metadata, drawn from the same prompt and size.

    A section that names its file is looked for under that name only; else the newest match in the
    section's folder (timestamped names sort by time). The original script's metadata matches too."""
    spec = blog_spec(request, "on-disk", now, settings)
    if request.filename:
        candidates = [out_dir / spec.metadata_key]
    else:
        candidates = sorted((out_dir / spec.key).parent.glob(f"*{METADATA_SUFFIX}"), reverse=True)
    for metadata_path in candidates:
        image_path = metadata_path.with_name(
            f"{metadata_path.name.removesuffix(METADATA_SUFFIX)}.{spec.output_format}"
        )
        metadata = read_json(metadata_path)
        if (
            isinstance(metadata, dict)
            and (metadata.get("prompt"), metadata.get("size")) == (spec.prompt, spec.size)
            and image_path.is_file()
        ):
            model, provider = str(metadata.get("model")), str(metadata.get("provider", "unknown"))
            return SavedImage(image_path, metadata_path, model, provider, skipped=True)
    return None


def generate_section(
    request: BlogImageRequest,
    out_dir: Path,
    provider: Provider,
    settings: Settings,
    clock: Callable[[], datetime],
    *,
    force: bool = False,
) -> SavedImage:
    """A manifest's section: skipped when find_on_disk finds it, else drawn; force redraws it in place."""
    now = clock()
    existing = find_on_disk(request, out_dir, settings, now)
    if existing and not force:
        return existing
    named = out_dir / blog_spec(request, "on-disk", now, settings).key
    if request.filename and not force and named.exists():
        raise FilesystemError(
            f"{named} exists, drawn from another prompt or size (see its metadata); "
            "rename the section's filename or pass --force"
        )
    if existing:  # under the same name, so a redraw replaces the image instead of adding one
        request = request.model_copy(update={"filename": existing.image_path.stem})
    return generate_to_disk(request, out_dir, provider, settings, clock, overwrite=force)
