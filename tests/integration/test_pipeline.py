"""The handlers end to end on emulated AWS: jobs, worker, storage, ownership."""

from __future__ import annotations

import io
import json
import urllib.request

import boto3
from PIL import Image

from imagegen.local.lambdas import LocalContext
from imagegen.local.poller import sqs_event
from tests.helpers import png_size
from tests.integration.conftest import Deployed, forget_caches

ORIGINAL_BATCH = {
    "categories": ["electronics", "tools", "automotive"],
    "style": "flat",
    "variations_per_category": 2,
}


def _status(deployed: Deployed, job_id: str, sub: str = "alice") -> tuple[int, dict]:  # type: ignore[type-arg]
    path = f"/api/icons/batch/{job_id}/status"
    code, _, body = deployed.call("status", "GET", path, sub=sub, path_parameters={"batch_id": job_id})
    return code, body


def test_batch_of_3_categories_x_2_variations_ends_with_6_pngs_and_metadata(deployed: Deployed) -> None:
    code, headers, accepted = deployed.call("batch", "POST", "/api/icons/generate/batch", body=ORIGINAL_BATCH)
    assert code == 202
    assert headers["Location"] == f"/api/icons/batch/{accepted['batch_id']}/status"
    assert accepted["total"] == 6
    assert deployed.drain() == 6
    code, status = _status(deployed, accepted["batch_id"])
    assert status["state"] == "completed"
    assert status["counts"] == {"total": 6, "completed": 6, "failed": 0, "cancelled": 0, "pending": 0}
    assert status["percent"] == 100.0
    pngs = [key for key in deployed.keys("icons/") if key.endswith(".png")]
    metadata = [key for key in deployed.keys("icons/") if key.endswith("_metadata.json")]
    assert len(pngs) == 6 and len(metadata) == 6
    assert {key.split("/")[1] for key in pngs} == {"electronics", "tools", "automotive"}
    for key in pngs:
        assert png_size(deployed.get_object(key)) == (1024, 1024)
        meta = json.loads(deployed.get_object(key.removesuffix(".png") + "_metadata.json"))
        assert meta["image_path"] == key and meta["style"] == "flat" and meta["size"] == "1024x1024"


def test_blog_image_1792x1024_lands_under_the_post_section_layout(deployed: Deployed) -> None:
    body = {
        "prompt": "A lighthouse over a stormy sea",
        "post_id": "53",
        "section_id": "2",
        "filename": "hero",
    }
    code, _, accepted = deployed.call("generate", "POST", "/api/images/generate", body=body)
    assert code == 202
    deployed.drain()
    assert deployed.keys("posts/53/sections/2/raw/") == [
        "posts/53/sections/2/raw/hero.png",
        "posts/53/sections/2/raw/hero_metadata.json",
    ]
    assert png_size(deployed.get_object("posts/53/sections/2/raw/hero.png")) == (1792, 1024)
    meta = json.loads(deployed.get_object("posts/53/sections/2/raw/hero_metadata.json"))
    for field in ("post_id", "section_id", "prompt", "image_path", "generated_at", "model", "size"):
        assert meta[field], field
    assert (meta["post_id"], meta["section_id"], meta["size"]) == ("53", "2", "1792x1024")
    assert _status(deployed, accepted["batch_id"])[1]["state"] == "completed"


def test_a_message_delivered_twice_stores_one_object_and_counts_once(deployed: Deployed) -> None:
    code, _, accepted = deployed.call("generate", "POST", "/api/icons/generate", body={"category": "toys"})
    assert code == 202
    sqs = boto3.client("sqs")
    (message,) = sqs.receive_message(QueueUrl=deployed.queue_url, MessageSystemAttributeNames=["All"])[
        "Messages"
    ]
    event = sqs_event([message], deployed.template.physical["GenerateQueue"]["Arn"], "us-east-1")
    for _ in range(2):  # SQS is at-least-once: the same record arrives again
        assert deployed.handlers["worker"](event, LocalContext("worker", 300)) == {"batchItemFailures": []}
    assert len(deployed.keys("icons/toys/")) == 2  # one PNG, one metadata file
    _, status = _status(deployed, accepted["batch_id"])
    assert status["counts"]["completed"] == 1 and status["counts"]["total"] == 1
    assert status["state"] == "completed"


def test_cancel_mid_batch_keeps_counts_consistent(deployed: Deployed) -> None:
    body = {"categories": [f"category {n}" for n in range(10)]}
    _, _, accepted = deployed.call("batch", "POST", "/api/icons/generate/batch", body=body)
    job_id = accepted["batch_id"]
    deployed.drain(max_messages=1, max_rounds=2)  # two items run before the cancel
    code, _, cancelled = deployed.call(
        "batch", "POST", f"/api/icons/batch/{job_id}/cancel", path_parameters={"batch_id": job_id}
    )
    assert code == 200
    assert cancelled["counts"]["completed"] == 2 and cancelled["counts"]["cancelled"] == 8
    deployed.drain()  # the cancelled items' messages still arrive and are dropped
    _, status = _status(deployed, job_id)
    counts = status["counts"]
    assert status["state"] == "cancelled"
    assert counts["completed"] + counts["failed"] + counts["cancelled"] == counts["total"] == 10
    assert counts["completed"] == 2
    assert len(deployed.keys("icons/")) == 4
    _, _, result = deployed.call(
        "status", "GET", f"/api/icons/batch/{job_id}/result", path_parameters={"batch_id": job_id}
    )
    assert sorted(item["state"] for item in result["items"]).count("cancelled") == 8


def test_a_worker_that_keeps_raising_is_retried_then_dead_lettered(deployed: Deployed, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _, _, accepted = deployed.call("generate", "POST", "/api/icons/generate", body={"category": "tools"})
    # Every write now fails (the bucket is gone): a fault no retry can fix.
    monkeypatch.setenv("IMAGES_BUCKET", "imagegen-missing-bucket")
    forget_caches()
    received = deployed.drain(max_rounds=20)
    assert received == 5  # maxReceiveCount deliveries, then SQS moves it
    assert deployed.queue_depth("GenerateQueue") == 0
    assert deployed.queue_depth("GenerateDeadLetterQueue") == 1
    _, _, result = deployed.call(
        "status",
        "GET",
        f"/api/icons/batch/{accepted['batch_id']}/result",
        path_parameters={"batch_id": accepted["batch_id"]},
    )
    assert result["state"] == "failed"
    assert result["items"][0]["error"] == "gave up after 5 attempts (last: NoSuchBucket)"


def test_another_users_jobs_and_images_are_404(deployed: Deployed) -> None:
    _, _, accepted = deployed.call("generate", "POST", "/api/icons/generate", body={"category": "pets"})
    job_id = accepted["batch_id"]
    deployed.drain()
    params = {"batch_id": job_id}
    assert (
        deployed.call(
            "status", "GET", f"/api/icons/batch/{job_id}/status", sub="bob", path_parameters=params
        )[0]
        == 404
    )
    assert (
        deployed.call(
            "status", "GET", f"/api/icons/batch/{job_id}/result", sub="bob", path_parameters=params
        )[0]
        == 404
    )
    assert (
        deployed.call(
            "batch", "POST", f"/api/icons/batch/{job_id}/cancel", sub="bob", path_parameters=params
        )[0]
        == 404
    )
    _, _, result = deployed.call("status", "GET", f"/api/icons/batch/{job_id}/result", path_parameters=params)
    image_path = result["items"][0]["image_url"]
    code, _, body = deployed.call("status", "GET", image_path, sub="bob")
    assert code == 404 and body["error"] == "not_found"
    code, headers, _ = deployed.call("status", "GET", image_path)
    assert code == 302
    with urllib.request.urlopen(headers["Location"]) as response:
        assert png_size(response.read()) == (1024, 1024)
    listing = deployed.call("status", "GET", "/api/icons/batches", sub="bob")[2]
    assert listing["batches"] == []


def test_listing_pages_through_the_callers_batches_newest_first(deployed: Deployed) -> None:
    ids = [
        deployed.call("batch", "POST", "/api/icons/generate/batch", body={"categories": ["a"]})[2]["batch_id"]
        for _ in range(3)
    ]
    code, _, first = deployed.call("status", "GET", "/api/icons/batches", query={"limit": "2"})
    assert code == 200
    assert [b["batch_id"] for b in first["batches"]] == ids[::-1][:2]
    _, _, second = deployed.call(
        "status", "GET", "/api/icons/batches", query={"limit": "2", "cursor": first["next_cursor"]}
    )
    assert [b["batch_id"] for b in second["batches"]] == ids[:1]


def test_openapi_document_lists_every_route(deployed: Deployed) -> None:
    code, _, document = deployed.call("status", "GET", "/api/openapi.json")
    assert code == 200
    for path in (
        "/api/icons/generate",
        "/api/images/generate",
        "/api/icons/generate/batch",
        "/api/icons/batch/{batch_id}/status",
        "/api/icons/batch/{batch_id}/result",
        "/api/icons/batch/{batch_id}/cancel",
        "/api/icons/batches",
        "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/result",
        "/api/jobs/{job_id}/cancel",
        "/api/jobs",
        "/api/images/{key}",
    ):
        assert path in document["paths"], path


def test_formats_transparency_and_derivatives_are_stored_and_listed(deployed: Deployed) -> None:
    body = {"category": "garden", "output_format": "webp", "derivatives": [64, 256]}
    _, _, accepted = deployed.call("generate", "POST", "/api/icons/generate", body=body)
    deployed.drain()
    _, _, result = deployed.call(
        "status",
        "GET",
        f"/api/icons/batch/{accepted['batch_id']}/result",
        path_parameters={"batch_id": accepted["batch_id"]},
    )
    key = result["items"][0]["key"]
    assert key.endswith(".webp")
    stem = key.removesuffix(".webp")
    assert deployed.keys("icons/garden/") == sorted(
        [key, f"{stem}_256px.webp", f"{stem}_64px.webp", f"{stem}_metadata.json"]
    )
    with Image.open(io.BytesIO(deployed.get_object(f"{stem}_64px.webp")), formats=["WEBP"]) as small:
        assert small.size == (64, 64)
    metadata = json.loads(deployed.get_object(f"{stem}_metadata.json"))
    assert [d["size"] for d in metadata["derivatives"]] == ["256x256", "64x64"]
    assert metadata["format"] == "webp"
    assert deployed.call("status", "GET", metadata["derivatives"][0]["url"])[0] == 302

    code, _, _ = deployed.call(
        "generate", "POST", "/api/icons/generate", body={"category": "tools", "background": "transparent"}
    )
    assert code == 202
    deployed.drain()
    (png,) = [k for k in deployed.keys("icons/tools/") if k.endswith(".png")]
    with Image.open(io.BytesIO(deployed.get_object(png))) as image:
        corner = image.getpixel((0, 0))
        assert image.mode == "RGBA" and isinstance(corner, tuple) and corner[3] == 0

    code, _, refused = deployed.call(
        "generate",
        "POST",
        "/api/icons/generate",
        body={"category": "tools", "background": "transparent", "output_format": "jpeg"},
    )
    assert code == 400 and "png or webp" in refused["message"]


def test_category_suggestions_rank_what_was_typed(deployed: Deployed) -> None:
    code, _, body = deployed.call(
        "status", "GET", "/api/icons/categories/suggestions", query={"q": "ofice suplies"}
    )
    assert code == 200
    assert body["suggestions"][0]["category"] == "Office Supplies"
    assert body["suggestions"][0]["score"] >= 80 and len(body["suggestions"]) <= 8
    for typed, meant in (("3d", "3D Printing"), ("sushi", "Restaurants"), ("bic", "Cycling")):
        code, _, body = deployed.call(
            "status", "GET", "/api/icons/categories/suggestions", query={"q": typed}
        )
        assert code == 200 and body["suggestions"][0]["category"] == meant, (typed, body)
        assert set(body["suggestions"][0]) == {"category", "parent", "score", "matched", "icon"}
    for query in ({}, {"q": "x" * 101}, {"q": "tools", "limit": "21"}, {"q": "tools", "limit": "0"}):
        code, _, error = deployed.call("status", "GET", "/api/icons/categories/suggestions", query=query)
        assert code == 400 and error["error"] == "invalid_request"


def test_the_category_match_is_recorded_in_the_metadata(deployed: Deployed) -> None:
    deployed.call("generate", "POST", "/api/icons/generate", body={"category": "Office_Supplies"})
    deployed.call("generate", "POST", "/api/icons/generate", body={"category": "zzyzx qwerty"})
    deployed.drain()
    matched = json.loads(
        deployed.get_object(next(k for k in deployed.keys("icons/office_supplies/") if k.endswith(".json")))
    )
    assert (matched["category"], matched["category_match"]) == ("Office_Supplies", "Office Supplies")
    assert matched["category_match_score"] == 100.0
    unknown = json.loads(
        deployed.get_object(next(k for k in deployed.keys("icons/zzyzx_qwerty/") if k.endswith(".json")))
    )
    assert unknown["category_match"] is None and "zzyzx qwerty" in unknown["prompt"]
