"""Usage: what each caller generated, counted in the limits table and emitted as EMF metrics.

Generation times go into log-spaced buckets (four per doubling), so p95 is read from counters that
concurrent workers can add to; it is exact to within one bucket (about 19 %).
"""

from __future__ import annotations

import math
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from imagegen.logic.services import Services
from imagegen.models.domain import EVERYONE, Caller
from imagegen.models.responses import ModelUsageOut, StatsOut

BUCKETS_PER_DOUBLING = 4
metrics = Metrics(namespace="imagegen", service="imagegen")


def _bucket(milliseconds: float) -> int:
    return max(0, math.floor(BUCKETS_PER_DOUBLING * math.log2(max(milliseconds, 1.0))))


def _bucket_top(bucket: int) -> float:
    return float(2 ** ((bucket + 1) / BUCKETS_PER_DOUBLING))


def record_generation(
    services: Services,
    owner: str,
    *,
    completed: bool,
    milliseconds: float,
    model: str | None,
    cost_usd: float | None,
) -> None:
    """One provider generation ended (stored, or failed for good)."""
    counters: dict[str, float] = {
        "generations": 1,
        "completed": int(completed),
        "failed": int(not completed),
        "duration_ms": milliseconds,
        f"h_{_bucket(milliseconds)}": 1,
    }
    if completed and model:
        counters[f"images#{model}"] = 1
        counters[f"cost#{model}"] = cost_usd or 0.0
    services.limits.add_usage(owner, counters)
    metrics.add_metric("Generations", MetricUnit.Count, 1)
    metrics.add_metric("ImagesStored" if completed else "ItemsFailed", MetricUnit.Count, 1)
    metrics.add_metric("GenerationTime", MetricUnit.Milliseconds, milliseconds)
    if cost_usd:
        metrics.add_metric("EstimatedCostMicroUSD", MetricUnit.Count, round(cost_usd * 1_000_000))


def record_event(services: Services, owner: str, name: str, count: int = 1) -> None:
    """A counted event: cache_hits, retries, rate_limited (provider 429s), rate_waits."""
    services.limits.add_usage(owner, {name: count})
    metric = {"cache_hits": "CacheHits", "retries": "Retries", "rate_limited": "Provider429s"}.get(name)
    if metric:
        metrics.add_metric(metric, MetricUnit.Count, count)


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
    for name, value in counters.items():
        if "#" in name:
            kind, model = name.split("#", 1)
            by_model.setdefault(model, {"images": 0, "estimated_cost_usd": 0.0})
            if kind == "images":
                by_model[model]["images"] = int(value)
            elif kind == "cost":
                by_model[model]["estimated_cost_usd"] = round(value, 6)
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
        by_model=[ModelUsageOut(model=model, **values) for model, values in sorted(by_model.items())],
    )
