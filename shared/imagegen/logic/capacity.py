"""How a deployment fits its provider: how many workers keep the rate limit busy, and whether calls fit.

In flight = images per second x latency (Little's law). A worker invocation holds one call at a
time (the records of a batch run side by side, but paced items arrive one by one), so the worker's
concurrency must cover the images the limit allows during one call, at the model's p99 latency.
"""

from __future__ import annotations

import math
from datetime import date

from imagegen.config import Settings
from imagegen.providers.registry import (
    MODELS,
    WORKER_SECONDS_BESIDE_THE_CALL,
    call_timeout_for,
    serving_model,
)

MAX_CONCURRENCY = 1000  # SQS event sources allow at most 1000 concurrent invocations
WRITES_AROUND_A_CALL_SECONDS = 2.0  # reading the item, the idempotency record, storing the image


def seconds_beside_the_call(settings: Settings) -> float:
    """What an invocation holds besides the call: its wait for the slot (items come back half of
    RATE_LIMIT_MAX_WAIT_SECONDS early) and its writes."""
    return settings.rate_limit_max_wait_seconds / 2 + WRITES_AROUND_A_CALL_SECONDS


def images_per_minute(settings: Settings, model: str, quality: str, size: str) -> float:
    """What the limit allows for one kind of image: RPM, or TPM over its tokens when that binds."""
    width, height = (int(side) for side in size.split("x"))
    tokens = MODELS[model].output_tokens(width, height, quality)
    return min(float(settings.openai_rate_limit_rpm), settings.openai_rate_limit_tpm / tokens)


def default_model(settings: Settings, today: date) -> str:
    """The model that draws requests naming none: OPENAI_MODEL, or its replacement once shut down."""
    return serving_model(settings.openai_model, settings.openai_model, today).name


def required_concurrency(settings: Settings, model: str, quality: str) -> int:
    """Worker invocations that keep the limit busy for one model and quality, at its p99 latency."""
    ipm = images_per_minute(settings, model, quality, settings.openai_image_size)
    seconds = MODELS[model].latency_for(quality).p99 + seconds_beside_the_call(settings)
    return min(MAX_CONCURRENCY, max(2, math.ceil(ipm / 60 * seconds)))


def worker_concurrency(settings: Settings, today: date) -> int:
    """BATCH_MAX_CONCURRENT, else what the default model and quality need."""
    if settings.batch_max_concurrent is not None:
        return settings.batch_max_concurrent
    return required_concurrency(settings, default_model(settings, today), settings.image_quality)


def capacity_warnings(settings: Settings, model: str, quality: str) -> list[str]:
    """What in these settings keeps the limit idle or cuts off calls the provider would finish."""
    warnings = []
    needed = required_concurrency(settings, model, quality)
    if settings.batch_max_concurrent is not None and settings.batch_max_concurrent < needed:
        share = settings.batch_max_concurrent / needed
        warnings.append(
            f"BATCH_MAX_CONCURRENT={settings.batch_max_concurrent} keeps at most {share:.0%} of "
            f"{settings.openai_rate_limit_rpm} images/min busy at {model} {quality} "
            f"(p99 {MODELS[model].latency_for(quality).p99:.0f} s): set it to {needed}"
        )
    wanted = MODELS[model].call_timeout(quality)
    timeout = call_timeout_for(model, quality, settings.openai_timeout, settings.batch_timeout)
    if timeout < wanted:
        setting = "OPENAI_TIMEOUT" if settings.openai_timeout is not None else "BATCH_TIMEOUT"
        warnings.append(
            f"{setting} leaves {timeout:.0f} s per call where {model} {quality} may take {wanted:.0f} s "
            f"(twice its p99): longer calls are cut off, and the provider bills them anyway; "
            f"set BATCH_TIMEOUT to {min(900, wanted + WORKER_SECONDS_BESIDE_THE_CALL):.0f} "
            "and leave OPENAI_TIMEOUT unset"
        )
    return warnings


def startup_warnings(settings: Settings, today: date) -> list[str]:
    """The capacity warnings for the default model and quality, when OpenAI draws (else none)."""
    from imagegen.providers.factory import provider_name

    if provider_name(settings) != "openai":
        return []
    return capacity_warnings(settings, default_model(settings, today), settings.image_quality)
