"""Per-user daily image quotas and per-batch cost ceilings, both checked before anything is queued."""

from __future__ import annotations

from datetime import datetime, timedelta

from imagegen.errors import BudgetExceededError, QuotaExceededError
from imagegen.logic.services import Services
from imagegen.models.domain import ImageSpec
from imagegen.providers.prices import estimate_spec_cost


def day_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def seconds_until_next_day(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()) + 1)


def reserve_images(owner: str, count: int, now: datetime, services: Services) -> None:
    """Count `count` images on today's quota, or refuse them all (QUOTA_IMAGES_PER_DAY; 0 = none)."""
    limit = services.settings.quota_images_per_day
    if not limit or count <= 0:
        return
    expires_at = int((now + timedelta(days=2)).timestamp())
    if not services.limits.reserve_daily(owner, day_of(now), count, limit, expires_at):
        used = services.limits.used_daily(owner, day_of(now))
        raise QuotaExceededError(
            f"this request needs {count} new images; {max(0, limit - used)} of your {limit} "
            "images a day are left (cached images are free)",
            retry_after=seconds_until_next_day(now),
        )


def release_images(owner: str, created_at: datetime, count: int, services: Services) -> None:
    """Give back images counted when the job was created but never made (failed or cancelled)."""
    if services.settings.quota_images_per_day and count > 0:
        services.limits.release_daily(owner, day_of(created_at), count)


def check_budget(specs: list[ImageSpec], provider: str, ceiling: float | None) -> float:
    """The estimated cost in USD of drawing `specs`; BudgetExceededError above the ceiling.

    Every model the registry serves has a price; `auto` quality is counted as high. The offline
    renderer costs nothing."""
    if provider != "openai":
        return 0.0
    total = sum(estimate_spec_cost(spec) for spec in specs)
    if ceiling is not None and total > ceiling:
        raise BudgetExceededError(
            f"estimated cost ${total:.4f} for {len(specs)} new images is above max_cost_usd ${ceiling:.4f}"
        )
    return round(total, 6)
