"""The model registry: what each model accepts, and retired names mapped to the current model."""

from __future__ import annotations

import json

import pytest

from imagegen.errors import InvalidRequestError
from imagegen.logic.jobs import create_job
from imagegen.logic.run_item import run_item
from imagegen.models.domain import Caller
from imagegen.models.requests import BlogImageRequest, IconRequest
from imagegen.providers.registry import MODELS, ModelRefused, check_request, choose_model
from tests.unit.fakes import make_services

ALICE = Caller(sub="alice")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_draws_the_standard_sizes_and_qualities(name: str) -> None:
    choice = choose_model(name, "gpt-image-2")
    for size in ("1024x1024", "1536x1024", "1024x1536"):
        width, height = (int(side) for side in size.split("x"))
        for quality in ("low", "medium", "high", "auto"):
            check_request(choice, width, height, quality, "auto", "png", "a prompt")


@pytest.mark.parametrize(
    ("name", "width", "height"),
    [
        ("gpt-image-1.5", 1792, 1024),
        ("gpt-image-1-mini", 512, 512),
        ("chatgpt-image-latest", 1024, 1792),
        ("gpt-image-2", 1000, 1000),  # not divisible by 16
        ("gpt-image-2", 3840, 1024),  # wider than 3:1
        ("gpt-image-2", 3840, 3840),  # above 3840x2160 pixels
    ],
)
def test_sizes_a_model_cannot_draw_are_refused(name: str, width: int, height: int) -> None:
    with pytest.raises(ModelRefused):
        check_request(choose_model(name, "gpt-image-2"), width, height, "auto", "auto", "png", "p")


def test_gpt_image_2_draws_free_sizes_like_the_blog_default() -> None:
    check_request(choose_model("gpt-image-2", "gpt-image-2"), 1792, 1024, "high", "opaque", "webp", "p")
    check_request(choose_model("gpt-image-2", "gpt-image-2"), 3840, 2160, "low", "auto", "png", "p")


def test_transparent_jpeg_and_unknown_values_are_refused() -> None:
    choice = choose_model("gpt-image-2", "gpt-image-2")
    for quality, background, fmt in (
        ("hd", "auto", "png"),
        ("auto", "glass", "png"),
        ("auto", "transparent", "jpeg"),
    ):
        with pytest.raises(ModelRefused):
            check_request(choice, 1024, 1024, quality, background, fmt, "p")


@pytest.mark.parametrize("retired", ["dall-e-2", "dall-e-3", "gpt-image-1"])
def test_retired_names_map_to_the_configured_model(retired: str) -> None:
    choice = choose_model(retired, "gpt-image-1.5")
    assert (choice.model.name, choice.requested, choice.mapped_from_retired) == (
        "gpt-image-1.5",
        retired,
        True,
    )


def test_a_retired_configured_model_maps_to_the_default() -> None:
    choice = choose_model(None, "dall-e-3")  # the original system's OPENAI_MODEL
    assert choice.model.name == "gpt-image-2" and choice.mapped_from_retired


def test_a_provider_timeout_longer_than_the_worker_is_refused_at_start() -> None:
    from pydantic import ValidationError

    from imagegen.config import Settings

    with pytest.raises(ValidationError, match="OPENAI_TIMEOUT"):
        Settings(openai_timeout=300, batch_timeout=300)


def test_unknown_model_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ModelRefused, match="gpt-image-2"):
        choose_model("dall-e-9", "gpt-image-2")


def test_a_request_no_model_can_serve_is_refused_before_anything_is_queued() -> None:
    services = make_services()
    request = BlogImageRequest(
        prompt="x", post_id="1", section_id="1", size="1792x1024", model="gpt-image-1.5"
    )
    with pytest.raises(InvalidRequestError, match="1024x1024"):
        create_job(request, ALICE, services)
    assert services.queue.sent == [] and services.jobs.jobs == {}  # type: ignore[attr-defined]


def test_a_retired_model_is_served_and_the_mapping_recorded_in_the_metadata() -> None:
    services = make_services()
    job_id = create_job(IconRequest(category="tools", model="dall-e-3"), ALICE, services).batch_id
    run_item(services.queue.sent[0], 1, "r", services)  # type: ignore[attr-defined]
    item = services.jobs.get_item(job_id, 0)
    assert item is not None
    metadata = json.loads(services.images.objects[item.spec.metadata_key][0])  # type: ignore[attr-defined]
    assert metadata["requested_model"] == "dall-e-3"
    assert item.spec.model == "gpt-image-2"
