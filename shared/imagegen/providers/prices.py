"""Prices from providers/prices.json (USD per 1M tokens): cost of a call, and estimates up front.

No SDK import: the API estimates a batch's cost before accepting it."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from imagegen.providers.registry import estimated_output_tokens, estimated_prompt_tokens


@cache
def price_table() -> dict[str, Any]:
    return dict(json.loads(resources.files("imagegen.providers").joinpath("prices.json").read_text()))


def known_price(model: str) -> bool:
    return bool(price_table().get(model))


def estimate_cost(model: str, usage: dict[str, Any] | None) -> float | None:
    """USD for a call from its usage block, or None when the model's price is not in the table."""
    prices = price_table().get(model)
    if not prices or not usage:
        return None
    details = usage.get("input_tokens_details") or {}
    text_in = details.get("text_tokens", usage.get("input_tokens", 0))
    image_in = details.get("image_tokens", 0)
    cost = (
        text_in * prices["text_input"]
        + image_in * prices["image_input"]
        + usage.get("output_tokens", 0) * prices["image_output"]
    )
    return round(float(cost) / 1_000_000, 6)


def estimate_image_cost(model: str, width: int, height: int, quality: str, prompt: str) -> float | None:
    """USD one image is expected to cost before it is drawn (None: price unknown)."""
    usage = {
        "input_tokens": estimated_prompt_tokens(prompt),
        "output_tokens": estimated_output_tokens(width, height, quality),
    }
    return estimate_cost(model, usage)
