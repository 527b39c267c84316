"""The local stack over HTTP: /api/jobs beside the original batch routes, and awaited batches."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e


def test_a_blog_job_is_followed_and_listed_under_api_jobs(client: Client) -> None:
    body = {"prompt": "A quiet harbour at dawn", "post_id": "77", "section_id": "1"}
    accepted = client.post("/api/images/generate", body)
    assert accepted.status_code == 202
    job_id = accepted.json()["batch_id"]
    assert accepted.headers["location"] == f"/api/jobs/{job_id}"
    status = client.wait_until_done(accepted.headers["location"])
    assert (status["kind"], status["state"]) == ("blog", "completed")
    result = client.get(status["result_url"])
    assert result.status_code == 200 and result.json()["items"][0]["key"].startswith(
        "posts/77/sections/1/raw/"
    )
    assert client.get(f"/api/icons/batch/{job_id}/status").json() == status  # the original path still answers
    assert job_id in [job["batch_id"] for job in client.get("/api/jobs").json()["batches"]]
    for path in (f"/api/jobs/{job_id}", f"/api/jobs/{job_id}/result"):
        stranger = client.get(path, "mallory")
        assert stranger.status_code == 404 and stranger.json()["error"] == "not_found"
    assert client.post(f"/api/jobs/{job_id}/cancel", sub="mallory").status_code == 404
    assert job_id not in str(client.get("/api/jobs", "mallory").json())
    assert client.http.get("/api/jobs").status_code == 401  # behind the authorizer like every route


def test_an_awaited_batch_answers_200_completed_once_it_ends_within_the_wait(client: Client) -> None:
    started = time.monotonic()
    answer = client.post("/api/icons/generate/batch", {"categories": ["camping", "garden"]}, Prefer="wait=25")
    elapsed = time.monotonic() - started
    assert answer.status_code == 200, answer.text  # two offline icons take a second or two
    assert answer.headers["preference-applied"] == "wait=25"
    body = answer.json()
    assert body["state"] == "completed" and body["counts"]["completed"] == 2
    assert all(item["image_url"] for item in body["items"])
    assert elapsed < 25 + 5  # it answered when the batch ended, not after the whole wait
    # The awaited batch is an ordinary job afterwards: cancelling it through /api/jobs is a conflict.
    cancel = client.post(f"/api/jobs/{body['batch_id']}/cancel")
    assert cancel.status_code == 409 and cancel.json()["error"] == "job_finished"


def test_cancel_under_api_jobs_over_http(client: Client) -> None:
    accepted = client.post(
        "/api/icons/generate/batch", {"categories": [f"stall {n}" for n in range(30)]}
    ).json()
    cancelled = client.post(f"/api/jobs/{accepted['batch_id']}/cancel")
    assert cancelled.status_code == 200
    status = client.wait_until_done(f"/api/jobs/{accepted['batch_id']}")
    counts = status["counts"]
    assert status["state"] == "cancelled" and counts["cancelled"] > 0
    assert counts["completed"] + counts["failed"] + counts["cancelled"] == counts["total"] == 30
