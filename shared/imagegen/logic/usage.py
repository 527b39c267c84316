"""Usage: what each caller generated, counted in the limits table and emitted as EMF metrics.

Generation times go into log-spaced buckets (four per doubling), so p95 is read from counters that
concurrent workers can add to; it is exact to within one bucket (about 19 %). Images and cost are also
counted per UTC day, in a row per day that expires after DAYS_KEPT days (see DailyUsage).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as day_start
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from imagegen.logic.services import Services
from imagegen.models.domain import EVERYONE, Caller, DailyUsage, UsageChange
from imagegen.models.responses import DayUsageOut, ModelUsageOut, StatsOut

BUCKETS_PER_DOUBLING = 4
DAYS_KEPT = 30  # the days GET /api/icons/stats answers with; a day's row expires one day after
metrics = Metrics(namespace="imagegen", service="imagegen")
# The worker runs a batch's records in threads; Metrics.add_metric reads, appends and writes back a
# shared dict, so two threads adding the same name at once could lose a value.
_metrics_lock = threading.Lock()


def _emit(name: str, unit: MetricUnit, value: float) -> None:
    with _metrics_lock:
        metrics.add_metric(name, unit, value)


def _bucket(milliseconds: float) -> int:
    return max(0, math.floor(BUCKETS_PER_DOUBLING * math.log2(max(milliseconds, 1.0))))


def _bucket_top(bucket: int) -> float:
    return float(2 ** ((bucket + 1) / BUCKETS_PER_DOUBLING))


def _daily(at: datetime, counters: dict[str, float]) -> DailyUsage:
    day = at.astimezone(UTC).date()
    expires = datetime.combine(day + timedelta(days=DAYS_KEPT + 1), day_start.min, UTC)
    return DailyUsage(day.isoformat(), counters, int(expires.timestamp()))


def generation_usage(
    owner: str, *, completed: bool, milliseconds: float, model: str | None, at: datetime
) -> UsageChange:
    """What one item's generation adds to the stats once it ended (stored, or failed for good), `at`
    that time; the worker counts it in the transaction that ends the item (JobsStore.finish_item)."""
    counters: dict[str, float] = {
        "generations": 1,
        "completed": int(completed),
        "failed": int(not completed),
        "duration_ms": milliseconds,
        f"h_{_bucket(milliseconds)}": 1,
    }
    if completed and model:
        counters[f"images#{model}"] = 1
    return UsageChange(owner, counters, _daily(at, {"images": int(completed)}))


def generation_counted(change: UsageChange) -> None:
    """The metrics of a generation whose end was just counted."""
    completed = bool(change.counters["completed"])
    _emit("Generations", MetricUnit.Count, 1)
    _emit("ImagesStored" if completed else "ItemsFailed", MetricUnit.Count, 1)
    _emit("GenerationTime", MetricUnit.Milliseconds, change.counters["duration_ms"])


def billed_call_usage(
    owner: str, model: str, *, lost: bool, actual_usd: float | None, estimated_usd: float, at: datetime
) -> UsageChange:
    """A provider call that may be billed: answered (cost from its usage), or timed out or cut off
    (the provider may finish and bill it: its cost is the estimate, the only figure there is). The
    worker counts it in the transaction that counts the call on its item (JobsStore.count_billed_call)."""
    cost = actual_usd if actual_usd is not None else estimated_usd
    return UsageChange(
        owner,
        {
            "billed_calls": 1,
            "lost_calls": int(lost),
            "actual_cost_usd": cost,
            "estimated_cost_usd": estimated_usd,
            f"calls#{model}": 1,
            f"lost#{model}": int(lost),
            f"cost#{model}": cost,
            f"estimate#{model}": estimated_usd,
        },
        _daily(at, {"cost_usd": cost}),
    )


def billed_call_counted(change: UsageChange) -> None:
    """The metrics of a billed call just counted."""
    _emit("BilledCalls", MetricUnit.Count, 1)
    if change.counters["lost_calls"]:
        _emit("LostCalls", MetricUnit.Count, 1)
    _emit("CostMicroUSD", MetricUnit.Count, round(change.counters["actual_cost_usd"] * 1_000_000))


def record_event(services: Services, owner: str, name: str, count: int = 1) -> None:
    """A counted event: cache_hits, retries, rate_limited (provider 429s), rate_waits (items that
    waited in the queue for their slot)."""
    services.limits.add_usage(owner, {name: count})
    metric = {"cache_hits": "CacheHits", "retries": "Retries", "rate_limited": "Provider429s"}.get(name)
    if metric:
        _emit(metric, MetricUnit.Count, count)


def _p95(counters: dict[str, float]) -> float | None:
    buckets = sorted((int(name[2:]), count) for name, count in counters.items() if name.startswith("h_"))
    total = sum(count for _, count in buckets)
    if not total:
        return None
    seen = 0.0
    for bucket, count in buckets:
        seen += count
        if seen >= 0.95 * total:
            return round(_bucket_top(bucket), 1)
    return None  # not reached: the last bucket holds the rest


def stats(caller: Caller, services: Services) -> StatsOut:
    """The caller's figures; an admin sees the whole service's."""
    who = EVERYONE if caller.is_admin else caller.sub
    counters = services.limits.usage(who)
    get = counters.get
    generations = int(get("generations", 0))
    hits = int(get("cache_hits", 0))
    by_model: dict[str, dict[str, Any]] = {}
    fields: dict[str, tuple[str, Callable[[float], float | int]]] = {
        "images": ("images", int),
        "calls": ("billed_calls", int),
        "lost": ("lost_calls", int),
        "cost": ("actual_cost_usd", _usd),
        "estimate": ("estimated_cost_usd", _usd),
    }
    for name, value in counters.items():
        kind, _, model = name.partition("#")
        if model and kind in fields:
            field, convert = fields[kind]
            by_model.setdefault(model, {})[field] = convert(value)
    return StatsOut(
        scope="everyone" if who == EVERYONE else "caller",
        generations=generations,
        completed=int(get("completed", 0)),
        failed=int(get("failed", 0)),
        success_rate=round(get("completed", 0) / generations, 4) if generations else None,
        average_ms=round(get("duration_ms", 0) / generations, 1) if generations else None,
        p95_ms=_p95(counters),
        cache_hits=hits,
        cache_hit_rate=round(hits / (hits + generations), 4) if hits + generations else None,
        retries=int(get("retries", 0)),
        rate_limited=int(get("rate_limited", 0)),
        rate_waits=int(get("rate_waits", 0)),
        billed_calls=int(get("billed_calls", 0)),
        lost_calls=int(get("lost_calls", 0)),
        actual_cost_usd=_usd(get("actual_cost_usd", 0)),
        estimated_cost_usd=_usd(get("estimated_cost_usd", 0)),
        by_model=[ModelUsageOut(model=model, **values) for model, values in sorted(by_model.items())],
        by_day=_by_day(who, services),
    )


def _by_day(who: str, services: Services) -> list[DayUsageOut]:
    """The last DAYS_KEPT UTC days up to today, oldest first; a day without usage as zeros."""
    today = services.clock().astimezone(UTC).date()
    days = [(today - timedelta(days=back)).isoformat() for back in range(DAYS_KEPT - 1, -1, -1)]
    rows = services.limits.usage_days(who, days)
    return [
        DayUsageOut(
            date=day,
            images=int(rows.get(day, {}).get("images", 0)),
            cost_usd=_usd(rows.get(day, {}).get("cost_usd", 0)),
        )
        for day in days
    ]


def _usd(value: float) -> float:
    return round(value, 6)
