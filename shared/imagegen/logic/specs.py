"""Turn requests into item specs: prompt, size and the deterministic S3 key of each image."""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from imagegen import templates
from imagegen.config import Settings
from imagegen.errors import InvalidRequestError
from imagegen.logic.categories import best_match
from imagegen.logic.prompts import blog_prompt, fit_prompt, icon_prompt
from imagegen.models.domain import ImageSpec
from imagegen.models.requests import BatchRequest, BlogImageRequest, IconOptions, IconRequest
from imagegen.providers.registry import MODELS, ModelRefused, check_request, choose_model, gpt_image_quality

logger = Logger(child=True)


def category_slug(category: str) -> str:
    """`Office Supplies` -> `office_supplies`: a safe, stable key segment."""
    return re.sub(r"[^a-z0-9]+", "_", category.lower()).strip("_")[:64] or "category"


def _size(size: str) -> tuple[int, int]:
    width, height = size.split("x")
    return int(width), int(height)


@cache
def _warn_once(setting: str, value: str, drawn_as: str) -> None:
    """A DALL-E value met: logged the first time in a process, not on every request."""
    logger.warning("DALL-E value mapped", setting=setting, value=value, drawn_as=drawn_as)


def _quality(request_quality: str | None, settings: Settings) -> tuple[str, str | None]:
    """The GPT-image quality that draws, and the DALL-E quality it was mapped from (else None)."""
    asked = request_quality or settings.openai_image_quality
    quality = gpt_image_quality(asked)
    if quality == asked:
        return quality, None
    _warn_once("quality" if request_quality else "OPENAI_IMAGE_QUALITY", asked, quality)
    return quality, asked


def model_fields(
    request: IconRequest | BlogImageRequest | BatchRequest, prompt: str, settings: Settings, today: date
) -> dict[str, Any]:
    """Model, quality, format and background of a request; InvalidRequestError (400) before queueing."""
    width, height = _size(request.size or settings.openai_image_size)
    quality, requested_quality = _quality(request.quality, settings)
    if settings.openai_image_style:
        _warn_once("OPENAI_IMAGE_STYLE", settings.openai_image_style, "not sent (GPT image takes no style)")
    background = request.background if isinstance(request, IconOptions) else "auto"
    try:
        choice = choose_model(request.model, settings.openai_model, today)
        check_request(choice, width, height, quality, background, request.output_format, prompt)
    except ModelRefused as refusal:
        raise InvalidRequestError(str(refusal)) from None
    if choice.mapped_from_retired:
        logger.warning("shut-down model mapped", requested=choice.requested, model=choice.model.name)
    return {
        "model": choice.model.name,
        "requested_model": choice.requested if choice.mapped_from_retired else None,
        "quality": quality,
        "requested_quality": requested_quality,
        "requested_style": settings.openai_image_style,
        "output_format": request.output_format,
        "background": background,
    }


def icon_specs(
    request: IconRequest | BatchRequest, job_id: str, settings: Settings, today: date
) -> list[ImageSpec]:
    categories = [request.category] if isinstance(request, IconRequest) else request.categories
    variations = 1 if isinstance(request, IconRequest) else request.variations_per_category
    width, height = _size(request.size or settings.openai_image_size)
    fields = model_fields(request, "", settings, today)
    limit = MODELS[fields["model"]].max_prompt_chars
    specs = []
    for n, category in enumerate(categories):
        match = best_match(category)
        for variation in range(1, variations + 1):
            prompt = icon_prompt(
                category,
                match.category if match else None,
                request.style,
                request.color_scheme,
                request.custom_elements,
                variation,
                request.background,
                request.brand_colors,
            )
            specs.append(
                ImageSpec(
                    kind="icon",
                    prompt=fit_prompt(prompt, limit),
                    width=width,
                    height=height,
                    key=f"icons/{category_slug(category)}/{job_id}_{n:03d}_v{variation}.{request.output_format}",
                    category=category,
                    style=request.style,
                    color_scheme=request.color_scheme,
                    custom_elements=tuple(request.custom_elements),
                    variation=variation,
                    derivatives=tuple(request.derivatives),
                    category_match=match.category.name if match else None,
                    category_score=match.score if match else None,
                    catalogue_icon=match.category.icon if match else None,
                    brand_colors=tuple(request.brand_colors),
                    template_version=templates.version(),
                    **fields,
                )
            )
    return specs


def blog_spec(request: BlogImageRequest, job_id: str, now: datetime, settings: Settings) -> ImageSpec:
    filename = request.filename or f"image_{now:%Y%m%d_%H%M%S}_{job_id[:6]}"
    width, height = _size(request.size)
    return ImageSpec(
        kind="blog",
        prompt=blog_prompt(request.prompt, request.template),
        user_prompt=request.prompt if request.template else None,
        template_version=f"{templates.version()}:{request.template}" if request.template else None,
        width=width,
        height=height,
        key=f"posts/{request.post_id}/sections/{request.section_id}/raw/{filename}.{request.output_format}",
        post_id=request.post_id,
        section_id=request.section_id,
        **model_fields(request, blog_prompt(request.prompt, request.template), settings, now.date()),
    )
