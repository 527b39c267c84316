"""The OpenAI provider: GPT image models through the official SDK. Imported by the worker and CLI only."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import openai
from aws_lambda_powertools import Logger

from imagegen.config import Settings
from imagegen.errors import (
    PermanentGenerationError,
    ProviderQuotaExhaustedError,
    ProviderRateLimitedError,
    TransientGenerationError,
)
from imagegen.models.domain import ImageSpec
from imagegen.providers.base import GeneratedImage
from imagegen.providers.prices import estimate_cost
from imagegen.providers.registry import CONTENT_TYPES

logger = Logger(child=True)
REFUSAL_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
MAX_BACKOFF_SECONDS = 30.0


class ProviderKeyError(PermanentGenerationError):
    """OpenAI refused the key (never retried; the CLI exits 3)."""

    code = "provider_key_refused"


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
    """One image per call; errors sorted once into permanent and transient.

    `max_retries` is how often a transient failure is retried in process. The worker passes 0: every
    call must take a slot from the shared limiter, so its retries go back through the queue. The
    CLI, a single client, retries in process up to OPENAI_MAX_RETRIES.
    """

    name = "openai"
    rate_limited = True  # calls go through the shared limiter

    def __init__(
        self,
        settings: Settings,
        api_key: str,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int | None = None,
    ) -> None:
        # The SDK's own retries are off: it would retry insufficient_quota, which must never be retried.
        self._client = openai.OpenAI(
            api_key=api_key, base_url=settings.openai_base_url, timeout=settings.openai_timeout, max_retries=0
        )
        self._max_retries = settings.openai_max_retries if max_retries is None else max_retries
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
            retry_after: float | None = None
            try:
                raw = self._client.images.with_raw_response.generate(**params)
                response = raw.parse()
                break
            except openai.RateLimitError as error:
                if _code(error) == "insufficient_quota":
                    raise ProviderQuotaExhaustedError("the OpenAI account has insufficient quota") from None
                retry_after = _retry_after(error)
                delay = retry_after or delay
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
                message = f"{reason}; gave up after {attempt + 1} tries"
                if reason.startswith("rate limited"):
                    raise ProviderRateLimitedError(message, retry_after)
                raise TransientGenerationError(message)
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
