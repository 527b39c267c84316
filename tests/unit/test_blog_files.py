"""The blog CLI's disk logic: a section already on disk is found, and a refused write costs no image."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imagegen.config import settings_from
from imagegen.logic.blog_files import FilesystemError, find_on_disk, generate_section
from imagegen.models.domain import ImageSpec
from imagegen.models.requests import BlogImageRequest
from imagegen.providers.base import GeneratedImage
from imagegen.providers.offline import OfflineProvider

SETTINGS = settings_from({})
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class CountingProvider:
    """The offline renderer, counting its calls."""

    name, rate_limited, parallel_calls = "offline", False, 1

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        self.calls += 1
        return OfflineProvider().generate(spec)


def request(**fields: str) -> BlogImageRequest:
    return BlogImageRequest.model_validate(
        {"prompt": "a harbour at dawn", "post_id": "53", "section_id": "1", "size": "1024x1024", **fields}
    )


def test_the_original_scripts_files_count_as_on_disk(tmp_path: Path) -> None:
    # Given a section drawn by the original generate_dalle_image.py (its metadata fields only)
    raw = tmp_path / "posts/53/sections/1/raw"
    raw.mkdir(parents=True)
    (raw / "image_20250729_132646.png").write_bytes(b"png")
    original = {"post_id": 53, "section_id": 1, "prompt": "a harbour at dawn", "model": "dall-e-3"}
    (raw / "image_20250729_132646_metadata.json").write_text(json.dumps({**original, "size": "1024x1024"}))
    # When the same section is looked for, then found; another size or prompt is not
    found = find_on_disk(request(), tmp_path, SETTINGS, NOW)
    assert found is not None and found.skipped and found.model == "dall-e-3"
    assert found.image_path == raw / "image_20250729_132646.png"
    assert find_on_disk(request(size="1792x1024"), tmp_path, SETTINGS, NOW) is None
    assert find_on_disk(request(prompt="a harbour at dusk"), tmp_path, SETTINGS, NOW) is None
    assert find_on_disk(request(output_format="webp"), tmp_path, SETTINGS, NOW) is None


def test_metadata_without_its_image_or_unreadable_is_not_on_disk(tmp_path: Path) -> None:
    raw = tmp_path / "posts/53/sections/1/raw"
    raw.mkdir(parents=True)
    metadata = {"prompt": "a harbour at dawn", "size": "1024x1024"}
    (raw / "a_metadata.json").write_text(json.dumps(metadata))  # a.png is missing
    (raw / "b.png").write_bytes(b"png")
    (raw / "b_metadata.json").write_text("{not json")
    assert find_on_disk(request(), tmp_path, SETTINGS, NOW) is None


def test_a_section_on_disk_is_not_drawn_again_unless_forced(tmp_path: Path) -> None:
    provider = CountingProvider()
    first = generate_section(request(), tmp_path, provider, SETTINGS, lambda: NOW)
    again = generate_section(request(), tmp_path, provider, SETTINGS, lambda: NOW)
    assert (first.skipped, again.skipped, provider.calls) == (False, True, 1)
    assert again.image_path == first.image_path
    forced = generate_section(request(), tmp_path, provider, SETTINGS, lambda: NOW, force=True)
    assert (forced.skipped, forced.image_path, provider.calls) == (False, first.image_path, 2)
    assert len(list(first.image_path.parent.iterdir())) == 2  # redrawn in place: one image, one metadata


def test_a_named_file_drawn_from_another_prompt_is_refused_before_any_call(tmp_path: Path) -> None:
    provider = CountingProvider()
    generate_section(request(filename="hero"), tmp_path, provider, SETTINGS, lambda: NOW)
    with pytest.raises(FilesystemError, match="another prompt or size"):
        generate_section(request(filename="hero", prompt="other"), tmp_path, provider, SETTINGS, lambda: NOW)
    assert provider.calls == 1
