"""The neutral /api/jobs routes beside the original /api/icons/batch ones, and `Prefer: wait` on
batches, through the real handlers on moto."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from imagegen.logic.services import default_services
from tests.integration.conftest import Deployed

BLOG = {"prompt": "A lighthouse over a stormy sea", "post_id": "53", "section_id": "2", "filename": "hero"}


def _get(deployed: Deployed, path: str, sub: str = "alice", **kwargs: Any) -> tuple[int, Any]:
    code, _, body = deployed.call("status", "GET", path, sub=sub, **kwargs)
    return code, body


def _job(deployed: Deployed, path: str, job_id: str, sub: str = "alice") -> tuple[int, Any]:
    return _get(deployed, path.format(job_id), sub, path_parameters={"job_id": job_id})


def _without_links(result: dict[str, Any]) -> dict[str, Any]:
    volatile = ("download_url", "metadata_download_url", "download_url_expires_at")
    items = [
        {name: value for name, value in item.items() if name not in volatile} for item in result["items"]
    ]
    assert all(item["state"] != "completed" or item["download_url"] for item in result["items"])
    return {**result, "items": items}


def test_a_blog_job_is_followed_under_api_jobs_and_still_under_the_original_paths(deployed: Deployed) -> None:
    code, headers, accepted = deployed.call("generate", "POST", "/api/images/generate", body=BLOG)
    job_id = accepted["batch_id"]
    assert code == 202
    assert headers["Location"] == accepted["status_url"] == f"/api/jobs/{job_id}"
    assert accepted["result_url"] == f"/api/jobs/{job_id}/result"
    deployed.drain()

    code, status = _job(deployed, "/api/jobs/{}", job_id)
    assert code == 200
    assert (status["batch_id"], status["kind"], status["state"]) == (job_id, "blog", "completed")
    assert status["status_url"] == f"/api/jobs/{job_id}"
    code, result = _job(deployed, "/api/jobs/{}/result", job_id)
    assert code == 200
    assert result["items"][0]["key"] == "posts/53/sections/2/raw/hero.png"
    # The original paths answer the same job exactly as before (but for the presigned links,
    # minted per answer with the second they were signed in).
    assert _get(deployed, f"/api/icons/batch/{job_id}/status", path_parameters={"batch_id": job_id}) == (
        200,
        status,
    )
    code, original = _get(deployed, f"/api/icons/batch/{job_id}/result", path_parameters={"batch_id": job_id})
    assert (code, _without_links(original)) == (200, _without_links(result))


def test_icon_jobs_keep_their_original_urls_and_answer_under_api_jobs_too(deployed: Deployed) -> None:
    code, headers, accepted = deployed.call(
        "batch", "POST", "/api/icons/generate/batch", body={"categories": ["tools", "toys"]}
    )
    job_id = accepted["batch_id"]
    assert code == 202
    assert headers["Location"] == accepted["status_url"] == f"/api/icons/batch/{job_id}/status"
    assert accepted["result_url"] == f"/api/icons/batch/{job_id}/result"
    deployed.drain()
    code, status = _job(deployed, "/api/jobs/{}", job_id)
    assert code == 200 and status["state"] == "completed" and status["counts"]["completed"] == 2
    assert status["status_url"] == f"/api/icons/batch/{job_id}/status"
    code, result = _job(deployed, "/api/jobs/{}/result", job_id)
    assert code == 200 and sorted(item["category"] for item in result["items"]) == ["tools", "toys"]


def test_api_jobs_lists_every_kind_newest_first_with_the_batch_listings_paging(deployed: Deployed) -> None:
    blog = deployed.call("generate", "POST", "/api/images/generate", body=BLOG)[2]["batch_id"]
    icon = deployed.call("generate", "POST", "/api/icons/generate", body={"category": "pets"})[2]["batch_id"]
    batch = deployed.call("batch", "POST", "/api/icons/generate/batch", body={"categories": ["a"]})[2]
    code, first = _get(deployed, "/api/jobs", query={"limit": "2"})
    assert code == 200
    assert [job["batch_id"] for job in first["batches"]] == [batch["batch_id"], icon]
    code, second = _get(deployed, "/api/jobs", query={"limit": "2", "cursor": first["next_cursor"]})
    assert [(job["batch_id"], job["kind"]) for job in second["batches"]] == [(blog, "blog")]
    assert second["next_cursor"] is None
    # The same page as the original listing, with the same bounds on its parameters.
    assert _get(deployed, "/api/icons/batches", query={"limit": "2"}) == (200, first)
    for query in ({"limit": "0"}, {"limit": "1000"}, {"cursor": "forged"}):
        code, error = _get(deployed, "/api/jobs", query=query)
        assert code == 400 and error["error"] == "invalid_request", query
    assert _get(deployed, "/api/jobs", sub="bob") == (200, {"batches": [], "next_cursor": None})


def test_cancel_under_api_jobs_stops_what_has_not_started(deployed: Deployed) -> None:
    body = {"categories": [f"category {n}" for n in range(6)]}
    job_id = deployed.call("batch", "POST", "/api/icons/generate/batch", body=body)[2]["batch_id"]
    deployed.drain(max_messages=1, max_rounds=1)  # one item runs before the cancel
    path = f"/api/jobs/{job_id}/cancel"
    code, _, cancelled = deployed.call("batch", "POST", path, path_parameters={"job_id": job_id})
    assert code == 200
    assert cancelled["state"] == "cancelled"
    assert (cancelled["counts"]["completed"], cancelled["counts"]["cancelled"]) == (1, 5)
    # Cancelled through either name, the job reads the same through both.
    assert _job(deployed, "/api/jobs/{}", job_id)[1]["counts"] == cancelled["counts"]
    again = deployed.call(
        "batch", "POST", f"/api/icons/batch/{job_id}/cancel", path_parameters={"batch_id": job_id}
    )
    assert again[0] == 200 and again[2]["counts"] == cancelled["counts"]


def test_another_user_gets_404_on_every_neutral_route(deployed: Deployed) -> None:
    job_id = deployed.call("generate", "POST", "/api/images/generate", body=BLOG)[2]["batch_id"]
    for path in ("/api/jobs/{}", "/api/jobs/{}/result"):
        code, body = _job(deployed, path, job_id, sub="bob")
        assert code == 404 and body["error"] == "not_found", path
    params = {"job_id": job_id}
    code, _, body = deployed.call(
        "batch", "POST", f"/api/jobs/{job_id}/cancel", sub="bob", path_parameters=params
    )
    assert code == 404 and body["error"] == "not_found"
    # Bob's attempt changed nothing: the job is still Alice's, and still queued.
    assert _job(deployed, "/api/jobs/{}", job_id)[1]["state"] == "queued"
    for unknown in ("0" * 32, "not-a-job"):
        assert _job(deployed, "/api/jobs/{}", unknown)[0] == 404


class RecordingSleep:
    """Stands in for time.sleep in the API function: nothing drains the queue here, so the waits it
    is asked for add up to the whole wait the handler chose, without the test sleeping for it. Its
    clock moves only when it sleeps, so the handler's deadline is the sleeps it asked for."""

    def __init__(self) -> None:
        self.total = 0.0  # seconds slept
        self.elapsed = 0.0  # seconds passed: the sleeps, and what reading the clock stands for
        self.per_look = 0.0

    def __call__(self, seconds: float) -> None:
        self.total += seconds
        self.elapsed += seconds

    def monotonic(self) -> float:
        self.elapsed += self.per_look
        return self.elapsed


@pytest.fixture
def sleep(deployed: Deployed) -> Iterator[RecordingSleep]:
    recorder = RecordingSleep()
    services = default_services()  # the same cached services the handlers use
    services.sleep, services.monotonic = recorder, recorder.monotonic
    yield recorder
    services.sleep, services.monotonic = time.sleep, time.monotonic


def _start_batch(deployed: Deployed, prefer: str) -> tuple[int, dict[str, str], Any]:
    body = {"categories": ["tools", "toys"]}
    return deployed.call("batch", "POST", "/api/icons/generate/batch", body=body, headers={"prefer": prefer})


def test_a_batch_wait_over_25_s_is_capped_at_25_and_then_answers_202(
    deployed: Deployed, sleep: RecordingSleep
) -> None:
    code, headers, accepted = _start_batch(deployed, "wait=60")
    assert code == 202 and accepted["state"] == "queued"
    assert headers["Preference-Applied"] == "wait=25"
    assert headers["Location"] == accepted["status_url"]
    assert 25 <= sleep.total < 25.6


def test_a_batch_wait_shorter_than_the_cap_is_honoured_as_asked(
    deployed: Deployed, sleep: RecordingSleep
) -> None:
    code, headers, _ = _start_batch(deployed, "respond-async, wait=3")
    assert code == 202 and headers["Preference-Applied"] == "wait=3"
    assert 3 <= sleep.total < 3.6


def test_a_wait_ends_by_its_deadline_when_each_look_at_the_job_takes_time(
    deployed: Deployed, sleep: RecordingSleep
) -> None:
    sleep.per_look = 0.4  # a slow table: each turn costs as much as a pause, or more
    code, headers, _ = _start_batch(deployed, "wait=10")
    assert code == 202 and headers["Preference-Applied"] == "wait=10"
    assert 10 <= sleep.elapsed < 11  # not 10 s of pauses plus every turn's reading time
    assert sleep.total < 8


@pytest.mark.parametrize(
    "prefer", ["wait=abc", "wait=-5", "wait=", "wait=1234567", "handling=lenient", "wait=0"]
)
def test_a_batch_with_an_unusable_prefer_is_answered_at_once_as_for_single_requests(
    deployed: Deployed, sleep: RecordingSleep, prefer: str
) -> None:
    code, headers, _ = _start_batch(deployed, prefer)
    assert code == 202 and "Preference-Applied" not in headers and sleep.total == 0
    code, headers, _ = deployed.call(
        "generate", "POST", "/api/icons/generate", body={"category": "tools"}, headers={"prefer": prefer}
    )
    assert code == 202 and "Preference-Applied" not in headers and sleep.total == 0


def test_a_single_request_that_waited_says_so_too(deployed: Deployed, sleep: RecordingSleep) -> None:
    code, headers, _ = deployed.call(
        "generate", "POST", "/api/images/generate", body=BLOG, headers={"prefer": "wait=99"}
    )
    assert code == 202 and headers["Preference-Applied"] == "wait=25"
    assert 25 <= sleep.total < 25.6
