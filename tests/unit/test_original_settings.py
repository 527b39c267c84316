"""The original systems' configuration (the icon service's environment, the blog script's key and
sizes) starts the service and draws: DALL-E values are mapped and recorded, never a 400 per request."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from imagegen.api.job_views import create_job
from imagegen.config import Settings, settings_from, settings_problem
from imagegen.logic import specs
from imagegen.logic.capacity import startup_warnings, worker_concurrency
from imagegen.logic.run_item import run_item
from imagegen.models.domain import Caller, ImageSpec
from imagegen.models.requests import BlogImageRequest, IconRequest
from imagegen.providers.base import GeneratedImage
from imagegen.providers.offline import OfflineProvider
from tests.unit.fakes import make_services

ALICE = Caller(sub="alice")
TODAY = date(2026, 11, 21)  # dall-e-3 shut down on 2026-05-12

# The icon service's "Environment Variables" block, as its document shows it.
ICON_SERVICE_ENV = {
    "OPENAI_API_KEY": "your_openai_api_key",
    "OPENAI_MODEL": "dall-e-3",
    "OPENAI_IMAGE_SIZE": "1024x1024",
    "OPENAI_IMAGE_QUALITY": "standard",
    "OPENAI_MAX_RETRIES": "3",
    "OPENAI_TIMEOUT": "60",
    "OPENAI_RATE_LIMIT_RPM": "50",
    "OPENAI_RATE_LIMIT_TPM": "40000",
    "IMAGES_BASE_URL": "/api/images/",
    "IMAGES_MAX_SIZE": "5242880",
    "BATCH_SIZE_DEFAULT": "5",
    "BATCH_TIMEOUT": "300",
    "BATCH_MAX_CONCURRENT": "3",
}
# Every value either original document configures: the icon service's variables, the blog script's
# key variable and its sizes, DALL-E's other quality and its two styles.
ORIGINAL_VALUES = [
    *ICON_SERVICE_ENV.items(),
    ("OPENAI_AUTH_TOKEN", "your-api-key-here"),
    ("OPENAI_IMAGE_SIZE", "1024x1792"),
    ("OPENAI_IMAGE_SIZE", "1792x1024"),
    ("OPENAI_IMAGE_QUALITY", "hd"),
    ("OPENAI_IMAGE_STYLE", "vivid"),
    ("OPENAI_IMAGE_STYLE", "natural"),
]


class Recording:
    """The offline renderer, keeping every spec it was asked to draw (what a provider would send)."""

    name = "recording"
    rate_limited = False
    parallel_calls = 1

    def __init__(self) -> None:
        self.specs: list[ImageSpec] = []

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        self.specs.append(spec)
        return OfflineProvider().generate(spec)


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    specs._warn_once.cache_clear()


def draw(
    environ: dict[str, str], request: IconRequest | BlogImageRequest
) -> tuple[dict[str, Any], ImageSpec]:
    """Queue `request` under settings read from `environ` alone, run its item: its metadata and what
    the provider was asked to draw."""
    provider = Recording()
    services = dataclasses.replace(make_services(provider), settings=settings_from(environ))
    services.clock.now = datetime(2026, 11, 21, 12, tzinfo=UTC)  # type: ignore[attr-defined]
    job_id = create_job(request, ALICE, services).batch_id
    run_item(services.queue.sent[0], 1, "r", services)
    item = services.jobs.get_item(job_id, 0)
    assert item is not None and item.state == "completed", item
    metadata = json.loads(services.images.objects[item.spec.metadata_key][0])
    assert len(provider.specs) == 1
    return metadata, provider.specs[0]


@pytest.mark.parametrize(("name", "value"), ORIGINAL_VALUES, ids=[f"{n}={v}" for n, v in ORIGINAL_VALUES])
def test_each_original_value_starts_the_service_and_an_icon_is_drawn(name: str, value: str) -> None:
    settings = settings_from({name: value})  # start-up: the settings validate, and hold the value
    read = getattr(settings, "openai_api_key" if name == "OPENAI_AUTH_TOKEN" else name.lower())
    read = read.get_secret_value() if isinstance(read, SecretStr) else read
    assert read == type(read)(value)
    metadata, drawn = draw({name: value}, IconRequest(category="office supplies"))
    assert drawn.quality in ("low", "medium", "high", "auto")  # a quality GPT image models take
    assert drawn.model == "gpt-image-2"
    if name == "OPENAI_IMAGE_SIZE":
        assert metadata["size"] == value  # gpt-image-2 draws the DALL-E sizes too


def test_the_whole_icon_service_environment_draws_with_every_mapping_recorded() -> None:
    metadata, drawn = draw(ICON_SERVICE_ENV, IconRequest(category="office supplies"))
    assert (drawn.model, drawn.quality, drawn.size) == ("gpt-image-2", "medium", "1024x1024")
    assert metadata["requested_model"] == "dall-e-3"
    assert (metadata["quality"], metadata["requested_quality"]) == ("medium", "standard")
    assert metadata["requested_style"] is None


@pytest.mark.parametrize(("dall_e", "gpt_image"), [("standard", "medium"), ("hd", "high")])
def test_a_configured_dall_e_quality_is_drawn_as_its_gpt_image_equivalent(
    dall_e: str, gpt_image: str
) -> None:
    settings = settings_from({"OPENAI_IMAGE_QUALITY": dall_e})
    assert (settings.openai_image_quality, settings.image_quality) == (dall_e, gpt_image)
    request = BlogImageRequest(prompt="a harbour at dawn", post_id="53", section_id="1")
    metadata, drawn = draw({"OPENAI_IMAGE_QUALITY": dall_e}, request)
    assert drawn.quality == metadata["quality"] == gpt_image
    assert metadata["requested_quality"] == dall_e


@pytest.mark.parametrize(("dall_e", "gpt_image"), [("standard", "medium"), ("hd", "high")])
def test_a_request_s_dall_e_quality_is_mapped_and_recorded_like_the_setting(
    dall_e: str, gpt_image: str
) -> None:
    metadata, drawn = draw({}, IconRequest(category="tools", quality=dall_e))  # type: ignore[arg-type]
    assert (drawn.quality, metadata["requested_quality"]) == (gpt_image, dall_e)


def test_gpt_image_qualities_are_drawn_as_asked_with_nothing_recorded() -> None:
    metadata, drawn = draw({"OPENAI_IMAGE_QUALITY": "low"}, IconRequest(category="tools"))
    assert (drawn.quality, metadata["requested_quality"]) == ("low", None)
    metadata, drawn = draw({"OPENAI_IMAGE_QUALITY": "low"}, IconRequest(category="tools", quality="high"))
    assert (drawn.quality, metadata["requested_quality"]) == ("high", None)


@pytest.mark.parametrize("style", ["vivid", "natural"])
def test_a_dall_e_style_is_recorded_and_leaves_the_drawing_alone(style: str) -> None:
    plain_metadata, plain = draw({}, IconRequest(category="tools"))
    metadata, drawn = draw({"OPENAI_IMAGE_STYLE": style}, IconRequest(category="tools"))
    assert metadata["requested_style"] == style and plain_metadata["requested_style"] is None
    assert drawn.prompt == plain.prompt and drawn.quality == plain.quality


def test_each_mapping_is_logged_once_not_on_every_request(caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_from({"OPENAI_IMAGE_QUALITY": "standard", "OPENAI_IMAGE_STYLE": "vivid"})
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            specs.model_fields(IconRequest(category="tools"), "", settings, TODAY)
    mapped = [record for record in caplog.records if record.getMessage() == "DALL-E value mapped"]
    assert len(mapped) == 2  # OPENAI_IMAGE_QUALITY once, OPENAI_IMAGE_STYLE once


@pytest.mark.parametrize(
    ("name", "value"),
    [("OPENAI_IMAGE_QUALITY", "ultra"), ("OPENAI_IMAGE_QUALITY", "HD "), ("OPENAI_IMAGE_STYLE", "baroque")],
)
def test_a_value_with_no_equivalent_stops_the_service_at_start_up_naming_the_setting(
    name: str, value: str
) -> None:
    with pytest.raises(ValidationError, match=name.lower()):
        settings_from({name: value})


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("OPENAI_IMAGE_QUALITY", "ultra", "OPENAI_IMAGE_QUALITY must be one of 'low', 'medium', 'high', "),
        ("OPENAI_IMAGE_STYLE", "baroque", "OPENAI_IMAGE_STYLE must be one of 'vivid' or 'natural'"),
        ("OPENAI_MODEL", "dall-e-4", "OPENAI_MODEL: unknown model 'dall-e-4'; known models: chatgpt-"),
    ],
)
def test_a_refusal_at_start_up_names_the_environment_variable_to_fix(
    name: str, value: str, said: str
) -> None:
    # An unknown model is refused at start-up too, not on every request (a caller cannot fix it)
    with pytest.raises(ValidationError) as refused:
        settings_from({name: value})
    assert settings_problem(refused.value).startswith(said)


def test_capacity_is_sized_for_the_quality_that_draws() -> None:
    original = settings_from({"OPENAI_IMAGE_QUALITY": "standard", "OPENAI_RATE_LIMIT_RPM": "50"})
    medium = settings_from({"OPENAI_IMAGE_QUALITY": "medium", "OPENAI_RATE_LIMIT_RPM": "50"})
    unknown_counted_as_high = settings_from({"OPENAI_IMAGE_QUALITY": "high", "OPENAI_RATE_LIMIT_RPM": "50"})
    assert worker_concurrency(original, TODAY) == worker_concurrency(medium, TODAY)
    assert worker_concurrency(original, TODAY) != worker_concurrency(unknown_counted_as_high, TODAY)


def test_the_original_environment_s_start_up_warnings_speak_of_the_mapped_quality() -> None:
    settings: Settings = settings_from(ICON_SERVICE_ENV)
    warnings = startup_warnings(settings, TODAY)
    assert warnings and all("standard" not in warning for warning in warnings)
    timeout = [warning for warning in warnings if warning.startswith("OPENAI_TIMEOUT leaves 60 s")]
    assert len(timeout) == 1 and "gpt-image-2 medium may take 240 s" in timeout[0]


def test_standard_and_medium_are_one_image_in_the_cache_each_copy_saying_what_it_asked_for() -> None:
    provider = Recording()
    services = make_services(provider)
    first = create_job(IconRequest(category="tools", quality="medium"), ALICE, services)
    run_item(services.queue.sent[0], 1, "r", services)
    second = create_job(IconRequest(category="tools", quality="standard"), ALICE, services)
    assert second.state == "completed" and len(provider.specs) == 1  # answered from the cache
    objects = services.images.objects
    metadata = {}
    for job in (first, second):
        item = services.jobs.get_item(job.batch_id, 0)
        assert item is not None
        metadata[job.batch_id] = json.loads(objects[item.spec.metadata_key][0])
    assert metadata[first.batch_id]["requested_quality"] is None
    assert metadata[second.batch_id]["cache_hit"] is True
    assert metadata[second.batch_id]["requested_quality"] == "standard"
