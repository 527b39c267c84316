"""The request cache, daily quotas, cost ceilings, usage stats and one call per item under duplicates."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import date
from typing import Any

import pytest

from imagegen.api.job_views import cancel_job, create_job, job_result
from imagegen.errors import BudgetExceededError, QuotaExceededError
from imagegen.logic.cache import clear_cache, list_cached
from imagegen.logic.quotas import check_budget
from imagegen.logic.run_item import run_item
from imagegen.logic.specs import icon_specs
from imagegen.logic.usage import stats
from imagegen.models.domain import Caller, ImageSpec
from imagegen.models.requests import BatchRequest, BlogImageRequest, IconRequest, Quality
from imagegen.providers.base import GeneratedImage
from tests.unit.fakes import ScriptedProvider, make_services

ALICE, BOB, ADMIN = Caller(sub="alice"), Caller(sub="bob"), Caller(sub="root", scopes=frozenset({"admin"}))
ICON: dict[str, Any] = {"category": "garden tools", "size": "1024x1024", "style": "flat", "derivatives": [64]}


def _run_all(services: Any, start: int = 0) -> None:
    for message in services.queue.sent[start:]:
        run_item(message, 1, "r", services)


def test_a_repeated_request_is_answered_from_the_cache_without_a_provider_call() -> None:
    provider = ScriptedProvider()
    services = make_services(provider)
    first = create_job(IconRequest(**ICON), ALICE, services)
    _run_all(services)
    assert provider.calls == 1
    sent_before = len(services.queue.sent)
    second = create_job(IconRequest(**ICON), ALICE, services)
    assert second.state == "completed"  # answered at once
    assert len(services.queue.sent) == sent_before and provider.calls == 1
    result = job_result(second.batch_id, ALICE, services)
    (item,) = result.items
    assert item.cache_hit and item.state == "completed"
    objects = services.images.objects
    original = job_result(first.batch_id, ALICE, services).items[0]
    assert objects[item.key][0] == objects[original.key][0]
    assert item.key != original.key and item.key.replace(".png", "_64px.png") in objects
    metadata = json.loads(objects[item.key.replace(".png", "_metadata.json")][0])
    assert metadata["cache_hit"] is True and metadata["cached_from"] == original.key
    assert metadata["image_path"] == item.key and metadata["job_id"] == second.batch_id
    first_metadata = json.loads(objects[original.key.replace(".png", "_metadata.json")][0])
    assert first_metadata["cache_hit"] is False
    assert stats(ALICE, services).cache_hits == 1 and stats(ALICE, services).cache_hit_rate == 0.5


def test_the_cache_is_per_owner_unless_shared_and_can_be_skipped() -> None:
    provider = ScriptedProvider()
    services = make_services(provider)
    create_job(IconRequest(**ICON), ALICE, services)
    _run_all(services)
    assert create_job(IconRequest(**ICON), BOB, services).state == "queued"  # Bob never sees Alice's image
    assert create_job(IconRequest(**ICON, use_cache=False), ALICE, services).state == "queued"
    assert create_job(IconRequest(**(ICON | {"style": "modern"})), ALICE, services).state == "queued"
    shared = make_services(provider, cache_scope="shared")
    create_job(IconRequest(**ICON), ALICE, shared)
    _run_all(shared)
    assert create_job(IconRequest(**ICON), BOB, shared).state == "completed"


def test_cached_entries_are_listed_per_owner_and_cleared_by_owner_or_by_an_admin() -> None:
    services = make_services()
    create_job(BatchRequest(categories=["a", "b"], size="1024x1024"), ALICE, services)
    create_job(IconRequest(category="c", size="1024x1024"), BOB, services)
    _run_all(services)
    assert {entry.summary for entry in list_cached(ALICE, 10, None, services).entries} == {"a", "b"}
    assert clear_cache(ALICE, services).cleared == 2
    assert list_cached(ALICE, 10, None, services).entries == []
    assert len(list_cached(BOB, 10, None, services).entries) == 1
    assert clear_cache(ADMIN, services).model_dump() == {"cleared": 1, "scope": "everyone"}


def test_a_batch_over_the_daily_quota_is_refused_whole_before_any_call() -> None:
    provider = ScriptedProvider()
    services = make_services(provider, quota_images_per_day=5)
    create_job(BatchRequest(categories=["a", "b", "c"], size="1024x1024"), ALICE, services)
    with pytest.raises(QuotaExceededError) as refused:
        create_job(BatchRequest(categories=["d", "e", "f"], size="1024x1024"), ALICE, services)
    assert "2 of your 5" in str(refused.value) and 0 < refused.value.retry_after <= 86_401
    assert len(services.jobs.jobs) == 1 and len(services.queue.sent) == 3
    assert provider.calls == 0
    _run_all(services)
    # Cache hits are free: the same three again cost nothing and pass.
    again = create_job(BatchRequest(categories=["a", "b", "c"], size="1024x1024"), ALICE, services)
    assert again.state == "completed"
    create_job(BatchRequest(categories=["d", "e"], size="1024x1024"), ALICE, services)  # exactly the rest
    with pytest.raises(QuotaExceededError):
        create_job(IconRequest(category="z", size="1024x1024"), ALICE, services)
    create_job(IconRequest(category="z", size="1024x1024"), BOB, services)  # Bob has his own quota


def test_cancelled_items_go_back_on_the_quota() -> None:
    services = make_services(quota_images_per_day=4)
    job = create_job(BatchRequest(categories=["a", "b", "c", "d"], size="1024x1024"), ALICE, services)
    cancel_job(job.batch_id, ALICE, services)
    create_job(BatchRequest(categories=["e", "f", "g", "h"], size="1024x1024"), ALICE, services)


def _specs(model: str, n: int, quality: Quality = "low") -> list[ImageSpec]:
    request = BatchRequest(
        categories=[f"c{i}" for i in range(n)], size="1024x1024", model=model, quality=quality
    )
    return icon_specs(request, "0" * 32, make_services().settings, date(2026, 11, 21))


def test_a_cost_ceiling_is_checked_against_the_estimate_before_anything_is_queued() -> None:
    specs = _specs("gpt-image-1-mini", 10)
    estimate = check_budget(specs, "openai", None)
    assert 0.05 < estimate < 0.053  # 10 x ($0.005 a low 1024x1024 image, OpenAI's price, + the prompt)
    assert check_budget(specs, "openai", 1.0) == estimate
    with pytest.raises(BudgetExceededError, match="above max_cost_usd"):
        check_budget(specs, "openai", 0.01)
    assert check_budget(specs, "offline", 0.01) == 0.0  # the offline renderer costs nothing


@pytest.mark.parametrize(
    ("model", "per_image"),
    [
        ("gpt-image-2", 0.2107),  # 7,024 output tokens at $30/M
        ("gpt-image-2.5-flare", 0.2107),
        ("gpt-image-2.5-sunburst", 0.2107),
        ("gpt-image-2.6-flare", 0.2107),
        ("gpt-image-2.6-sunburst", 0.2107),
        ("gpt-image-1.5", 0.1331),  # 4,160 at $32/M
        ("chatgpt-image-latest", 0.1331),
        ("gpt-image-1-mini", 0.036),  # OpenAI's per-image price
    ],
)
def test_every_priced_model_takes_a_cost_ceiling_with_auto_counted_as_high(
    model: str, per_image: float
) -> None:
    specs = _specs(model, 3, quality="auto")
    assert check_budget(specs, "openai", None) == pytest.approx(3 * per_image, abs=0.001)
    with pytest.raises(BudgetExceededError):
        check_budget(specs, "openai", 2.5 * per_image)


def test_a_blog_image_takes_a_cost_ceiling_too() -> None:
    services = make_services(openai_api_key="sk-unit-never-called")  # OpenAI draws: estimates apply
    request = BlogImageRequest(
        prompt="harbour", post_id="1", section_id="1", quality="high", max_cost_usd=0.1
    )
    with pytest.raises(BudgetExceededError, match=r"\$0\.1"):
        create_job(request, ALICE, services)
    assert services.queue.sent == []


def test_stats_count_generations_failures_times_and_models_per_caller() -> None:
    from imagegen.errors import PermanentGenerationError

    provider = ScriptedProvider(None, PermanentGenerationError("refused"), None)
    services = make_services(provider)
    create_job(BatchRequest(categories=["a", "b", "c"], size="1024x1024"), ALICE, services)
    _run_all(services)
    create_job(IconRequest(category="d", size="1024x1024"), BOB, services)
    _run_all(services, start=3)
    mine = stats(ALICE, services)
    assert (mine.generations, mine.completed, mine.failed) == (3, 2, 1)
    assert mine.success_rate == pytest.approx(2 / 3, abs=1e-3)
    assert mine.average_ms and mine.p95_ms and mine.p95_ms >= mine.average_ms * 0.5
    assert [(m.model, m.images) for m in mine.by_model] == [("offline-renderer-1", 2)]
    everyone = stats(ADMIN, services)
    assert everyone.scope == "everyone" and everyone.generations == 4


class SlowProvider:
    """Holds every call until released, so two deliveries are in flight at the same moment."""

    name = "slow"
    rate_limited = False
    parallel_calls = 1

    def __init__(self) -> None:
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.real = ScriptedProvider()

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        self.calls += 1
        self.entered.set()
        self.release.wait(10)
        return self.real.generate(spec)


def test_two_deliveries_of_one_message_at_the_same_moment_make_one_call_and_one_object() -> None:
    provider = SlowProvider()
    services = make_services(provider)
    job_id = create_job(
        BlogImageRequest(prompt="a quiet harbour", post_id="1", section_id="2"), ALICE, services
    ).batch_id
    message = services.queue.sent[0]
    first = threading.Thread(target=run_item, args=(message, 1, "r1", services))
    first.start()
    assert provider.entered.wait(10)
    run_item(message, 1, "r2", services)  # the duplicate arrives while the first is drawing
    provider.release.set()
    first.join(10)
    assert provider.calls == 1
    assert len(services.images.objects) == 2  # image + metadata
    assert job_result(job_id, ALICE, services).counts.completed == 1


def test_the_worker_emits_the_figures_as_emf_metrics() -> None:
    from imagegen.logic.usage import metrics

    metrics.clear_metrics()
    services = make_services()
    create_job(IconRequest(category="kites", size="1024x1024"), ALICE, services)
    _run_all(services)
    emf = metrics.serialize_metric_set()
    figures: Mapping[str, object] = emf  # the metrics sit beside `_aws`, under names the TypedDict lacks
    names = {m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"Generations", "ImagesStored", "GenerationTime"} <= names
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "imagegen"
    assert figures["Generations"] == 1.0 or figures["Generations"] == [1.0]
    metrics.clear_metrics()


def test_stats_count_images_and_cost_per_utc_day_for_the_last_30_days() -> None:
    # Given images drawn on one day and one more two days later, when the stats are read, then
    # by_day holds 30 days ending today, oldest first, with each day's images and cost.
    from datetime import timedelta

    services = make_services(ScriptedProvider(None, None, None))
    create_job(BatchRequest(categories=["a", "b"], size="1024x1024"), ALICE, services)
    _run_all(services)
    drawn_on = services.clock().date()
    services.clock.now += timedelta(days=2)  # type: ignore[attr-defined]
    create_job(IconRequest(category="c", size="1024x1024"), ALICE, services)
    _run_all(services, start=2)
    days = stats(ALICE, services).by_day
    assert len(days) == 30
    assert days[-1].date == (drawn_on + timedelta(days=2)).isoformat()
    assert days[0].date == (drawn_on + timedelta(days=2 - 29)).isoformat()
    counted = {day.date: day.images for day in days if day.images}
    assert counted == {drawn_on.isoformat(): 2, days[-1].date: 1}
    # Another caller's images are not in Alice's days, and everyone's hold both.
    assert all(day.images == 0 for day in stats(BOB, services).by_day)
    assert sum(day.images for day in stats(ADMIN, services).by_day) == 3


def test_a_days_counters_expire_a_day_after_they_leave_the_answer() -> None:
    from datetime import UTC, datetime

    from imagegen.logic.usage import DAYS_KEPT, generation_usage

    at = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)
    change = generation_usage("alice", completed=True, milliseconds=5, model="m", at=at)
    assert change.daily is not None
    assert change.daily.day == "2026-11-22" and change.daily.counters == {"images": 1}
    expires = datetime.fromtimestamp(change.daily.expires_at, UTC)
    assert expires == datetime(2026, 12, 23, tzinfo=UTC)  # midnight, DAYS_KEPT + 1 days later
    assert (expires.date() - at.date()).days == DAYS_KEPT + 1
