"""The JSON metadata stored beside every image (the original blog script's fields, and more)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from imagegen.models.domain import ImageSpec
from imagegen.providers.base import GeneratedImage
from imagegen.providers.prices import estimate_spec_cost


def image_estimate(spec: ImageSpec, image: GeneratedImage) -> float:
    """What the image was expected to cost before the call (0 for a renderer that bills nothing)."""
    if not image.billed_calls:
        return 0.0
    return estimate_spec_cost(spec)


def build_metadata(
    spec: ImageSpec, image: GeneratedImage, data: bytes, image_path: str, generated_at: datetime, **extra: Any
) -> dict[str, Any]:
    """post_id, section_id, prompt, image_path, generated_at, model, size, then the details."""
    return {
        "post_id": spec.post_id,
        "section_id": spec.section_id,
        "category": spec.category,
        "category_match": spec.category_match,
        "category_match_score": spec.category_score,
        "prompt": spec.prompt,
        "user_prompt": spec.user_prompt,
        "template_version": spec.template_version,
        "brand_colors": list(spec.brand_colors),
        "image_path": image_path,
        "generated_at": generated_at.isoformat(),
        "model": image.model,
        "size": spec.size,
        "provider": image.provider,
        "requested_model": spec.requested_model,
        "quality": spec.quality,
        "requested_quality": spec.requested_quality,
        "requested_style": spec.requested_style,
        "width": spec.width,
        "height": spec.height,
        "format": spec.output_format,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "kind": spec.kind,
        "style": spec.style,
        "color_scheme": spec.color_scheme,
        "custom_elements": list(spec.custom_elements),
        "variation": spec.variation,
        "priority": spec.priority,  # economy: drawn through OpenAI's Batch API at half price
        "usage": image.usage,
        "cost_usd": image.cost_usd if image.billed_calls else 0.0,  # from the call's usage
        "cost_usd_estimate": image_estimate(spec, image),  # from the model's token table, before the call
        "billed_calls": image.billed_calls,  # calls that may be billed, timed-out ones included
        "provider_request_id": image.request_id,
        **(image.details or {}),  # the offline renderer's offline_subject: what it drew, and why
        **extra,
    }
