"""The OpenAI provider through the real SDK against the fake OpenAI server on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from imagegen.api.job_views import create_job, job_result
from imagegen.config import Settings
from imagegen.errors import PermanentGenerationError, TransientGenerationError
from imagegen.local.fake_openai import FakeOpenAI
from imagegen.logic.run_item import run_item
from imagegen.models.domain import Caller, ImageSpec
from imagegen.models.requests import IconRequest
from imagegen.providers.openai_provider import OpenAIProvider, ProviderKeyError
from imagegen.providers.prices import cost_from_usage
from imagegen.providers.registry import MODELS, current_models
from tests.helpers import png_size
from tests.unit.fakes import make_services

KEY = "sk-test-never-log-this-0123456789"


TODAY = date(2026, 11, 21)  # the unit tests' clock: the models served that day, whatever the real date


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(today=TODAY).start()
    yield server
    server.stop()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _provider(fake: FakeOpenAI, sleeps: Sleeps | None = None, **settings: Any) -> OpenAIProvider:
    config = Settings(
        **{"openai_base_url": fake.base_url, "openai_max_retries": 3, "openai_timeout": 5, **settings}
    )
    return OpenAIProvider(config, KEY, sleep=sleeps if sleeps is not None else Sleeps())


def _spec(model: str = "gpt-image-2", size: str = "1024x1024", quality: str = "low") -> ImageSpec:
    width, height = (int(side) for side in size.split("x"))
    return ImageSpec(
        kind="icon",
        prompt="a wrench icon",
        width=width,
        height=height,
        key="k.png",
        model=model,
        quality=quality,
    )


@pytest.mark.parametrize("model", current_models(TODAY))
def test_each_model_generates_with_only_the_parameters_it_accepts(fake: FakeOpenAI, model: str) -> None:
    image = _provider(fake).generate(_spec(model))
    assert png_size(image.data) == (1024, 1024)
    sent = fake.requests[-1]
    assert sent["model"] == model and "response_format" not in sent and "style" not in sent
    assert image.usage and image.usage["total_tokens"] > 0
    assert image.request_id and image.request_id.startswith("req_")


def test_gpt_image_2_draws_the_blog_size(fake: FakeOpenAI) -> None:
    assert png_size(_provider(fake).generate(_spec(size="1792x1024")).data) == (1792, 1024)


def test_a_size_the_model_cannot_draw_is_a_permanent_failure_without_retry(fake: FakeOpenAI) -> None:
    sleeps = Sleeps()
    with pytest.raises(PermanentGenerationError, match="invalid_value"):
        _provider(fake, sleeps).generate(_spec("gpt-image-1.5", "1792x1024"))
    assert sleeps == [] and fake.calls["400"] == 1


def test_a_429_with_retry_after_is_waited_out_then_succeeds(fake: FakeOpenAI) -> None:
    fake.configure(retry_after=0.25)
    fake.push("rate_limit")
    sleeps = Sleeps()
    image = _provider(fake, sleeps).generate(_spec())
    assert png_size(image.data) == (1024, 1024)
    assert sleeps == [0.25]
    assert (fake.calls["429"], fake.calls["200"]) == (1, 1)


def test_in_the_worker_a_429_is_one_call_handed_back_with_its_retry_after(fake: FakeOpenAI) -> None:
    from imagegen.errors import ProviderQuotaExhaustedError, ProviderRateLimitedError

    fake.configure(retry_after=0.25)
    fake.push("rate_limit", "insufficient_quota")
    sleeps = Sleeps()
    provider = OpenAIProvider(
        Settings(openai_base_url=fake.base_url, openai_timeout=5), KEY, sleep=sleeps, max_retries=0
    )
    with pytest.raises(ProviderRateLimitedError) as limited:
        provider.generate(_spec())
    assert limited.value.retry_after == 0.25 and sleeps == [] and fake.calls["429"] == 1
    with pytest.raises(ProviderQuotaExhaustedError):
        provider.generate(_spec())
    assert sleeps == [] and fake.calls["429"] == 2


def test_the_fake_enforces_images_per_minute_over_short_windows(fake: FakeOpenAI) -> None:
    fake.configure(images_per_minute=60, window_seconds=1.0)  # one image per one-second window

    class RealSleeps(Sleeps):  # this test must really wait for the window to pass
        def __call__(self, seconds: float) -> None:
            super().__call__(seconds)
            time.sleep(seconds)

    sleeps = RealSleeps()
    provider = _provider(fake, sleeps)
    provider.generate(_spec())
    provider.generate(_spec())  # refused with 429 at first, then waits out the Retry-After it was given
    assert fake.calls["429"] == 1 and fake.calls["200"] == 2
    assert 0 < sleeps[0] <= 1.0


def test_a_moderation_refusal_fails_at_once(fake: FakeOpenAI) -> None:
    fake.push("moderation")
    sleeps = Sleeps()
    with pytest.raises(PermanentGenerationError, match="safety system"):
        _provider(fake, sleeps).generate(_spec())
    assert sleeps == [] and sum(fake.calls.values()) == 1


def test_insufficient_quota_is_never_retried(fake: FakeOpenAI) -> None:
    fake.push("insufficient_quota")
    sleeps = Sleeps()
    with pytest.raises(PermanentGenerationError, match="insufficient quota"):
        _provider(fake, sleeps).generate(_spec())
    assert sleeps == [] and sum(fake.calls.values()) == 1


def test_server_errors_are_retried_with_backoff_then_given_back_to_the_queue(fake: FakeOpenAI) -> None:
    fake.push(*["server_error"] * 4)
    sleeps = Sleeps()
    with pytest.raises(TransientGenerationError, match="after 4 tries"):
        _provider(fake, sleeps).generate(_spec())
    assert sleeps == [0.5, 1.0, 2.0] and fake.calls["500"] == 4


def _billed_when_finished(fake: FakeOpenAI, calls: int) -> list[Any]:
    """The fake's ledger once `calls` calls have finished (a call the client left is billed later)."""
    deadline = time.monotonic() + 10
    while len(fake.billed) < calls and time.monotonic() < deadline:
        time.sleep(0.05)
    return fake.billed


def test_a_timed_out_call_is_billed_and_retried_once_in_process(fake: FakeOpenAI) -> None:
    fake.configure(timeout_seconds=0.6)  # the provider finishes the call after the client left
    fake.push("timeout")
    sleeps = Sleeps()
    image = _provider(fake, sleeps, openai_timeout=0.3).generate(_spec())
    assert png_size(image.data) == (1024, 1024) and len(sleeps) == 1
    assert image.billed_calls == 2  # the one that timed out counts
    billed = _billed_when_finished(fake, 2)
    assert [call.abandoned for call in billed] == [False, True] or [c.abandoned for c in billed] == [
        True,
        False,
    ]


def test_timeouts_past_the_cap_end_the_call_with_the_reason(fake: FakeOpenAI) -> None:
    from imagegen.errors import ProviderCallLostError

    fake.configure(timeout_seconds=0.6)
    fake.push("timeout", "timeout", "ok")
    with pytest.raises(ProviderCallLostError, match="did not answer within 0 s; 2 such calls"):
        _provider(fake, openai_timeout=0.3, openai_timeout_retries=1).generate(_spec())
    assert len(_billed_when_finished(fake, 2)) == 2 and sum(fake.calls.values()) == 2  # not a third


def test_a_model_past_its_shutdown_date_is_refused_by_openai_with_the_reason(fake: FakeOpenAI) -> None:
    fake.configure(today="2026-12-01")
    with pytest.raises(PermanentGenerationError, match=r"no longer serves gpt-image-1\.5"):
        _provider(fake).generate(_spec("gpt-image-1.5"))
    assert fake.calls["404"] == 1


@pytest.mark.parametrize("model", current_models(TODAY))
def test_the_cost_of_an_image_comes_from_the_usage_openai_returns(fake: FakeOpenAI, model: str) -> None:
    image = _provider(fake).generate(_spec(model, quality="high"))
    assert image.usage is not None and image.cost_usd is not None
    known = MODELS[model]
    assert known.prices is not None
    output = image.usage["output_tokens"]
    assert output == known.output_tokens(1024, 1024, "high")
    text = image.usage["input_tokens_details"]["text_tokens"]
    expected = (output * known.prices.image_output + text * known.prices.text_input) / 1_000_000
    assert image.cost_usd == pytest.approx(expected, abs=1e-6)
    assert image.cost_usd == cost_from_usage(model, image.usage)
    assert image.cost_usd == pytest.approx(fake.billed[-1].usd, abs=1e-6)  # what the provider billed


def test_in_the_worker_timeouts_are_billed_calls_on_the_item_job_and_stats_and_capped(
    fake: FakeOpenAI,
) -> None:
    from imagegen.logic.usage import stats

    fake.configure(timeout_seconds=0.6)
    fake.push("timeout", "timeout")
    settings: dict[str, Any] = {"openai_rate_limit_rpm": 6000, "openai_timeout_retries": 1}
    provider = OpenAIProvider(
        Settings(openai_base_url=fake.base_url, openai_timeout=0.3, **settings), KEY, max_retries=0
    )
    services = make_services(provider, **settings)
    caller = Caller(sub="alice")
    job_id = create_job(IconRequest(category="tools", quality="low"), caller, services).batch_id
    message = services.queue.sent[0]
    with pytest.raises(TransientGenerationError):
        run_item(message, 1, "r1", services)  # the first timeout: retried through the queue
    assert services.queue.delays == [("r1", 2)]
    run_item(message, 2, "r2", services)  # the second: past OPENAI_TIMEOUT_RETRIES=1, the item ends
    result = job_result(job_id, caller, services)
    assert result.state == "failed" and result.billed_calls == 2 and result.items[0].billed_calls == 2
    assert result.items[0].error and "OPENAI_TIMEOUT_RETRIES" in result.items[0].error
    assert "each may be billed" in result.items[0].error
    figures = stats(caller, services)
    assert (figures.billed_calls, figures.lost_calls, figures.completed, figures.failed) == (2, 2, 0, 1)
    # Lost calls have no usage: what they cost is their estimate, the only figure there is.
    assert (
        figures.actual_cost_usd == pytest.approx(figures.estimated_cost_usd) and figures.actual_cost_usd > 0
    )
    billed = _billed_when_finished(fake, 2)
    assert len(billed) == 2 and all(call.abandoned for call in billed)
    assert sum(call.usd for call in billed) == pytest.approx(figures.actual_cost_usd, abs=1e-4)


def test_the_key_never_appears_in_errors_or_logs(
    fake: FakeOpenAI, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    fake.configure(retry_after=0.01)
    fake.push("rate_limit", "server_error")
    _provider(fake).generate(_spec())
    fake.push("invalid_key")
    with pytest.raises(ProviderKeyError) as refused:
        _provider(fake).generate(_spec())
    captured = capsys.readouterr()
    assert KEY not in str(refused.value) and KEY not in repr(refused.value)
    assert KEY not in captured.out + captured.err
    assert [r.getMessage() for r in caplog.records].count("openai call will be retried") == 2
    assert all(KEY not in str(record.__dict__) for record in caplog.records)  # message and every extra key


@pytest.mark.parametrize("behaviour", ["truncated", "not_png", "bomb"])
def test_bad_bytes_from_openai_are_never_stored(fake: FakeOpenAI, behaviour: str) -> None:
    fake.push(behaviour)
    # A timeout no busy machine reaches: a timed-out call is retried, and the retry draws a good image.
    services = make_services(_provider(fake, openai_timeout=60))
    caller = Caller(sub="alice")
    job_id = create_job(IconRequest(category="tools"), caller, services).batch_id
    run_item(services.queue.sent[0], 1, "r", services)
    result = job_result(job_id, caller, services)
    assert result.state == "failed" and result.items[0].error
    assert services.images.objects == {}


def test_metadata_records_usage_cost_and_request_id(fake: FakeOpenAI) -> None:
    services = make_services(_provider(fake))
    caller = Caller(sub="alice")
    job_id = create_job(IconRequest(category="tools", model="gpt-image-1-mini"), caller, services).batch_id
    run_item(services.queue.sent[0], 1, "r", services)
    key = job_result(job_id, caller, services).items[0].key.removesuffix(".png") + "_metadata.json"
    metadata = json.loads(services.images.objects[key][0])
    assert metadata["provider"] == "openai" and metadata["model"] == "gpt-image-1-mini"
    assert metadata["usage"]["output_tokens"] > 0 and metadata["cost_usd_estimate"] > 0
    assert metadata["cost_usd"] == cost_from_usage("gpt-image-1-mini", metadata["usage"])
    assert metadata["billed_calls"] == 1
    assert metadata["provider_request_id"].startswith("req_")
