"""Shipped defaults that fit the provider: concurrency per tier, timeouts within the worker."""

from __future__ import annotations

from datetime import date

import pytest

from imagegen.config import Settings, settings_from
from imagegen.local.template import Template
from imagegen.logic.capacity import capacity_warnings, required_concurrency, worker_concurrency
from imagegen.providers.registry import DEFAULT_MODEL, GPT_IMAGE_QUALITIES, MODELS, current_models

TEMPLATE = Template()
TIERS = TEMPLATE.doc["Mappings"]["Tiers"]
DAY = date(2026, 11, 21)


def settings(**values: object) -> Settings:
    """Settings from these values alone: a variable exported in the shell cannot change a result."""
    return settings_from({name.upper(): str(value) for name, value in values.items()})


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_each_tier_s_worker_concurrency_keeps_its_limit_busy_at_the_default_model_s_latency(
    tier: str,
) -> None:
    row = TIERS[tier]
    limits = settings(openai_rate_limit_rpm=row["Rpm"], openai_rate_limit_tpm=row["Tpm"])
    assert row["WorkerConcurrency"] == required_concurrency(limits, DEFAULT_MODEL, "auto")
    assert worker_concurrency(limits, DAY) == row["WorkerConcurrency"]  # unset: derived the same way


def test_in_flight_is_images_per_second_times_latency() -> None:
    # Tier 1: 5 images a minute, and a high-quality image may take 330 s (p99) + 7 s around it.
    tier_1 = settings(openai_rate_limit_rpm=5, openai_rate_limit_tpm=100_000)
    assert required_concurrency(tier_1, "gpt-image-2", "high") == 29  # ceil(5/60 x 337)
    assert required_concurrency(tier_1, "gpt-image-2", "low") == 4  # ceil(5/60 x 47)
    # Tokens bind when a large image at high quality exceeds the tokens-per-minute share.
    tight = settings(openai_rate_limit_rpm=50, openai_rate_limit_tpm=100_000)
    assert required_concurrency(tight, "gpt-image-2", "high") == 80  # 100k/7,024 = 14.2 images/min


def test_the_template_defaults_are_the_tier_1_figures_and_the_worker_fits_the_longest_call() -> None:
    env = TEMPLATE.environment("WorkerFunction")
    assert (env["OPENAI_RATE_LIMIT_RPM"], env["OPENAI_RATE_LIMIT_TPM"]) == ("5", "100000")
    assert env["BATCH_MAX_CONCURRENT"] == "29"
    scaling = TEMPLATE.sqs_event("WorkerFunction")
    assert scaling is not None and scaling["ScalingConfig"]["MaximumConcurrency"] == 29
    timeout = int(TEMPLATE.function_property("WorkerFunction", "Timeout"))
    shipped = settings(batch_timeout=timeout)
    for model in current_models(DAY):
        for quality in GPT_IMAGE_QUALITIES:
            assert capacity_warnings(shipped, model, quality) == []  # no call is cut off
            assert MODELS[model].call_timeout(quality) + 60 <= timeout
    visibility = TEMPLATE.resolve(TEMPLATE.resources["GenerateQueue"]["Properties"]["VisibilityTimeout"])
    assert visibility == 6 * timeout


def test_settings_that_idle_the_limit_or_cut_calls_off_are_named_with_the_fix() -> None:
    warnings = capacity_warnings(settings(batch_max_concurrent=3, batch_timeout=300), "gpt-image-2", "auto")
    assert warnings[0].startswith("BATCH_MAX_CONCURRENT=3 keeps at most 10% of 5 images/min busy")
    assert warnings[0].endswith("set it to 29")
    assert "BATCH_TIMEOUT leaves 240 s per call where gpt-image-2 auto may take 660 s" in warnings[1]
    original = capacity_warnings(settings(openai_timeout=60, batch_timeout=300), "gpt-image-2", "medium")
    assert any(w.startswith("OPENAI_TIMEOUT leaves 60 s per call") for w in original)
    assert capacity_warnings(settings(), "gpt-image-2", "auto") == []  # the shipped defaults
