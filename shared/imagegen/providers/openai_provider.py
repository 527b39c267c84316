"""The OpenAI provider: GPT image models through the official SDK. Imported by the worker and CLI only."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import openai
from aws_lambda_powertools import Logger

from imagegen.config import Settings
from imagegen.errors import PermanentGenerationError, TransientGenerationError
from imagegen.models.domain import ImageSpec
from imagegen.providers.base import GeneratedImage
from imagegen.providers.validation import CONTENT_TYPES

logger = Logger(child=True)
REFUSAL_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
MAX_BACKOFF_SECONDS = 30.0


class ProviderKeyError(PermanentGenerationError):
    """OpenAI refused the key (never retried; the CLI exits 3)."""

    code = "provider_key_refused"


@cache
def price_table() -> dict[str, Any]:
    return dict(json.loads(resources.files("imagegen.providers").joinpath("prices.json").read_text()))


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


def _code(error: openai.APIStatusError) -> str | None:
    body = error.body if isinstance(error.body, dict) else {}
    inner = body.get("error", body) if isinstance(body, dict) else {}
    code = inner.get("code") if isinstance(inner, dict) else None
    return str(code) if code else None


def _retry_after(error: openai.APIStatusError) -> float | None:
    headers = error.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                return None
    return None


class OpenAIProvider:
    """One image per call; errors sorted once into permanent and transient."""

    name = "openai"

    def __init__(self, settings: Settings, api_key: str, sleep: Callable[[float], None] = time.sleep) -> None:
        # The SDK's own retries are off: it would retry insufficient_quota, which must never be retried.
        self._client = openai.OpenAI(
            api_key=api_key, base_url=settings.openai_base_url, timeout=settings.openai_timeout, max_retries=0
        )
        self._max_retries = settings.openai_max_retries
        self._sleep = sleep

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        # Only what GPT image models accept: no response_format (always base64), no style (in the prompt).
        params: dict[str, Any] = {
            "model": spec.model,
            "prompt": spec.prompt,
            "size": spec.size,
            "quality": spec.quality,
            "n": 1,
            "output_format": spec.output_format,
        }
        if spec.background != "auto":
            params["background"] = spec.background
        attempt = 0
        while True:
            delay = self._attempt_delay(attempt)
            try:
                raw = self._client.images.with_raw_response.generate(**params)
                response = raw.parse()
                break
            except openai.RateLimitError as error:
                if _code(error) == "insufficient_quota":
                    raise PermanentGenerationError("the OpenAI account has insufficient quota") from None
                delay = _retry_after(error) or delay
                reason = "rate limited (429)"
            except openai.BadRequestError as error:
                code = _code(error)
                if code in REFUSAL_CODES:
                    raise PermanentGenerationError("refused by OpenAI's safety system") from None
                raise PermanentGenerationError(
                    f"OpenAI refused the request ({code or 'bad request'})"
                ) from None
            except (openai.AuthenticationError, openai.PermissionDeniedError):
                raise ProviderKeyError("OpenAI refused the API key") from None
            except openai.InternalServerError as error:
                reason = f"OpenAI server error ({error.status_code})"
            except openai.APITimeoutError:
                reason = "OpenAI timed out"
            except openai.APIConnectionError:
                reason = "could not reach OpenAI"
            except openai.APIStatusError as error:
                raise PermanentGenerationError(f"OpenAI answered {error.status_code}") from None
            if attempt >= self._max_retries:
                raise TransientGenerationError(f"{reason}; gave up after {attempt + 1} tries")
            logger.warning(
                "openai call will be retried", reason=reason, attempt=attempt + 1, delay=round(delay, 3)
            )
            self._sleep(delay)
            attempt += 1
        if not response.data or not response.data[0].b64_json:
            raise PermanentGenerationError("OpenAI returned no image")
        usage = response.usage.model_dump() if response.usage else None
        return GeneratedImage(
            data=base64.b64decode(response.data[0].b64_json),
            content_type=CONTENT_TYPES[spec.output_format],
            provider=self.name,
            model=spec.model,
            usage=usage,
            cost_usd=estimate_cost(spec.model, usage),
            request_id=raw.headers.get("x-request-id"),
        )

    @staticmethod
    def _attempt_delay(attempt: int) -> float:
        return float(min(MAX_BACKOFF_SECONDS, 0.5 * 2**attempt))
