"""Prompt templates: data-driven styles, colour schemes and compositions; blog prompts left alone."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from pydantic import ValidationError

from imagegen import templates
from imagegen.api.job_views import create_job, job_result
from imagegen.logic.categories import best_match
from imagegen.logic.prompts import blog_prompt, fit_prompt, icon_prompt
from imagegen.logic.run_item import run_item
from imagegen.models.domain import Caller, ImageSpec
from imagegen.models.requests import BatchRequest, BlogImageRequest, IconRequest
from imagegen.providers.offline import OfflineProvider
from imagegen.providers.registry import DEFAULT_MODEL
from tests.unit.fakes import make_services

ALICE = Caller(sub="alice")
OFFICE = best_match("office supplies")


def _prompt(**changes: object) -> str:
    args: dict[str, object] = {
        "words": "office supplies",
        "match": OFFICE.category if OFFICE else None,
        "style": "flat",
        "color_scheme": "blue_tones",
        "elements": [],
        "variation": 1,
    }
    args.update(changes)
    return icon_prompt(**args)  # type: ignore[arg-type]


def test_every_style_and_colour_scheme_changes_the_prompt() -> None:
    by_style = {_prompt(style=style) for style in templates.styles()}
    by_scheme = {_prompt(color_scheme=scheme) for scheme in templates.color_schemes()}
    assert len(by_style) == len(templates.styles()) >= 7
    assert len(by_scheme) == len(templates.color_schemes()) >= 7


def test_the_prompt_carries_the_users_words_the_category_and_icon_guidance() -> None:
    prompt = _prompt(elements=["pen", "stapler"])
    assert "office supplies" in prompt and OFFICE is not None and OFFICE.category.description in prompt
    assert "featuring pen, stapler" in prompt and "no text" in prompt and "32 pixels" in prompt
    assert "transparent background" in _prompt(background="transparent")


def test_ten_variations_differ_by_composition_and_emphasis_not_a_random_word() -> None:
    prompts = [_prompt(elements=["pen", "stapler", "paper"], variation=n) for n in range(1, 11)]
    assert len(set(prompts)) == 10
    assert "stapler" in prompts[1].split(". ")[1]  # variation 2 puts the second element forward


def test_brand_colours_reach_the_prompt_and_the_pixels() -> None:
    assert "#FF0000, #00FF00" in _prompt(color_scheme="brand_colors", brand_colors=["#FF0000", "#00FF00"])
    spec = ImageSpec(
        kind="icon",
        prompt="p",
        width=256,
        height=256,
        key="k.png",
        category="tools",
        style="flat",
        color_scheme="brand_colors",
        brand_colors=("#FF0000", "#00FF00"),
        catalogue_icon="tools",
        model=DEFAULT_MODEL,
    )
    with Image.open(io.BytesIO(OfflineProvider().generate(spec).data)) as image:
        colours = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 16) or []}
    assert (255, 0, 0) in colours


def test_brand_colours_need_the_brand_scheme_and_must_be_hex() -> None:
    with pytest.raises(ValidationError, match="brand_colors"):
        IconRequest(category="tools", color_scheme="pastel", brand_colors=["#FF0000"])
    with pytest.raises(ValidationError):
        IconRequest(category="tools", color_scheme="brand_colors", brand_colors=["red"])


@pytest.mark.parametrize(("field", "value"), [("style", "baroque"), ("color_scheme", "neon")])
def test_unknown_values_are_refused_with_the_allowed_list(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        BatchRequest.model_validate({"categories": ["tools"], field: value})
    allowed = templates.styles() if field == "style" else templates.color_schemes()
    assert all(name in str(refused.value) for name in allowed)


def test_prompts_are_trimmed_at_a_word_to_the_models_limit() -> None:
    prompt = _prompt(elements=["a" * 50] * 10)
    fitted = fit_prompt(prompt, 120)
    assert len(fitted) <= 120 and prompt.startswith(fitted) and not fitted.endswith(" ")
    assert fit_prompt("short", 120) == "short"


def test_blog_prompts_pass_through_unless_a_template_is_asked_for() -> None:
    assert blog_prompt("A harbour at dawn", None) == "A harbour at dawn"
    templated = blog_prompt("A harbour at dawn", "hero")
    assert "A harbour at dawn" in templated and templated != "A harbour at dawn"
    with pytest.raises(ValidationError, match="hero"):
        BlogImageRequest(prompt="x", post_id="1", section_id="1", template="poster")


def test_metadata_records_the_final_prompt_template_version_style_and_colours() -> None:
    services = make_services()
    request = IconRequest(category="Office_Supplies", style="vintage", color_scheme="warm_tones")
    job_id = create_job(request, ALICE, services).batch_id
    run_item(services.queue.sent[0], 1, "r", services)
    key = job_result(job_id, ALICE, services).items[0].key.removesuffix(".png") + "_metadata.json"
    metadata = json.loads(services.images.objects[key][0])
    assert metadata["template_version"] == templates.version()
    assert (metadata["style"], metadata["color_scheme"]) == ("vintage", "warm_tones")
    assert metadata["prompt"].startswith("A vintage stamp-style icon of Office_Supplies")
    blog = BlogImageRequest(prompt="A harbour", post_id="1", section_id="1", filename="h", template="hero")
    blog_job = create_job(blog, ALICE, services).batch_id
    run_item(services.queue.sent[-1], 1, "r", services)
    blog_meta = json.loads(services.images.objects["posts/1/sections/1/raw/h_metadata.json"][0])
    assert blog_meta["user_prompt"] == "A harbour" and blog_meta["template_version"].endswith(":hero")
    assert job_result(blog_job, ALICE, services).state == "completed"
