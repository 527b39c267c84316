"""The model registry: what each model accepts, and its lifecycle on either side of a shutdown date."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from imagegen.api.job_views import create_job
from imagegen.errors import InvalidRequestError
from imagegen.logic.run_item import run_item
from imagegen.models.domain import Caller, ImageSpec
from imagegen.models.requests import BlogImageRequest, IconRequest
from imagegen.providers.base import GeneratedImage
from imagegen.providers.registry import (
    MODELS,
    ModelRefused,
    call_timeout_for,
    check_request,
    choose_model,
    current_models,
)
from tests.unit.fakes import make_services

ALICE = Caller(sub="alice")
EVE, SHUTDOWN = date(2026, 11, 30), date(2026, 12, 1)  # the day before gpt-image-1.5 & co. shut down
RETIRING = {
    "gpt-image-1.5": "gpt-image-2.6-sunburst",
    "chatgpt-image-latest": "gpt-image-2.6-sunburst",
    "gpt-image-1-mini": "gpt-image-2.6-flare",
}


@pytest.mark.parametrize("name", current_models(EVE))
def test_every_served_model_draws_the_standard_sizes_and_qualities(name: str) -> None:
    choice = choose_model(name, "gpt-image-2", EVE)
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
        check_request(choose_model(name, "gpt-image-2", EVE), width, height, "auto", "auto", "png", "p")


def test_gpt_image_2_draws_free_sizes_like_the_blog_default() -> None:
    check_request(choose_model("gpt-image-2", "gpt-image-2", EVE), 1792, 1024, "high", "opaque", "webp", "p")
    check_request(choose_model("gpt-image-2", "gpt-image-2", EVE), 3840, 2160, "low", "auto", "png", "p")


def test_transparent_jpeg_and_unknown_values_are_refused() -> None:
    choice = choose_model("gpt-image-2", "gpt-image-2", EVE)
    for quality, background, fmt in (
        ("hd", "auto", "png"),
        ("auto", "glass", "png"),
        ("auto", "transparent", "jpeg"),
    ):
        with pytest.raises(ModelRefused):
            check_request(choice, 1024, 1024, quality, background, fmt, "p")


@pytest.mark.parametrize("retired", ["dall-e-2", "dall-e-3", "gpt-image-1"])
def test_long_retired_names_map_to_the_configured_model(retired: str) -> None:
    choice = choose_model(retired, "gpt-image-2.6-flare", EVE)
    assert (choice.model.name, choice.requested, choice.mapped_from_retired) == (
        "gpt-image-2.6-flare",
        retired,
        True,
    )


def test_a_retired_configured_model_maps_to_the_default() -> None:
    choice = choose_model(None, "dall-e-3", EVE)  # the original system's OPENAI_MODEL
    assert choice.model.name == "gpt-image-2" and choice.mapped_from_retired


@pytest.mark.parametrize(("name", "replacement"), sorted(RETIRING.items()))
def test_a_model_is_served_until_its_shutdown_date_then_by_its_replacement(
    name: str, replacement: str
) -> None:
    before = choose_model(name, "gpt-image-2", EVE)
    assert (before.model.name, before.mapped_from_retired) == (name, False)
    after = choose_model(name, "gpt-image-2", SHUTDOWN)
    assert (after.model.name, after.requested, after.mapped_from_retired) == (replacement, name, True)
    assert after.note == f"{name} shut down on 2026-12-01: served by {replacement}"
    # The configured model follows the same rule.
    assert choose_model(None, name, SHUTDOWN).model.name == replacement


def test_the_models_served_change_on_the_shutdown_date() -> None:
    assert set(RETIRING) <= set(current_models(EVE))
    assert not set(RETIRING) & set(current_models(SHUTDOWN))
    assert {"gpt-image-2", "gpt-image-2.5-flare", "gpt-image-2.6-sunburst"} <= set(current_models(SHUTDOWN))


@pytest.mark.parametrize("day", [EVE, SHUTDOWN, date(2030, 1, 1)])
def test_every_known_name_is_served_by_an_active_model_on_any_day(day: date) -> None:
    for name in MODELS:
        assert choose_model(name, "gpt-image-2", day).model.active_on(day)


@pytest.mark.parametrize("name", current_models(EVE))
def test_every_served_model_has_prices_tokens_and_latency_with_their_sources(name: str) -> None:
    model = MODELS[name]
    assert model.prices is not None and model.prices.source and model.prices.image_output > 0
    for quality in ("low", "medium", "high"):
        latency = model.latency_for(quality)
        assert 0 < latency.p50 < latency.p99
        assert latency.p99 < model.call_timeout(quality) <= 840  # above the p99, within Lambda's 900 s
        assert model.output_tokens(1024, 1024, quality) > 0
    assert model.latency_for("auto") == model.latency_for("high")  # auto may pick high
    assert model.output_tokens(1024, 1024, "auto") == model.output_tokens(1024, 1024, "high")


@pytest.mark.parametrize(
    ("size", "tokens"),
    [
        ("1024x1024", (196, 1756, 7024)),
        ("1536x1024", (158, 1372, 5488)),
        ("1024x1536", (158, 1372, 5488)),
        ("2048x2048", (397, 3568, 14272)),
        ("3840x2160", (371, 3336, 13342)),
    ],
)
def test_gpt_image_2_output_tokens_match_the_published_table(size: str, tokens: tuple[int, int, int]) -> None:
    width, height = (int(side) for side in size.split("x"))
    model = MODELS["gpt-image-2"]
    assert tuple(model.output_tokens(width, height, q) for q in ("low", "medium", "high")) == tokens


def test_the_call_timeout_follows_the_model_and_quality_within_the_worker() -> None:
    assert call_timeout_for("gpt-image-2", "low", None, 900) == 80  # twice the 40 s p99
    assert call_timeout_for("gpt-image-2", "high", None, 900) == 660
    assert call_timeout_for("gpt-image-2", "high", None, 300) == 240  # what a 300 s worker leaves
    assert call_timeout_for("gpt-image-2", "high", 45.0, 900) == 45.0  # OPENAI_TIMEOUT applies as set


def test_a_provider_timeout_longer_than_the_worker_is_refused_at_start() -> None:
    from pydantic import ValidationError

    from imagegen.config import Settings

    with pytest.raises(ValidationError, match="OPENAI_TIMEOUT"):
        Settings(openai_timeout=300, batch_timeout=300)


def test_unknown_model_is_refused_with_the_models_served_that_day() -> None:
    with pytest.raises(ModelRefused, match="gpt-image-2") as refused:
        choose_model("dall-e-9", "gpt-image-2", SHUTDOWN)
    assert "gpt-image-1.5" not in str(refused.value)


def test_a_request_no_model_can_serve_is_refused_before_anything_is_queued() -> None:
    services = make_services()
    request = BlogImageRequest(
        prompt="x", post_id="1", section_id="1", size="1792x1024", model="gpt-image-1.5"
    )
    with pytest.raises(InvalidRequestError, match="1024x1024"):
        create_job(request, ALICE, services)
    assert services.queue.sent == [] and services.jobs.jobs == {}


class ModelEcho:
    """Draws with the offline renderer but answers as the model it was asked for, as OpenAI does."""

    name = "echo"
    rate_limited = False
    parallel_calls = 1

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        from imagegen.providers.offline import OfflineProvider

        image = OfflineProvider().generate(spec)
        return GeneratedImage(image.data, image.content_type, "echo", spec.model)


def _at(services: object, day: date) -> None:
    services.clock.now = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)  # type: ignore[attr-defined]


def test_a_retired_model_is_served_and_the_mapping_recorded_in_the_metadata() -> None:
    services = make_services()
    job_id = create_job(IconRequest(category="tools", model="dall-e-3"), ALICE, services).batch_id
    run_item(services.queue.sent[0], 1, "r", services)
    item = services.jobs.get_item(job_id, 0)
    assert item is not None
    metadata = json.loads(services.images.objects[item.spec.metadata_key][0])
    assert metadata["requested_model"] == "dall-e-3"
    assert item.spec.model == "gpt-image-2"


@pytest.mark.parametrize(
    ("day", "drawn_by", "requested"),
    [(EVE, "gpt-image-1.5", None), (SHUTDOWN, "gpt-image-2.6-sunburst", "gpt-image-1.5")],
)
def test_requests_on_either_side_of_the_shutdown(day: date, drawn_by: str, requested: str | None) -> None:
    services = make_services(ModelEcho())
    _at(services, day)
    job_id = create_job(
        IconRequest(category="tools", model="gpt-image-1.5", size="1024x1024"), ALICE, services
    ).batch_id
    run_item(services.queue.sent[0], 1, "r", services)
    item = services.jobs.get_item(job_id, 0)
    assert item is not None and item.spec.model == drawn_by
    metadata = json.loads(services.images.objects[item.spec.metadata_key][0])
    assert (metadata["model"], metadata["requested_model"]) == (item.model, requested)


def test_an_item_queued_before_the_shutdown_and_drawn_after_it_goes_to_the_replacement() -> None:
    services = make_services(ModelEcho())
    _at(services, EVE)
    job_id = create_job(
        IconRequest(category="tools", model="gpt-image-1-mini", size="1024x1024"), ALICE, services
    ).batch_id
    _at(services, SHUTDOWN)  # the item waited in the queue past midnight
    run_item(services.queue.sent[0], 1, "r", services)
    item = services.jobs.get_item(job_id, 0)
    assert item is not None and item.state == "completed"
    metadata = json.loads(services.images.objects[item.spec.metadata_key][0])
    assert (metadata["model"], metadata["requested_model"]) == ("gpt-image-2.6-flare", "gpt-image-1-mini")
