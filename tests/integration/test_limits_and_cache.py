"""Idempotency-Key, quotas, the request cache and stats through the real handlers on moto."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import boto3
import pytest

from imagegen.local.lambdas import LocalContext
from imagegen.local.poller import sqs_event
from imagegen.logic.services import default_services
from imagegen.models.domain import EVERYONE, ItemState, UsageChange
from tests.integration.conftest import Deployed

ICON = {"category": "garden tools", "size": "1024x1024", "style": "flat"}


def _batches(deployed: Deployed, sub: str = "alice") -> list[dict[str, object]]:
    code, _, body = deployed.call("status", "GET", "/api/icons/batches", sub=sub)
    assert code == 200
    return list(body["batches"])


def test_an_idempotency_key_gives_the_same_answer_and_one_job(deployed: Deployed) -> None:
    headers = {"idempotency-key": "order-7781"}
    body = {"categories": ["tea", "coffee"], "size": "1024x1024"}
    first = deployed.call("batch", "POST", "/api/icons/generate/batch", body=body, headers=headers)
    again = deployed.call("batch", "POST", "/api/icons/generate/batch", body=body, headers=headers)
    assert first[0] == again[0] == 202 and first[2] == again[2]
    assert again[1]["Location"] == first[1]["Location"]
    assert len(_batches(deployed)) == 1 and deployed.queue_depth() == 2
    # The same key from another user is another request; the same key with another body is refused.
    other = deployed.call("batch", "POST", "/api/icons/generate/batch", body=body, headers=headers, sub="bob")
    assert other[0] == 202 and other[2]["batch_id"] != first[2]["batch_id"]
    changed = {"categories": ["tea"], "size": "1024x1024"}
    code, _, error = deployed.call(
        "batch", "POST", "/api/icons/generate/batch", body=changed, headers=headers
    )
    assert (code, error["error"]) == (422, "idempotency_key_reused")
    code, _, error = deployed.call(
        "generate", "POST", "/api/icons/generate", body=ICON, headers={"idempotency-key": "bad key!"}
    )
    assert (code, error["error"]) == (400, "invalid_request")
    assert len(_batches(deployed)) == 1


def test_a_batch_over_the_daily_quota_gets_429_with_retry_after_and_stores_nothing(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.conftest import forget_caches

    monkeypatch.setenv("QUOTA_IMAGES_PER_DAY", "3")
    forget_caches()
    body = {"categories": ["a", "b"], "variations_per_category": 2, "size": "1024x1024"}
    code, headers, error = deployed.call("batch", "POST", "/api/icons/generate/batch", body=body)
    assert (code, error["error"]) == (429, "quota_exceeded")
    assert 0 < int(headers["Retry-After"]) <= 86_401
    assert deployed.table_rows() == 0 and deployed.queue_depth() == 0


def test_cache_hits_stats_listing_and_clearing_over_the_api(deployed: Deployed) -> None:
    code, _, _ = deployed.call("generate", "POST", "/api/icons/generate", body=ICON)
    assert code == 202
    deployed.drain()
    code, _, second = deployed.call("generate", "POST", "/api/icons/generate", body=ICON)
    assert (code, second["state"]) == (202, "completed")
    _, _, result = deployed.call(
        "status",
        "GET",
        f"/api/icons/batch/{second['batch_id']}/result",
        path_parameters={"batch_id": second["batch_id"]},
    )
    assert result["items"][0]["cache_hit"] is True
    assert deployed.get_object(result["items"][0]["key"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert deployed.drain() == 0  # nothing was queued for the hit
    code, _, stats = deployed.call("status", "GET", "/api/icons/stats")
    assert code == 200 and (stats["generations"], stats["cache_hits"], stats["cache_hit_rate"]) == (1, 1, 0.5)
    assert stats["by_model"][0]["images"] == 1 and stats["p95_ms"] > 0
    code, _, cached = deployed.call("status", "GET", "/api/icons/cached")
    assert code == 200 and [entry["summary"] for entry in cached["entries"]] == ["garden tools"]
    assert deployed.call("status", "GET", "/api/icons/cached", sub="bob")[2]["entries"] == []
    assert deployed.call("batch", "POST", "/api/icons/cache/clear", sub="bob")[2]["cleared"] == 0
    code, _, cleared = deployed.call("batch", "POST", "/api/icons/cache/clear")
    assert (code, cleared) == (200, {"cleared": 1, "scope": "caller"})
    code, _, third = deployed.call("generate", "POST", "/api/icons/generate", body=ICON)
    assert third["state"] == "queued"
    _, _, everyone = deployed.call("status", "GET", "/api/icons/stats", sub="root", scope="admin")
    assert everyone["scope"] == "everyone"


def test_the_same_record_delivered_to_two_workers_at_once_stores_one_object(deployed: Deployed) -> None:
    code, _, accepted = deployed.call(
        "generate",
        "POST",
        "/api/images/generate",
        body={
            "prompt": "a lighthouse at dusk",
            "post_id": "9",
            "section_id": "1",
            "filename": "hero",
        },
    )
    assert code == 202
    sqs = boto3.client("sqs")
    message = sqs.receive_message(QueueUrl=deployed.queue_url, MessageSystemAttributeNames=["All"])[
        "Messages"
    ][0]
    event = sqs_event([message], deployed.template.physical["GenerateQueue"]["Arn"], "us-east-1")
    results: list[object] = []
    start = threading.Barrier(2)

    def deliver() -> None:
        start.wait()
        results.append(deployed.handlers["worker"](event, LocalContext("worker", 300)))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 2
    assert deployed.keys("posts/9/") == [
        "posts/9/sections/1/raw/hero.png",
        "posts/9/sections/1/raw/hero_metadata.json",
    ]
    _, _, stats = deployed.call("status", "GET", "/api/icons/stats")
    assert stats["generations"] == 1  # one provider call
    _, _, status = deployed.call(
        "status",
        "GET",
        f"/api/icons/batch/{accepted['batch_id']}/status",
        path_parameters={"batch_id": accepted["batch_id"]},
    )
    assert status["counts"]["completed"] == 1 and status["state"] == "completed"


def test_an_item_is_ended_counted_on_its_job_and_in_the_stats_in_one_transaction(deployed: Deployed) -> None:
    # Given a queued item, when the worker ends it with its usage, then item, job and stats change
    # together; a second end (a duplicate delivery) changes none of them, the stats included.
    code, _, accepted = deployed.call(
        "batch", "POST", "/api/icons/generate/batch", body={"categories": ["tools"]}
    )
    assert code == 202
    services = default_services()
    job_id, now = accepted["batch_id"], datetime.now(UTC)
    counted = UsageChange("alice", {"generations": 1, "completed": 1, "images#offline": 1})
    before = services.limits.usage("alice").get("completed", 0)
    assert services.jobs.finish_item(job_id, 0, ItemState.COMPLETED, now, usage=counted)
    assert not services.jobs.finish_item(job_id, 0, ItemState.COMPLETED, now, usage=counted)
    assert services.limits.usage("alice")["completed"] == before + 1
    assert services.limits.usage(EVERYONE)["images#offline"] >= 1
    job = services.jobs.get_job(job_id)
    assert job is not None and job.counts.completed == 1
    item = services.jobs.get_item(job_id, 0)
    assert item is not None and item.state == ItemState.COMPLETED


def test_a_billed_call_is_counted_on_its_item_job_and_stats_together(deployed: Deployed) -> None:
    body = {"categories": ["tools"]}
    code, _, accepted = deployed.call("batch", "POST", "/api/icons/generate/batch", body=body)
    assert code == 202
    services, job_id = default_services(), accepted["batch_id"]
    billed = UsageChange("alice", {"billed_calls": 1, "lost_calls": 1, "calls#gpt-image-2": 1})
    assert services.jobs.count_billed_call(job_id, 0, lost=True, usage=billed) == (1, 1)
    assert services.jobs.count_billed_call(job_id, 0, lost=False, usage=billed) == (2, 1)
    job = services.jobs.get_job(job_id)
    assert job is not None and job.billed_calls == 2
    assert services.limits.usage("alice")["calls#gpt-image-2"] == 2


def test_an_items_day_is_counted_in_its_own_expiring_row_with_the_item(deployed: Deployed) -> None:
    # Given a queued item, when the worker ends it with a day's usage, then the day's rows (the
    # owner's and everyone's) count it once, carry the table's TTL, and the stats row stays dayless.
    from imagegen.models.domain import DailyUsage

    code, _, accepted = deployed.call(
        "batch", "POST", "/api/icons/generate/batch", body={"categories": ["tools"]}
    )
    assert code == 202
    services, job_id = default_services(), accepted["batch_id"]
    daily = DailyUsage("2026-11-20", {"images": 1}, expires_at=1_800_000_000)
    counted = UsageChange("alice", {"completed": 1}, daily)
    before = services.limits.usage_days("alice", ["2026-11-20"]).get("2026-11-20", {}).get("images", 0)
    now = datetime.now(UTC)
    assert services.jobs.finish_item(job_id, 0, ItemState.COMPLETED, now, usage=counted)
    assert not services.jobs.finish_item(job_id, 0, ItemState.COMPLETED, now, usage=counted)
    days = services.limits.usage_days("alice", ["2026-11-19", "2026-11-20"])
    assert list(days) == ["2026-11-20"] and days["2026-11-20"]["images"] == before + 1
    assert services.limits.usage_days(EVERYONE, ["2026-11-20"])["2026-11-20"]["images"] >= 1
    assert not any(name.startswith("2026") or "day" in name for name in services.limits.usage("alice"))
    row = boto3.client("dynamodb").get_item(
        TableName=services.settings.limits_table, Key={"pk": {"S": "STATSDAY#2026-11-20#alice"}}
    )["Item"]
    assert row["expires_at"] == {"N": "1800000000"}


def test_stats_over_the_api_answer_30_days_ending_today(deployed: Deployed) -> None:
    deployed.call("generate", "POST", "/api/icons/generate", body={"category": "garden"})
    deployed.drain()
    code, _, answer = deployed.call("status", "GET", "/api/icons/stats")
    assert code == 200
    days = answer["by_day"]
    assert len(days) == 30 and days[-1]["date"] == datetime.now(UTC).date().isoformat()
    assert days[-1]["images"] >= 1 and set(days[-1]) == {"date", "images", "cost_usd"}
