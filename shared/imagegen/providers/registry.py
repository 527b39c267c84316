"""Every image model the service knows, read from data/models.json: what each accepts, when it shuts
down and what replaces it, its prices, output tokens and latency.

Pure data and checks (no SDK import), so the API can refuse a request with 400 and estimate its cost
before queueing. Dates are passed in (never read from the system clock here), so tests can stand on
either side of a shutdown date.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any, Final

STANDARD_SIZES = frozenset({"1024x1024", "1536x1024", "1024x1536"})
GPT_IMAGE_QUALITIES = ("low", "medium", "high", "auto")
BACKGROUNDS = ("transparent", "opaque", "auto")
OUTPUT_FORMATS = ("png", "webp", "jpeg")
# DALL-E's qualities, as the original system configured them, and the GPT-image quality each becomes:
# standard was DALL-E's cheaper, faster level, so medium (not auto, which may bill as much as high);
# hd was its best, so high.
DALL_E_QUALITIES = {"standard": "medium", "hd": "high"}
# DALL-E 3's styles. GPT image models take no style parameter (the prompt carries the look), so a
# configured style is recorded and not sent.
DALL_E_STYLES = ("vivid", "natural")
CONTENT_TYPES = {"png": "image/png", "webp": "image/webp", "jpeg": "image/jpeg"}

# A call may take this many times the model's p99 before the client gives up: the provider finishes
# (and bills) a call whatever the client does, so cutting one off is paying twice for one image.
CALL_TIMEOUT_OVER_P99 = 2.0
# Lambda runs a function for at most 900 s; a call leaves a minute for the slot wait and the writes.
WORKER_SECONDS_BESIDE_THE_CALL = 60
MAX_CALL_TIMEOUT_SECONDS = 900 - WORKER_SECONDS_BESIDE_THE_CALL


@dataclass(frozen=True)
class Prices:
    """USD per 1M tokens, with where the figures come from."""

    text_input: float
    text_input_cached: float
    image_input: float
    image_input_cached: float
    image_output: float
    source: str
    third_party: bool


@dataclass(frozen=True)
class Latency:
    p50: float
    p99: float


@dataclass(frozen=True)
class ImageModel:
    name: str
    free_sizes: bool  # any WxH divisible by 16, ratio 1:3..3:1, up to max_pixels
    launched: date | None = None
    shutdown: date | None = None  # from this day on the provider answers 404 model_not_found
    replacement: str | None = None  # serves requests after the shutdown; None: the configured model
    prices: Prices | None = None
    token_rule: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, Latency] = field(default_factory=dict)
    max_pixels: int = 3840 * 2160
    max_edge: int = 3840
    qualities: tuple[str, ...] = GPT_IMAGE_QUALITIES
    backgrounds: tuple[str, ...] = BACKGROUNDS
    output_formats: tuple[str, ...] = OUTPUT_FORMATS
    max_prompt_chars: int = 32_000
    batch_api: bool = False  # OpenAI's page says the Batch API takes it (economy jobs)

    def active_on(self, today: date) -> bool:
        """True while the provider serves the model (it has prices and has not shut down)."""
        return self.prices is not None and (self.shutdown is None or today < self.shutdown)

    def size_problem(self, width: int, height: int) -> str | None:
        """Why this model cannot draw width x height, or None when it can."""
        if not self.free_sizes:
            if f"{width}x{height}" in STANDARD_SIZES:
                return None
            sizes = ", ".join(sorted(STANDARD_SIZES))
            return f"size must be one of {sizes} for {self.name} (not {width}x{height})"
        if width % 16 or height % 16:
            return f"{self.name} needs width and height divisible by 16"
        if max(width, height) > 3 * min(width, height):
            return f"{self.name} needs an aspect ratio between 1:3 and 3:1"
        if width * height > self.max_pixels or max(width, height) > self.max_edge:
            return f"{self.name} draws at most {self.max_pixels} pixels and {self.max_edge} px a side"
        return None

    def output_tokens(self, width: int, height: int, quality: str) -> int:
        """Output tokens one image is expected to bill; `auto` is counted as high (the model may pick it)."""
        level = quality if quality in ("low", "medium", "high") else "high"
        rule = self.token_rule.get("rule")
        if rule == "gpt-image-2":
            return gpt_image_2_tokens(width, height, level)
        if rule == "table":
            table = self.token_rule["table"]
            exact = table.get(f"{width}x{height}")
            if exact:
                return int(exact[level])
            return math.ceil(int(table["1024x1024"][level]) * width * height / (1024 * 1024))
        if rule == "per_image_usd" and self.prices:
            prices = self.token_rule["per_image_usd"]
            usd = float(prices["1024x1024" if (width, height) == (1024, 1024) else "other"][level])
            return round(usd * 1_000_000 / self.prices.image_output)
        raise ValueError(f"{self.name} has no output-token rule")

    def latency_for(self, quality: str) -> Latency:
        return self.latency[quality if quality in self.latency else "high"]

    def call_timeout(self, quality: str) -> float:
        """Seconds a call may take before the client gives up: twice the p99, in whole tens of seconds."""
        seconds = math.ceil(CALL_TIMEOUT_OVER_P99 * self.latency_for(quality).p99 / 10) * 10
        return float(min(MAX_CALL_TIMEOUT_SECONDS, max(30, seconds)))


def gpt_image_2_tokens(width: int, height: int, quality: str) -> int:
    """Output tokens of a gpt-image-2 image (community formula matching OpenAI's per-image prices)."""
    factor = {"low": 16, "medium": 48, "high": 96}[quality]
    short, long = sorted((width, height))
    scale = (2 * factor * short + long) // (2 * long)
    return math.ceil(factor * scale * (2_000_000 + width * height) / 4_000_000)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _model(name: str, data: dict[str, Any]) -> ImageModel:
    prices = data.get("prices")
    latency = data.get("latency_seconds", {})
    return ImageModel(
        name=name,
        free_sizes=bool(data["free_sizes"]),
        launched=_day(data.get("launched")),
        shutdown=_day(data.get("shutdown")),
        replacement=data.get("replacement"),
        batch_api=bool(data.get("batch_api", False)),
        prices=Prices(**prices) if prices else None,
        token_rule=data.get("output_tokens", {}),
        latency={
            quality: Latency(float(values["p50"]), float(values["p99"]))
            for quality, values in latency.items()
            if isinstance(values, dict)
        },
    )


@cache
def _data() -> dict[str, Any]:
    text = resources.files("imagegen").joinpath("data/models.json").read_text()
    return dict(json.loads(text))


MODELS: dict[str, ImageModel] = {name: _model(name, data) for name, data in _data()["models"].items()}
DEFAULT_MODEL: str = _data()["default_model"]
CHECKED: str = _data()["checked"]


def current_models(today: date) -> list[str]:
    """The models the provider serves on `today`."""
    return sorted(name for name, model in MODELS.items() if model.active_on(today))


@dataclass(frozen=True)
class ModelChoice:
    model: ImageModel
    requested: str  # what the caller (or OPENAI_MODEL) asked for
    mapped_from_retired: bool  # the requested model has shut down; `model` replaces it

    @property
    def note(self) -> str:
        shutdown = MODELS[self.requested].shutdown
        return f"{self.requested} shut down on {shutdown}: served by {self.model.name}"


class ModelRefused(ValueError):
    """The request names a model, size, quality, background or format no known model can serve."""


def serving_model(name: str, configured: str, today: date) -> ImageModel:
    """The model that serves requests for `name` on `today`: itself, else its replacement (or the
    configured model), followed until an active one; the default model ends any loop."""
    seen: set[str] = set()
    while name not in seen:
        seen.add(name)
        model = MODELS[name]
        if model.active_on(today):
            return model
        name = model.replacement or (configured if configured in MODELS else DEFAULT_MODEL)
        if name in seen:
            name = DEFAULT_MODEL
    raise ModelRefused(f"no active model replaces '{name}' on {today}")


def choose_model(requested: str | None, configured: str, today: date) -> ModelChoice:
    """The model that will draw: the request's, else the configured one; shut-down models are replaced."""
    name = requested or configured
    if name not in MODELS:
        known = ", ".join(current_models(today))
        raise ModelRefused(f"unknown model '{name}'; models served today: {known}")
    model = serving_model(name, configured, today)
    return ModelChoice(model, name, mapped_from_retired=model.name != name)


def check_request(
    choice: ModelChoice,
    width: int,
    height: int,
    quality: str,
    background: str,
    output_format: str,
    prompt: str,
) -> None:
    """Raise ModelRefused with the reason when the chosen model cannot serve this request."""
    model = choice.model
    problem = model.size_problem(width, height)
    if problem:
        raise ModelRefused(problem)
    for field_name, value, allowed in (
        ("quality", quality, model.qualities),
        ("background", background, model.backgrounds),
        ("output_format", output_format, model.output_formats),
    ):
        if value not in allowed:
            raise ModelRefused(
                f"{model.name} does not take {field_name} '{value}'; allowed: {', '.join(allowed)}"
            )
    if background == "transparent" and output_format == "jpeg":
        raise ModelRefused("a transparent background needs output_format png or webp")
    if len(prompt) > model.max_prompt_chars:
        raise ModelRefused(f"{model.name} takes prompts of at most {model.max_prompt_chars} characters")


def gpt_image_quality(quality: str) -> str:
    """The GPT-image quality for `quality`: DALL-E's standard and hd mapped, the others as they are."""
    return DALL_E_QUALITIES.get(quality, quality)


def estimated_prompt_tokens(prompt: str) -> int:
    return len(prompt) // 4 + 1


def estimated_tokens(model: str, width: int, height: int, quality: str, prompt: str) -> int:
    """Tokens one image is expected to use against a tokens-per-minute limit: prompt + output."""
    return MODELS[model].output_tokens(width, height, quality) + estimated_prompt_tokens(prompt)


def call_timeout_for(model: str, quality: str, override: float | None, worker_timeout: int) -> float:
    """Seconds one call may take: OPENAI_TIMEOUT if set, else the model's own figure, within the worker."""
    if override is not None:
        return override
    within_worker = max(10.0, float(worker_timeout - WORKER_SECONDS_BESIDE_THE_CALL))
    return min(MODELS[model].call_timeout(quality), within_worker)


# -- OpenAI's Batch API (economy jobs) -----------------------------------------------------------
# The limits of one input file (../shared/PROVIDER-FACTS.md). MB read as 10^6 bytes, the stricter
# reading, so a file split by it is never one the API refuses.
BATCH_MAX_REQUESTS = 50_000
BATCH_MAX_FILE_BYTES = 200_000_000
BATCH_ENDPOINT: Final = "/v1/images/generations"  # the API also takes /v1/images/edits; we draw only
BATCH_WINDOW: Final = "24h"
