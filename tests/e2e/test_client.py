"""The Python client (clients/python) against the local stack: every operation, sync and async, the
original system's examples as written, retries that create one job, a typed error for each 4xx,
waiting with progress, and downloads into the blog layout (issue 13, part A)."""

from __future__ import annotations

import asyncio
import json
import runpy
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from imagegen_client import (
    AsyncClient,
    BatchGenerationRequest,
    BlogImageRequest,
    Client,
    Conflict,
    Forbidden,
    IconColor,
    IconGenerationService,
    IconRequest,
    IconStyle,
    InvalidRequest,
    JobAccepted,
    JobResult,
    NotFound,
    PayloadTooLarge,
    Progress,
    RateLimited,
    RetryPolicy,
    Unauthorized,
    Unprocessable,
)
from tests.e2e.conftest import Client as StackClient
from tests.helpers import token

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PNG = b"\x89PNG\r\n\x1a\n"
FAST_RETRY = RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.05)


def user() -> str:
    """A caller of one's own: counts and listings see only this test's jobs."""
    return f"client-{uuid.uuid4().hex[:10]}"


def sdk(client: StackClient, sub: str, **options: Any) -> Client:
    return Client(client.stack.url, token(sub, secret=client.stack.jwt_secret), **options)


def asdk(client: StackClient, sub: str, **options: Any) -> AsyncClient:
    return AsyncClient(client.stack.url, token(sub, secret=client.stack.jwt_secret), **options)


def assert_saved_pair(image: Path, metadata: Path) -> dict[str, Any]:
    assert image.read_bytes().startswith(PNG)
    document: dict[str, Any] = json.loads(metadata.read_text())
    return document


# --- sync: every operation ---------------------------------------------------------------------


def test_sync_client_runs_every_operation(client: StackClient, tmp_path: Path) -> None:
    sub = user()
    with sdk(client, sub) as api:
        # Given a single icon awaited by the service, and a batch followed live with progress
        icon = api.create_icon(IconRequest(category="office supplies", style=IconStyle.MODERN), wait=20)
        assert isinstance(icon, JobResult) and icon.state == "completed"
        batch = api.create_batch(
            BatchGenerationRequest(
                categories=["electronics", "tools"], style=IconStyle.FLAT, variations_per_category=2
            )
        )
        assert isinstance(batch, JobAccepted) and batch.total == 4
        seen: list[Progress] = []
        ended = api.wait(batch.batch_id, on_progress=seen.append, timeout=90)

        # Then the progress climbed to the end, and status and result agree with it
        assert ended.state == "completed" and ended.counts.completed == 4
        assert seen[-1].done and seen[-1].counts.completed == 4
        assert seen[0].event == "snapshot"  # followed over the WebSocket: its subscription's first message
        completed = [progress.counts.completed for progress in seen]
        assert completed == sorted(completed)
        assert api.get(batch.batch_id).state == "completed"
        result = api.result(batch.batch_id)
        assert [item.category for item in result.items] == ["electronics"] * 2 + ["tools"] * 2

        # The listing pages through next_cursor (one job a page) and finds exactly both jobs
        assert {job.batch_id for job in api.list_jobs(page_size=1)} == {icon.batch_id, batch.batch_id}

        # Downloads land under their keys, each image with its metadata
        saved = api.download(batch.batch_id, tmp_path)
        assert sorted(image.key for image in saved) == sorted(item.key for item in result.items)
        for image in saved:
            assert image.metadata_path is not None
            metadata = assert_saved_pair(image.image_path, image.metadata_path)
            assert image.image_path == tmp_path / image.key
            assert metadata["category"] in ("electronics", "tools")
        again = api.download(batch.batch_id, tmp_path)
        assert all(image.skipped for image in again) and len(again) == 4

        # Cache, stats and suggestions
        cached = list(api.cached(page_size=2))
        assert len(cached) == 5 and {entry.kind for entry in cached} == {"icon"}
        stats = api.stats()
        assert stats.generations == 5 and stats.completed == 5 and stats.scope == "caller"
        assert api.clear_cache().cleared == 5
        assert list(api.cached()) == []
        assert api.suggestions("offi").suggestions[0].category == "Office Supplies"
        assert "/api/jobs/{job_id}" in api.openapi()["paths"]


def test_cancel_stops_a_batch_and_cancelling_an_ended_job_is_a_conflict(client: StackClient) -> None:
    with sdk(client, user()) as api:
        job = api.create_batch(
            BatchGenerationRequest(categories=[f"gadget {n}" for n in range(12)], use_cache=False)
        )
        cancelled = api.cancel(job.batch_id)
        assert cancelled.counts.cancelled > 0
        ended = api.wait(job.batch_id, timeout=60, live=False)
        assert ended.counts.cancelled == cancelled.counts.cancelled
        assert ended.counts.completed + ended.counts.cancelled == 12
        icon = api.create_icon(IconRequest(category="pens"), wait=20)
        assert icon.state == "completed"
        with pytest.raises(Conflict) as finished:
            api.cancel(icon.batch_id)
        assert finished.value.status == 409 and finished.value.code == "job_finished"


# --- async: every operation --------------------------------------------------------------------


def test_async_client_runs_every_operation(client: StackClient, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with asdk(client, user()) as api:
            batch = await api.create_batch(
                BatchGenerationRequest(categories=["garden"], variations_per_category=2)
            )
            reported: list[Progress] = []

            async def on_progress(progress: Progress) -> None:  # a coroutine callback is awaited
                reported.append(progress)

            # Polling this time (live=False): both ways of waiting end on the same state
            ended = await api.wait(batch.batch_id, on_progress=on_progress, live=False, timeout=90)
            assert ended.state == "completed" and reported[-1].event == "status" and reported[-1].done
            assert (await api.get(batch.batch_id)).counts.completed == 2
            result = await api.result(batch.batch_id)
            assert len(result.items) == 2
            icon = await api.create_icon(IconRequest(category="garden", custom_elements=["rake"]), wait=20)
            listed = [job.batch_id async for job in api.list_jobs(page_size=1)]
            assert listed == [icon.batch_id, batch.batch_id]  # newest first
            saved = await api.download(batch.batch_id, tmp_path)
            assert len(saved) == 2 and all(image.image_path.read_bytes().startswith(PNG) for image in saved)
            assert len([entry async for entry in api.cached(page_size=1)]) == 3
            assert (await api.stats()).completed == 3
            assert (await api.clear_cache()).cleared == 3
            assert (await api.suggestions("garde")).suggestions
            follow = await api.create_batch(
                BatchGenerationRequest(categories=[f"tool {n}" for n in range(6)], use_cache=False)
            )
            assert (await api.cancel(follow.batch_id)).batch_id == follow.batch_id
            live = await api.wait(follow.batch_id, timeout=60)  # live, over the WebSocket
            assert live.done

    asyncio.run(scenario())


# --- blog layout ------------------------------------------------------------------------------


def test_download_writes_the_blog_layout_with_metadata(client: StackClient, tmp_path: Path) -> None:
    post = f"client-{uuid.uuid4().hex[:8]}"  # stored keys are global: other files' tests use post 53
    with sdk(client, user()) as api:
        request = BlogImageRequest(
            prompt="A lighthouse over a stormy sea",
            post_id=post,
            section_id="2",
            filename="hero",
            size="1024x1024",
        )
        job = api.create_blog_image(request, wait=20)
        api.wait(job.batch_id, timeout=60)
        saved = api.download(job.batch_id, tmp_path)

    raw = tmp_path / "posts" / post / "sections" / "2" / "raw"
    assert [image.image_path for image in saved] == [raw / "hero.png"]
    metadata = assert_saved_pair(raw / "hero.png", raw / "hero_metadata.json")
    for field in ("post_id", "section_id", "prompt", "image_path", "generated_at", "model", "size"):
        assert metadata.get(field) is not None, field
    assert (metadata["post_id"], metadata["section_id"], metadata["size"]) == (post, "2", "1024x1024")
    assert metadata["prompt"] == "A lighthouse over a stormy sea"


# --- the original examples --------------------------------------------------------------------


EXAMPLE_POST = f"client-{uuid.uuid4().hex[:8]}"
BLOG_ARGS = {"blog_workflow.py": ["static/content", EXAMPLE_POST]}
# One caller for the examples: the scripts repeat the issue's requests, answered from its cache.
EXAMPLES_USER = user()


@pytest.fixture
def configured(client: StackClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """IMAGEGEN_URL and IMAGEGEN_TOKEN set as a user of the examples would."""
    monkeypatch.setenv("IMAGEGEN_URL", client.stack.url)
    monkeypatch.setenv("IMAGEGEN_TOKEN", token(EXAMPLES_USER, secret=client.stack.jwt_secret))


def test_the_issue_examples_as_written(client: StackClient, configured: None) -> None:
    async def as_written() -> tuple[JobResult, str]:
        async with IconGenerationService() as service:
            result = await service.generate_single_icon(category="office_supplies", style=IconStyle.MODERN,
                color_scheme=IconColor.BRAND_COLORS, custom_elements=["pen", "paper", "calculator"])  # fmt: skip  # noqa: E501
        batch_id = await service.generate_batch_icons(BatchGenerationRequest(
            categories=["electronics", "tools", "automotive"], style=IconStyle.FLAT,
            color_scheme=IconColor.BLUE_TONES, variations_per_category=2))  # fmt: skip
        return result, batch_id

    result, batch_id = asyncio.run(as_written())
    assert result.state == "completed" and result.items[0].category == "office_supplies"
    assert result.items[0].image_url is not None
    with Client() as api:  # the environment the examples read
        status = api.wait(batch_id, timeout=90)
    assert status.counts.total == 6 and status.state == "completed"


def test_the_example_scripts_run(
    client: StackClient, configured: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)  # where the scripts write by default (static/content, catalogue)
    for script in ("single_icon.py", "batch_icons.py", "blog_workflow.py", "catalogue_workflow.py"):
        # The blog example's own post id: stored keys are global, and other files' tests use post 53
        monkeypatch.setattr(sys, "argv", [script, *BLOG_ARGS.get(script, [])])
        runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    out = capsys.readouterr().out
    assert "completed: /api/images/icons/office_supplies/" in out
    assert out.count("6/6") >= 1 and "batch " in out
    raw = tmp_path / "static" / "content" / "posts" / EXAMPLE_POST / "sections"
    for section, name in (("1", "hero"), ("2", "keepers"), ("3", "today")):
        assert_saved_pair(
            raw / section / "raw" / f"{name}.png", raw / section / "raw" / f"{name}_metadata.json"
        )
    icons = sorted((tmp_path / "catalogue" / "icons").rglob("*.png"))
    assert len(icons) == 6 and {path.parent.name for path in icons} == {"camping", "kitchen", "garden"}
    assert "100.0%" in out


# --- errors -----------------------------------------------------------------------------------


def test_each_refusal_is_a_typed_error_with_the_api_code(client: StackClient) -> None:
    sub = user()
    with sdk(client, sub) as api:
        with pytest.raises(InvalidRequest) as invalid:
            api.create_icon(IconRequest(category="!!! not a category"))
        assert (invalid.value.status, invalid.value.code) == (400, "invalid_request")
        assert "category" in invalid.value.message

        with pytest.raises(NotFound) as missing:
            api.get("0" * 32)
        assert (missing.value.status, missing.value.code) == (404, "not_found")

        first = IconRequest(category="pens")
        api.create_icon(first, idempotency_key=f"shop-{sub}")
        with pytest.raises(Unprocessable) as reused:
            api.create_icon(IconRequest(category="pencils"), idempotency_key=f"shop-{sub}")
        assert (reused.value.status, reused.value.code) == (422, "idempotency_key_reused")

        with pytest.raises(PayloadTooLarge) as large:
            api.create_icon(IconRequest(category="pens", custom_elements=["x" * 60] * 1200))
        assert (large.value.status, large.value.code) == (413, "body_too_large")

    with Client(client.stack.url, token="") as anonymous, pytest.raises(Unauthorized) as unauthorized:
        anonymous.stats()
    assert unauthorized.value.status == 401 and unauthorized.value.code is None  # API Gateway's {message}
    assert unauthorized.value.message == "Unauthorized"

    forged = token(sub, secret="another-secret-that-is-long-enough-for-hs256")
    with Client(client.stack.url, forged) as refused, pytest.raises(Forbidden) as forbidden:
        refused.stats()
    assert forbidden.value.status == 403 and forbidden.value.message


# --- retries -----------------------------------------------------------------------------------


class Script:
    """Before the service answers: fail to connect, answer 429 itself, or let the service create the
    job and lose its answer behind a 503. Records each POST's Idempotency-Key."""

    def __init__(self, steps: list[str]) -> None:
        self.steps = iter(steps)
        self.keys: list[str] = []
        self.created: list[str] = []

    def before(self, request: httpx.Request) -> httpx.Response | None:
        if request.method != "POST" or not request.url.path.startswith("/api/icons/generate"):
            return None
        self.keys.append(request.headers["Idempotency-Key"])
        step = next(self.steps, "forward")
        if step == "connect_error":
            raise httpx.ConnectError("scripted: connection refused", request=request)
        if step == "429":
            body = {"error": "too_many_requests", "message": "scripted"}
            return httpx.Response(429, json=body, headers={"Retry-After": "0"}, request=request)
        return None

    def lost(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        """The service created the job; its answer never reaches the client."""
        self.created.append(json.loads(response.content)["batch_id"])
        return httpx.Response(503, json={"error": "internal_error", "message": "scripted"}, request=request)


class ScriptedTransport(httpx.BaseTransport):
    def __init__(self, script: Script, lose: int) -> None:
        self.script, self.inner, self.lose = script, httpx.HTTPTransport(), lose

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        early = self.script.before(request)
        if early is not None:
            return early
        response = self.inner.handle_request(request)
        if request.method == "POST" and len(self.script.keys) == self.lose:
            response.read()
            return self.script.lost(request, response)
        return response


class AsyncScriptedTransport(httpx.AsyncBaseTransport):
    def __init__(self, script: Script, lose: int) -> None:
        self.script, self.inner, self.lose = script, httpx.AsyncHTTPTransport(), lose

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        early = self.script.before(request)
        if early is not None:
            return early
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and len(self.script.keys) == self.lose:
            await response.aread()
            return self.script.lost(request, response)
        return response


def jobs_of(client: StackClient, sub: str) -> list[str]:
    with sdk(client, sub) as api:
        return [job.batch_id for job in api.list_jobs()]


STEPS = ["connect_error", "429", "forward"]  # the third try reaches the service; its answer is lost


def test_retries_after_429_503_and_a_refused_connection_create_one_job(client: StackClient) -> None:
    sub, script = user(), Script(STEPS)
    transport = ScriptedTransport(script, lose=3)
    with sdk(client, sub, retry=FAST_RETRY, transport=transport) as api:
        answer = api.create_icon(IconRequest(category="pens"), wait=10)

    # Four tries under one key; the fourth was answered from the first creation
    assert len(script.keys) == 4 and len(set(script.keys)) == 1
    assert script.created == [answer.batch_id]
    assert jobs_of(client, sub) == [answer.batch_id]


def test_async_retries_create_one_job(client: StackClient) -> None:
    sub, script = user(), Script(STEPS)
    transport = AsyncScriptedTransport(script, lose=3)

    async def create() -> JobAccepted | JobResult:
        async with asdk(client, sub, retry=FAST_RETRY, transport=transport) as api:
            return await api.create_batch(BatchGenerationRequest(categories=["pens"]))

    answer = asyncio.run(create())
    assert len(script.keys) == 4 and len(set(script.keys)) == 1
    assert script.created == [answer.batch_id]
    assert jobs_of(client, sub) == [answer.batch_id]


def test_the_daily_quota_is_rate_limited_with_retry_after(client: StackClient) -> None:
    sub = user()
    with sdk(client, sub) as api:
        api.create_icon(IconRequest(category="pens"))
        # 500 new images when 499 of the day's 500 are left: refused before anything is queued
        everything = BatchGenerationRequest(
            categories=[f"widget {n}" for n in range(100)], variations_per_category=5, use_cache=False
        )
        with pytest.raises(RateLimited) as limited:
            api.create_batch(everything)
    # A Retry-After of hours is not waited out: raised at once, with the hint
    assert (limited.value.status, limited.value.code) == (429, "quota_exceeded")
    assert limited.value.retry_after is not None and limited.value.retry_after > 60
    assert "499 of your 500" in limited.value.message
    assert len(jobs_of(client, sub)) == 1
