"""Every image model the service knows, in one place: what each accepts, and the retired names.

Pure data and checks (no SDK import), so the API can refuse a request with 400 before queueing.
Facts from the openai SDK's Images API reference, checked 2026-11.
"""

from __future__ import annotations

from dataclasses import dataclass

STANDARD_SIZES = frozenset({"1024x1024", "1536x1024", "1024x1536"})
GPT_IMAGE_QUALITIES = ("low", "medium", "high", "auto")
BACKGROUNDS = ("transparent", "opaque", "auto")
OUTPUT_FORMATS = ("png", "webp", "jpeg")
CONTENT_TYPES = {"png": "image/png", "webp": "image/webp", "jpeg": "image/jpeg"}


@dataclass(frozen=True)
class ImageModel:
    name: str
    free_sizes: bool  # any WxH divisible by 16, ratio 1:3..3:1, up to max_pixels
    max_pixels: int = 3840 * 2160
    max_edge: int = 3840
    qualities: tuple[str, ...] = GPT_IMAGE_QUALITIES
    backgrounds: tuple[str, ...] = BACKGROUNDS
    output_formats: tuple[str, ...] = OUTPUT_FORMATS
    max_prompt_chars: int = 32_000

    def size_problem(self, width: int, height: int) -> str | None:
        """Why this model cannot draw width x height, or None when it can."""
        if not self.free_sizes:
            if f"{width}x{height}" in STANDARD_SIZES:
                return None
            return f"{self.name} draws only {', '.join(sorted(STANDARD_SIZES))}"
        if width % 16 or height % 16:
            return f"{self.name} needs width and height divisible by 16"
        if max(width, height) > 3 * min(width, height):
            return f"{self.name} needs an aspect ratio between 1:3 and 3:1"
        if width * height > self.max_pixels or max(width, height) > self.max_edge:
            return f"{self.name} draws at most {self.max_pixels} pixels and {self.max_edge} px a side"
        return None


MODELS: dict[str, ImageModel] = {
    model.name: model
    for model in (
        ImageModel("gpt-image-2", free_sizes=True),
        ImageModel("gpt-image-1.5", free_sizes=False),
        ImageModel("gpt-image-1-mini", free_sizes=False),
        ImageModel("chatgpt-image-latest", free_sizes=False),
    )
}
DEFAULT_MODEL = "gpt-image-2"
# Retired names: requests naming them are served by the configured current model (with a warning).
RETIRED_MODELS = frozenset({"dall-e-2", "dall-e-3", "gpt-image-1"})


@dataclass(frozen=True)
class ModelChoice:
    model: ImageModel
    requested: str  # what the caller (or OPENAI_MODEL) asked for
    mapped_from_retired: bool


class ModelRefused(ValueError):
    """The request names a model, size, quality, background or format no known model can serve."""


def choose_model(requested: str | None, configured: str) -> ModelChoice:
    """The model that will draw: the request's, else the configured one; retired names are mapped."""
    name = requested or configured
    if name in RETIRED_MODELS:
        target = configured if configured in MODELS else DEFAULT_MODEL
        return ModelChoice(MODELS[target], name, mapped_from_retired=True)
    if name not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise ModelRefused(
            f"unknown model '{name}'; known models: {known} (retired: {', '.join(sorted(RETIRED_MODELS))})"
        )
    return ModelChoice(MODELS[name], name, mapped_from_retired=False)


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
    for field, value, allowed in (
        ("quality", quality, model.qualities),
        ("background", background, model.backgrounds),
        ("output_format", output_format, model.output_formats),
    ):
        if value not in allowed:
            raise ModelRefused(f"{model.name} does not take {field} '{value}'; allowed: {', '.join(allowed)}")
    if background == "transparent" and output_format == "jpeg":
        raise ModelRefused("a transparent background needs output_format png or webp")
    if len(prompt) > model.max_prompt_chars:
        raise ModelRefused(f"{model.name} takes prompts of at most {model.max_prompt_chars} characters")


# Output tokens of one 1024x1024 image by quality (OpenAI's image pricing table for GPT image models);
# other sizes scale with their area. "auto" is counted as high: the model may pick it.
OUTPUT_TOKENS_1024 = {"low": 272, "medium": 1056, "high": 4160, "auto": 4160}


def estimated_output_tokens(width: int, height: int, quality: str) -> int:
    return int(OUTPUT_TOKENS_1024.get(quality, OUTPUT_TOKENS_1024["high"]) * width * height / (1024 * 1024))


def estimated_prompt_tokens(prompt: str) -> int:
    return len(prompt) // 4 + 1


def estimated_tokens(width: int, height: int, quality: str, prompt: str) -> int:
    """Tokens one image is expected to use against a tokens-per-minute limit: prompt + output."""
    return estimated_output_tokens(width, height, quality) + estimated_prompt_tokens(prompt)
