"""Upload triggers on the local stack: manifests put into the emulated bucket under incoming/{owner}/
become that owner's jobs (S3 -> IncomingQueue -> TriggerFunction), with a receipt beside each."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from imagegen.cli import serve_banner
from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e


def put(client: Client, key: str, body: bytes) -> None:
    client.aws("s3").put_object(Bucket=client.stack.resource("ImagesBucket"), Key=key, Body=body)


def receipt(client: Client, key: str, seconds: float = 30) -> dict[str, Any]:
    """The receipt at `key` once the trigger has written it."""
    s3, bucket = client.aws("s3"), client.stack.resource("ImagesBucket")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return dict(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        except s3.exceptions.NoSuchKey:
            time.sleep(0.1)
    raise AssertionError(f"no receipt at {key} after {seconds} s")


def jobs_of(client: Client, owner: str) -> list[dict[str, Any]]:
    answer = client.get("/api/jobs", owner)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["batches"])


def test_a_blog_manifest_becomes_its_sections_images_with_their_metadata(client: Client) -> None:
    # Given a blog manifest of two sections, the `imagegen batch` format, with a space in its name
    manifest = {
        "post_id": "53",
        "sections": [
            {"section_id": "1", "prompt": "A harbour at dawn", "filename": "hero", "size": "1024x1024"},
            {"section_id": "2", "prompt": "A lighthouse at night", "size": "1024x1024"},
        ],
    }
    # When it is put under the owner's incoming/ folder
    put(client, "incoming/blogger/post 53.json", json.dumps(manifest).encode())
    # Then its receipt names one blog job of its sections, owned by the folder's owner, whose images land
    found = receipt(client, "incoming/blogger/post 53_receipt.json")
    assert found["status"] == "accepted" and found["key"] == "incoming/blogger/post 53.json"
    (batch_id,) = found["batch_ids"]
    status = client.wait_until_done(f"/api/jobs/{batch_id}", "blogger")
    assert (status["state"], status["kind"], status["counts"]["completed"]) == ("completed", "blog", 2)
    items = client.get(f"/api/jobs/{batch_id}/result", "blogger").json()["items"]
    keys = set(client.keys("posts/53/"))
    assert {item["key"].split("/")[3] for item in items} == {"1", "2"}  # posts/53/sections/{id}/raw/...
    for item in items:
        assert item["key"] in keys and item["key"].rsplit(".", 1)[0] + "_metadata.json" in keys
    assert any(key.endswith("/hero.png") for key in keys)
    # and another user sees none of them
    assert client.get(f"/api/jobs/{found['batch_ids'][0]}", "mallory").status_code == 404


def test_a_catalogue_csv_becomes_a_batch_of_icons(client: Client) -> None:
    csv = b"category,style,variations_per_category\nlaptops,flat,2\nkettles,flat,2\n"
    put(client, "incoming/shop/catalogue.csv", csv)
    found = receipt(client, "incoming/shop/catalogue_receipt.json")
    assert found["status"] == "accepted" and len(found["batch_ids"]) == 1
    status = client.wait_until_done(f"/api/icons/batch/{found['batch_ids'][0]}/status", "shop")
    assert status["state"] == "completed" and status["counts"]["completed"] == 4
    result = client.get(f"/api/jobs/{found['batch_ids'][0]}/result", "shop").json()
    stored = set(client.keys())
    assert {item["category"] for item in result["items"]} == {"laptops", "kettles"}
    assert all(item["key"] in stored for item in result["items"])


def test_a_malformed_file_gets_its_errors_line_by_line_and_makes_nothing(client: Client) -> None:
    csv = b"category,style,variations_per_category\nlaptops,flat,2\n,flat,1\nkettles,neon,2\n"
    put(client, "incoming/careless/bad.csv", csv)
    found = receipt(client, "incoming/careless/bad_receipt.json")
    assert found["status"] == "refused"
    lines = sorted({error["line"] for error in found["errors"]})
    assert lines == [3, 4], found["errors"]
    assert any("style" in error["field"] for error in found["errors"] if error["line"] == 4)
    time.sleep(0.5)  # anything queued would be listed by now
    assert jobs_of(client, "careless") == []


def test_the_same_object_delivered_twice_makes_one_job(client: Client) -> None:
    # Given a catalogue taken once
    put(client, "incoming/twice/cat.json", b'[{"category": "bicycles"}]')
    first = receipt(client, "incoming/twice/cat_receipt.json")
    assert first["status"] == "accepted"
    # When its notification arrives again (S3 delivers at least once): the message resent as is,
    # and the same bytes put again under the same key (the same ETag)
    s3, bucket = client.aws("s3"), client.stack.resource("ImagesBucket")
    etag = s3.head_object(Bucket=bucket, Key="incoming/twice/cat.json")["ETag"].strip('"')
    notice = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket},
                    "object": {"key": "incoming/twice/cat.json", "eTag": etag, "size": 26},
                },
            }
        ]
    }
    client.aws("sqs").send_message(
        QueueUrl=client.stack.resource("IncomingQueue"), MessageBody=json.dumps(notice)
    )
    put(client, "incoming/twice/cat.json", b'[{"category": "bicycles"}]')
    # Then both are taken (the queue empties) and the owner still has one job, the first receipt's
    deadline = time.monotonic() + 20
    while client.queue_depth("IncomingQueue") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.queue_depth("IncomingQueue") == 0
    assert [job["batch_id"] for job in jobs_of(client, "twice")] == first["batch_ids"]
    assert receipt(client, "incoming/twice/cat_receipt.json")["batch_ids"] == first["batch_ids"]


def test_test_events_and_receipts_are_skipped_without_failing(client: Client) -> None:
    # The stack configured the notification (S3 then sends s3:TestEvent), and every receipt the
    # tests above wrote is itself an upload under incoming/: all taken and skipped, none left to retry.
    deadline = time.monotonic() + 20
    while client.queue_depth("IncomingQueue") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.queue_depth("IncomingQueue") == 0
    assert client.queue_depth("IncomingDeadLetterQueue") == 0


def test_the_serve_banner_says_where_to_upload(client: Client) -> None:
    bucket = client.stack.resource("ImagesBucket")
    assert f"s3://{bucket}/incoming/alice/ --endpoint-url {client.stack.aws.endpoint}" in serve_banner(
        client.stack
    )
