"""Upload triggers: manifests under incoming/{owner}/ become jobs and receipts, against in-memory fakes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from imagegen.logic.intake import take_upload, uploads_in
from imagegen.models.domain import JobState
from imagegen.models.manifests import AcceptedReceipt, RefusedReceipt, UploadedObject
from tests.unit.fakes import BUCKET, FakeIncoming, FakeServices, make_services


def blog(*sections: dict[str, Any]) -> bytes:
    return json.dumps({"post_id": "53", "sections": list(sections)}).encode()


def owned(services: FakeServices, owner: str) -> list[str]:
    return [job.job_id for job in services.jobs.jobs.values() if job.owner == owner]


def test_a_notification_names_its_objects_with_their_keys_decoded_and_a_test_event_none() -> None:
    body = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": BUCKET},
                    "object": {"key": "incoming/alice/my+post%C3%A9.json", "eTag": "abc", "versionId": "v1"},
                },
            },
            {"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": BUCKET}, "object": {"key": "x"}}},
        ]
    }
    assert uploads_in(json.dumps(body)) == [
        UploadedObject(bucket=BUCKET, key="incoming/alice/my posté.json", etag="abc", version_id="v1")
    ]
    assert uploads_in(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})) == []


def test_a_blog_manifest_makes_one_job_of_its_sections_for_the_folders_owner() -> None:
    services, files = make_services(), FakeIncoming()
    upload = files.upload(
        "incoming/alice/post.json",
        blog({"section_id": "1", "prompt": "A harbour"}, {"section_id": "2", "prompt": "A lighthouse"}),
    )
    receipt = take_upload(upload, services, files)
    assert isinstance(receipt, AcceptedReceipt) and len(receipt.batch_ids) == 1
    assert owned(services, "alice") == receipt.batch_ids
    (job,) = (services.jobs.jobs[job_id] for job_id in receipt.batch_ids)
    assert (job.kind, job.counts.total) == ("blog", 2)
    assert len(services.queue.sent) == 2
    assert files.receipts["incoming/alice/post_receipt.json"]["batch_ids"] == receipt.batch_ids


def test_a_catalogue_csv_makes_a_batch_of_its_rows() -> None:
    services, files = make_services(), FakeIncoming()
    upload = files.upload(
        "incoming/shop/cat.csv", b"category,variations_per_category\nlaptops,2\nkettles,2\n"
    )
    receipt = take_upload(upload, services, files)
    assert isinstance(receipt, AcceptedReceipt) and len(receipt.batch_ids) == 1
    assert services.jobs.jobs[receipt.batch_ids[0]].counts.total == 4
    assert len(services.queue.sent) == 4


def test_a_malformed_file_is_refused_line_by_line_every_time_and_makes_nothing() -> None:
    services, files = make_services(), FakeIncoming()
    upload = files.upload("incoming/bob/bad.csv", b"category,style\nlaptops,flat\n,flat\nkettles,neon\n")
    receipt = take_upload(upload, services, files)
    assert isinstance(receipt, RefusedReceipt)
    assert {error.line for error in receipt.errors} == {3, 4}
    assert services.jobs.jobs == {} and services.queue.sent == []
    written = files.receipts["incoming/bob/bad_receipt.json"]
    assert written["status"] == "refused" and written["errors"][0]["line"] == 3
    # A redelivery checks it again (refusals are not remembered) and still makes nothing
    assert isinstance(take_upload(upload, services, files), RefusedReceipt)
    assert files.receipt_writes == 2 and services.jobs.jobs == {}


def test_the_same_object_delivered_twice_makes_one_job_and_the_same_receipt() -> None:
    services, files = make_services(), FakeIncoming()
    upload = files.upload("incoming/alice/cat.json", b'[{"category": "bicycles"}]')
    first = take_upload(upload, services, files)
    again = take_upload(upload.model_copy(update={"etag": f'"{upload.etag}"'}), services, files)  # quoted
    assert isinstance(first, AcceptedReceipt) and again == first
    assert owned(services, "alice") == first.batch_ids and len(services.queue.sent) == 1
    # A new version under the same key is a new upload
    changed = files.upload("incoming/alice/cat.json", b'[{"category": "tricycles"}]')
    third = take_upload(changed, services, files)
    assert isinstance(third, AcceptedReceipt) and third.batch_ids != first.batch_ids


def test_a_later_refusal_cancels_the_files_earlier_jobs_and_gives_their_quota_back() -> None:
    # Given a quota of 3 images, and a catalogue of two batches (two styles) of 2 images each
    services, files = make_services(quota_images_per_day=3), FakeIncoming()
    upload = files.upload(
        "incoming/carol/cat.csv", b"category,style\nlaptops,flat\nkettles,flat\nforks,modern\nspoons,modern\n"
    )
    receipt = take_upload(upload, services, files)
    assert isinstance(receipt, RefusedReceipt)
    (problem,) = receipt.errors
    assert problem.message.startswith("batch 2 of 2:") and "images a day are left" in problem.message
    assert [job.state for job in services.jobs.jobs.values()] == [JobState.CANCELLED]
    day = services.clock().date().isoformat()
    assert services.limits.used_daily("carol", day) == 0


@pytest.mark.parametrize(
    ("key", "bucket"),
    [
        ("incoming/alice/post_receipt.json", BUCKET),  # a receipt the trigger wrote
        ("incoming/alice/photo.png", BUCKET),
        ("incoming/alice/post.json", "someone-elses-bucket"),
    ],
)
def test_what_is_not_a_manifest_of_this_bucket_is_skipped(key: str, bucket: str) -> None:
    services, files = make_services(), FakeIncoming()
    upload = files.upload(key, blog({"section_id": "1", "prompt": "p"})).model_copy(update={"bucket": bucket})
    assert take_upload(upload, services, files) is None
    assert files.receipts == {} and services.jobs.jobs == {}


def test_a_key_without_an_owner_gets_a_refusal_saying_the_layout() -> None:
    services, files = make_services(), FakeIncoming()
    upload = files.upload("incoming/post.json", blog({"section_id": "1", "prompt": "p"}))
    receipt = take_upload(upload, services, files)
    assert isinstance(receipt, RefusedReceipt) and "incoming/{owner}/{name}" in receipt.errors[0].message
    assert files.receipts["incoming/post_receipt.json"]["status"] == "refused"
    assert services.jobs.jobs == {}


def test_an_object_replaced_since_its_notification_is_left_to_the_new_ones() -> None:
    services, files = make_services(), FakeIncoming()
    old = files.upload("incoming/alice/post.json", blog({"section_id": "1", "prompt": "old"}))
    files.upload("incoming/alice/post.json", blog({"section_id": "1", "prompt": "new"}))
    assert take_upload(old, services, files) is None
    assert files.receipts == {} and services.jobs.jobs == {}


def test_a_file_over_the_size_limit_is_refused_unread() -> None:
    services, files = make_services(), FakeIncoming()
    upload = files.upload("incoming/alice/huge.csv", b"category\n" + b"x\n" * 600_000)
    receipt = take_upload(upload, services, files)
    assert isinstance(receipt, RefusedReceipt) and "bytes" in receipt.errors[0].message


def test_blog_filenames_taken_or_named_twice_are_refused_before_any_job() -> None:
    services, files = make_services(), FakeIncoming()
    services.images.put_new("posts/53/sections/2/raw/hero.png", b"png", "image/png", {})
    upload = files.upload(
        "incoming/alice/post.json",
        blog(
            {"section_id": "1", "prompt": "a", "filename": "cover"},
            {"section_id": "1", "prompt": "b", "filename": "cover"},
            {"section_id": "2", "prompt": "c", "filename": "hero"},
        ),
    )
    receipt = take_upload(upload, services, files)
    assert isinstance(receipt, RefusedReceipt)
    assert [error.message.split(":")[0] for error in receipt.errors] == ["section 2 of 3", "section 3 of 3"]
    assert services.jobs.jobs == {} and services.queue.sent == []
