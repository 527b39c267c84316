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
    ProviderCallLostError,
    ProviderQuotaExhaustedError,
    ProviderRateLimitedError,
    TransientGenerationError,
)
from imagegen.models.domain import ImageSpec
from imagegen.providers.base import GeneratedImage
from imagegen.providers.prices import cost_from_usage
from imagegen.providers.registry import CONTENT_TYPES, call_timeout_for

logger = Logger(child=True)
REFUSAL_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
MAX_BACKOFF_SECONDS = 30.0
# The SDK's transport errors (HTTPX2's) that mean the request never reached OpenAI: nothing to bill.
NOT_SENT = frozenset({"ConnectError", "ConnectTimeout"})


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


def _sent(error: openai.APIConnectionError) -> bool:
    """Whether the request left: a timeout or a dropped connection after sending may still be billed."""
    return type(error.__cause__).__name__ not in NOT_SENT


class OpenAIProvider:
    """One image per call; errors sorted once into permanent and transient.

    `max_retries` is how often a transient failure is retried in process. The worker passes 0: every
    call must take a slot from the shared limiter, so its retries go back through the queue. The
    CLI, a single client, retries in process up to OPENAI_MAX_RETRIES, and a call that timed out or
    lost its connection (billed all the same) at most OPENAI_TIMEOUT_RETRIES times.
    """

    name = "openai"
    rate_limited = True  # calls go through the shared limiter
    parallel_calls = 10  # a call waits on the network for 15 s to minutes: every record of a batch at once

    def __init__(
        self,
        settings: Settings,
        api_key: str,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int | None = None,
    ) -> None:
        # The SDK's own retries are off: it would retry insufficient_quota, which must never be retried,
        # and a timed-out call, which the provider bills whether or not the client waits for it.
        self._client = openai.OpenAI(api_key=api_key, base_url=settings.openai_base_url, max_retries=0)
        self._settings = settings
        self._max_retries = settings.openai_max_retries if max_retries is None else max_retries
        self._sleep = sleep

    def timeout(self, spec: ImageSpec) -> float:
        settings = self._settings
        return call_timeout_for(spec.model, spec.quality, settings.openai_timeout, settings.batch_timeout)

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        params: dict[str, Any] = {**request_body(spec), "timeout": self.timeout(spec)}
        attempt, lost = 0, 0
        while True:
            try:
                raw = self._client.images.with_raw_response.generate(**params)
                response = raw.parse()
                break
            except openai.APIError as error:
                failure = self._sorted(error, spec)
            if isinstance(failure, ProviderCallLostError):
                lost += 1
                if lost > self._settings.openai_timeout_retries:
                    raise ProviderCallLostError(f"{failure}; {lost} such calls, each may be billed") from None
            if attempt >= self._max_retries:
                if isinstance(failure, ProviderRateLimitedError | ProviderCallLostError):
                    raise failure
                raise TransientGenerationError(f"{failure}; gave up after {attempt + 1} tries")
            delay = self._attempt_delay(attempt)
            if isinstance(failure, ProviderRateLimitedError) and failure.retry_after is not None:
                delay = failure.retry_after
            logger.warning(
                "openai call will be retried", reason=str(failure), attempt=attempt + 1, delay=round(delay, 3)
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
            cost_usd=cost_from_usage(spec.model, usage),
            request_id=raw.headers.get("x-request-id"),
            billed_calls=lost + 1,
        )

    def _sorted(self, error: openai.APIError, spec: ImageSpec) -> TransientGenerationError:
        """A transient failure to retry, or raise the permanent one at once."""
        if isinstance(error, openai.RateLimitError):
            if _code(error) == "insufficient_quota":
                raise ProviderQuotaExhaustedError("the OpenAI account has insufficient quota") from None
            return ProviderRateLimitedError("rate limited (429)", _retry_after(error))
        if isinstance(error, openai.InternalServerError):
            return TransientGenerationError(f"OpenAI server error ({error.status_code})")
        if isinstance(error, openai.APIConnectionError):
            return self._connection_failure(error, spec)
        raise _permanent_failure(error, spec) from None

    def _connection_failure(
        self, error: openai.APIConnectionError, spec: ImageSpec
    ) -> TransientGenerationError:
        # A request that left may have been drawn, and billed: it is a lost call, counted apart.
        if not _sent(error):
            return TransientGenerationError("could not reach OpenAI")
        if isinstance(error, openai.APITimeoutError):
            return ProviderCallLostError(f"OpenAI did not answer within {self.timeout(spec):.0f} s")
        return ProviderCallLostError("the connection to OpenAI was lost during the call")

    @staticmethod
    def _attempt_delay(attempt: int) -> float:
        return float(min(MAX_BACKOFF_SECONDS, 0.5 * 2**attempt))


def request_body(spec: ImageSpec) -> dict[str, Any]:
    """What a call asks for, the synchronous one and a Batch API line alike. Only what GPT image models
    accept: no response_format (always base64), no style (it is in the prompt)."""
    body: dict[str, Any] = {
        "model": spec.model,
        "prompt": spec.prompt,
        "size": spec.size,
        "quality": spec.quality,
        "n": 1,
        "output_format": spec.output_format,
    }
    if spec.background != "auto":
        body["background"] = spec.background
    return body


def _permanent_failure(error: openai.APIError, spec: ImageSpec) -> PermanentGenerationError:
    """What an error that retrying cannot mend means: a refusal, a bad key, a retired model."""
    if isinstance(error, openai.BadRequestError):
        code = _code(error)
        if code in REFUSAL_CODES:
            return PermanentGenerationError("refused by OpenAI's safety system")
        return PermanentGenerationError(f"OpenAI refused the request ({code or 'bad request'})")
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return ProviderKeyError("OpenAI refused the API key")
    if isinstance(error, openai.NotFoundError) and _code(error) == "model_not_found":
        return PermanentGenerationError(f"OpenAI no longer serves {spec.model} (model_not_found)")
    if isinstance(error, openai.APIStatusError):
        return PermanentGenerationError(f"OpenAI answered {error.status_code}")
    return PermanentGenerationError(f"OpenAI failed: {type(error).__name__}")
