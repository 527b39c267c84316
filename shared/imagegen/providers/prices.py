"""What an image costs: from the `usage` the provider returns, and estimated before the call.

Prices and token rules live in data/models.json (through the registry). No SDK import: the API
estimates a batch's cost before accepting it."""

from __future__ import annotations

from typing import Any

from imagegen.models.domain import ImageSpec, Priority
from imagegen.providers.registry import MODELS, Prices, estimated_prompt_tokens

# OpenAI's Batch API bills 50 % of the synchronous price (OpenAI Batch FAQ; ../shared/PROVIDER-FACTS.md).
BATCH_PRICE_FACTOR = 0.5


def price_factor(priority: Priority) -> float:
    """What a call on this path costs against the synchronous price."""
    return BATCH_PRICE_FACTOR if priority == "economy" else 1.0


def _usd(prices: Prices, text_in: int, cached: int, image_in: int, output: int) -> float:
    cost = (
        (text_in - cached) * prices.text_input
        + cached * prices.text_input_cached
        + image_in * prices.image_input
        + output * prices.image_output
    )
    return round(cost / 1_000_000, 6)


def cost_from_usage(model: str, usage: dict[str, Any] | None) -> float | None:
    """USD the provider bills for a call, from its usage block (None: no usage, or an unpriced model)."""
    known = MODELS.get(model)
    if known is None or known.prices is None or not usage:
        return None
    details = usage.get("input_tokens_details") or {}
    return _usd(
        known.prices,
        text_in=int(details.get("text_tokens", usage.get("input_tokens", 0)) or 0),
        cached=int(details.get("cached_tokens", 0) or 0),  # the cached text price, when reported
        image_in=int(details.get("image_tokens", 0) or 0),
        output=int(usage.get("output_tokens", 0) or 0),
    )


def estimate_image_cost(model: str, width: int, height: int, quality: str, prompt: str) -> float:
    """USD one image is expected to cost before it is drawn (`auto` quality counted as high)."""
    known = MODELS[model]
    if known.prices is None:
        raise ValueError(f"{model} has no price: it is no longer served")
    output = known.output_tokens(width, height, quality)
    return _usd(known.prices, estimated_prompt_tokens(prompt), 0, 0, output)


def estimate_spec_cost(spec: ImageSpec) -> float:
    """USD one item is expected to cost on its own path (economy: half)."""
    full = estimate_image_cost(spec.model, spec.width, spec.height, spec.quality, spec.prompt)
    return round(full * price_factor(spec.priority), 9)  # half a micro-dollar stays exact
