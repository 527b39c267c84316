"""The OpenAI provider through the real SDK against the fake OpenAI server on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from imagegen.config import Settings
from imagegen.errors import PermanentGenerationError, TransientGenerationError
from imagegen.local.fake_openai import FakeOpenAI
from imagegen.logic.jobs import create_job, job_result
from imagegen.logic.run_item import run_item
from imagegen.models.domain import Caller, ImageSpec
from imagegen.models.requests import IconRequest
from imagegen.providers.openai_provider import OpenAIProvider, ProviderKeyError
from imagegen.providers.registry import MODELS
from tests.helpers import png_size
from tests.unit.fakes import make_services

KEY = "sk-test-never-log-this-0123456789"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
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


@pytest.mark.parametrize("model", sorted(MODELS))
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


def test_a_timeout_is_retried(fake: FakeOpenAI) -> None:
    fake.push("timeout")
    sleeps = Sleeps()
    image = _provider(fake, sleeps, openai_timeout=0.5).generate(_spec())
    assert png_size(image.data) == (1024, 1024) and len(sleeps) == 1


def test_cost_is_estimated_only_where_the_price_is_known(fake: FakeOpenAI) -> None:
    mini = _provider(fake).generate(_spec("gpt-image-1-mini"))
    assert mini.cost_usd is not None and mini.cost_usd > 0
    assert _provider(fake).generate(_spec("gpt-image-2")).cost_usd is None


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
    services = make_services(_provider(fake))
    caller = Caller(sub="alice")
    job_id = create_job(IconRequest(category="tools"), caller, services).batch_id
    run_item(services.queue.sent[0], 1, "r", services)  # type: ignore[attr-defined]
    result = job_result(job_id, caller, services)
    assert result.state == "failed" and result.items[0].error
    assert services.images.objects == {}  # type: ignore[attr-defined]


def test_metadata_records_usage_cost_and_request_id(fake: FakeOpenAI) -> None:
    services = make_services(_provider(fake))
    caller = Caller(sub="alice")
    job_id = create_job(IconRequest(category="tools", model="gpt-image-1-mini"), caller, services).batch_id
    run_item(services.queue.sent[0], 1, "r", services)  # type: ignore[attr-defined]
    key = job_result(job_id, caller, services).items[0].key.removesuffix(".png") + "_metadata.json"
    metadata = json.loads(services.images.objects[key][0])  # type: ignore[attr-defined]
    assert metadata["provider"] == "openai" and metadata["model"] == "gpt-image-1-mini"
    assert metadata["usage"]["output_tokens"] > 0 and metadata["cost_usd_estimate"] > 0
    assert metadata["provider_request_id"].startswith("req_")
