"""The fake OpenAI server through the real SDK on loopback: latency, billing, usage, shutdowns, limits."""

from __future__ import annotations

import json
import math
import statistics
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from typing import Any, Literal

import openai
import pytest

from imagegen.local.fake_openai import Z_P99, BilledCall, FakeOpenAI
from imagegen.providers.prices import cost_from_usage
from imagegen.providers.registry import MODELS, current_models

KEY = "sk-test-fake-openai"
TODAY = date(2026, 11, 21)


@pytest.fixture
def fakes() -> Iterator[list[FakeOpenAI]]:
    started: list[FakeOpenAI] = []
    yield started
    for fake in started:
        fake.stop()


def _start(fakes: list[FakeOpenAI], **settings: Any) -> FakeOpenAI:
    fake = FakeOpenAI(**{"today": TODAY, **settings}).start()
    fakes.append(fake)
    return fake


def _client(fake: FakeOpenAI, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(api_key=KEY, base_url=fake.base_url, timeout=timeout, max_retries=0)


def _draw(
    fake: FakeOpenAI,
    model: str = "gpt-image-2",
    quality: Literal["low", "medium", "high", "auto"] = "low",
    timeout: float = 5.0,
) -> Any:
    return _client(fake, timeout).images.generate(
        model=model, prompt="a lighthouse at dusk", size="1024x1024", quality=quality, n=1
    )


def _stats(fake: FakeOpenAI) -> dict[str, Any]:
    with urllib.request.urlopen(fake.base_url.removesuffix("/v1") + "/_fake/stats", timeout=5) as answer:
        return dict(json.load(answer))


def _variate(call: BilledCall, time_scale: float) -> float:
    """The standard-normal variate a drawn latency came from."""
    latency = MODELS[call.model].latency_for(call.quality)
    sigma = math.log(latency.p99 / latency.p50) / Z_P99
    return math.log(call.latency_seconds / time_scale / latency.p50) / sigma


def test_the_kth_accepted_call_gets_the_same_latency_on_fakes_with_the_same_seed(
    fakes: list[FakeOpenAI],
) -> None:
    # Given two fakes seeded alike and one seeded otherwise, drawing latencies from the model
    scale = 0.0005
    first, second, other = (_start(fakes, latency=None, seed=s, time_scale=scale) for s in (7, 7, 8))
    # When each serves three calls (the second fake's third call at another model and quality)
    for fake in (first, second, other):
        _draw(fake)
        _draw(fake, quality="medium")
    _draw(first)
    _draw(second, model="gpt-image-1.5", quality="high")
    _draw(other)
    # Then the k-th call took the same latency on the same seed, and another seed differs
    same, again, different = (fake.billed for fake in (first, second, other))
    assert [c.latency_seconds for c in same[:2]] == [c.latency_seconds for c in again[:2]]
    assert [c.latency_seconds for c in same] != [c.latency_seconds for c in different]
    # and the third call drew the same variate, scaled by its own model's distribution
    assert _variate(same[2], scale) == pytest.approx(_variate(again[2], scale))
    assert same[2].latency_seconds != again[2].latency_seconds


def test_drawn_latencies_have_the_registrys_median_and_high_quality_is_slower() -> None:
    fake = FakeOpenAI(latency=None, seed=1)
    try:
        for model, quality in (
            ("gpt-image-2", "low"),
            ("gpt-image-2", "high"),
            ("gpt-image-1-mini", "medium"),
        ):
            draws = [fake.next_latency(model, quality) for _ in range(2001)]
            latency = MODELS[model].latency_for(quality)
            assert statistics.median(draws) == pytest.approx(latency.p50, rel=0.05)
            assert sorted(draws)[int(0.99 * len(draws))] == pytest.approx(latency.p99, rel=0.15)
        low = statistics.median(fake.next_latency("gpt-image-2", "low") for _ in range(201))
        high = statistics.median(fake.next_latency("gpt-image-2", "auto") for _ in range(201))
        assert high > 5 * low
    finally:
        fake.server.server_close()


def test_scripted_latencies_come_first_and_are_scaled(fakes: list[FakeOpenAI]) -> None:
    fake = _start(fakes, latencies=[0.5, 2.0], latency=1.0, time_scale=0.01)
    for _ in range(3):
        _draw(fake)
    assert [c.latency_seconds for c in fake.billed] == pytest.approx([0.005, 0.02, 0.01])


def test_a_call_is_billed_even_when_the_client_hung_up_before_the_answer(fakes: list[FakeOpenAI]) -> None:
    # Given a call that takes 0.4 s and a client that waits 0.1 s
    fake = _start(fakes, latencies=[40.0], time_scale=0.01)
    with pytest.raises(openai.APITimeoutError):
        _draw(fake, timeout=0.1)
    # When the fake finishes drawing it
    deadline = time.monotonic() + 5
    while not fake.billed and time.monotonic() < deadline:
        time.sleep(0.02)
    # Then it is billed, marked abandoned, and counted so in the stats
    (call,) = fake.billed
    assert call.abandoned and call.usd and call.usd > 0
    assert call.finished_at - call.accepted_at >= 0.4
    _draw(fake)  # a client that waits is billed too, not abandoned
    stats = _stats(fake)
    assert (stats["billed_calls"], stats["abandoned_calls"]) == (2, 1)
    assert stats["billed_by_model"]["gpt-image-2"] == {"calls": 2, "abandoned": 1, "usd": stats["billed_usd"]}
    assert stats["calls"] == {"200": 2} and stats["total"] == 2


def test_a_scripted_timeout_outlasts_the_client_and_is_billed(fakes: list[FakeOpenAI]) -> None:
    fake = _start(fakes, timeout_seconds=0.3, time_scale=0.001)
    fake.push("timeout")
    with pytest.raises(openai.APITimeoutError):
        _draw(fake, timeout=0.1)
    deadline = time.monotonic() + 5
    while not fake.billed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(c.latency_seconds, c.abandoned) for c in fake.billed] == [(0.3, True)]


@pytest.mark.parametrize("model", current_models(TODAY))
@pytest.mark.parametrize("quality", ["low", "auto"])
def test_usage_follows_the_models_token_table_and_bills_its_price(
    fakes: list[FakeOpenAI], model: str, quality: Literal["low", "auto"]
) -> None:
    fake = _start(fakes)
    answer = _draw(fake, model, quality)
    expected = MODELS[model].output_tokens(1024, 1024, quality)
    assert answer.usage.output_tokens == expected
    assert answer.usage.input_tokens_details.text_tokens == answer.usage.input_tokens > 0
    assert answer.usage.total_tokens == answer.usage.input_tokens + expected
    assert answer.quality == ("high" if quality == "auto" else quality)
    (call,) = fake.billed
    assert call.usd == cost_from_usage(model, answer.usage.model_dump()) and call.usd
    assert not call.abandoned


def test_a_model_past_its_shutdown_is_not_found(fakes: list[FakeOpenAI]) -> None:
    fake = _start(fakes, today="2026-12-01")
    with pytest.raises(openai.NotFoundError) as gone:
        _draw(fake, "gpt-image-1.5")
    assert gone.value.code == "model_not_found"
    assert "The model `gpt-image-1.5` does not exist" in gone.value.message
    fake.configure(today="2026-11-30")
    assert _draw(fake, "gpt-image-1.5").data
    assert fake.billed[-1].model == "gpt-image-1.5"


@pytest.mark.parametrize("today", ["2025-01-01", "2026-11-21"])
def test_retired_names_without_prices_are_not_found_on_any_date(fakes: list[FakeOpenAI], today: str) -> None:
    fake = _start(fakes, today=today)
    for model in ("dall-e-3", "gpt-image-1"):
        with pytest.raises(openai.NotFoundError):
            _draw(fake, model)
    with pytest.raises(openai.BadRequestError) as unknown:
        _draw(fake, "gpt-image-9")
    assert unknown.value.code == "invalid_value" and "gpt-image-2" in unknown.value.message
    assert fake.billed == [] and fake.calls == {"404": 2, "400": 1}


def test_refused_requests_count_against_the_window(fakes: list[FakeOpenAI]) -> None:
    # Given one image per half-second window, taken at once
    fake = _start(fakes, images_per_minute=120, window_seconds=0.5)
    _draw(fake)
    # When a request is refused 0.3 s later, it is told to wait a whole window, not the 0.2 s left
    time.sleep(0.3)
    with pytest.raises(openai.RateLimitError) as refused:
        _draw(fake)
    assert 450 < int(refused.value.response.headers["retry-after-ms"]) <= 500
    # Then 0.3 s later the first image has aged out but the refusal has not: still refused
    time.sleep(0.3)
    with pytest.raises(openai.RateLimitError):
        _draw(fake)
    time.sleep(0.5)
    _draw(fake)
    assert fake.calls == {"200": 2, "429": 2} and len(fake.billed) == 2
    assert len(fake.accepted) == 1  # accepted requests only, within the window


def test_latency_is_spent_only_on_accepted_calls(fakes: list[FakeOpenAI]) -> None:
    fake = _start(fakes, latencies=[0.2, 0.1], latency=0.0, time_scale=0.1)
    fake.push("rate_limit")
    with pytest.raises(openai.RateLimitError):
        _draw(fake)
    with pytest.raises(openai.BadRequestError):
        _draw(fake, "gpt-image-9")
    _draw(fake)
    # the refusals took no scripted latency: the first accepted call gets the first
    assert [c.latency_seconds for c in fake.billed] == pytest.approx([0.02])


def test_config_over_http_takes_model_latency_and_refuses_unknown_settings(fakes: list[FakeOpenAI]) -> None:
    fake = _start(fakes)
    url = fake.base_url.removesuffix("/v1") + "/_fake/config"

    def post(body: dict[str, Any]) -> int:
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return error.code

    assert post({"latency": "model", "seed": 3, "time_scale": 0.0001, "today": "2026-12-01"}) == 200
    assert (fake.latency, fake.seed, fake.today) == (None, 3, date(2026, 12, 1))
    assert post({"latency_ms": 5}) == 400
    assert post({"today": "tomorrow"}) == 400
