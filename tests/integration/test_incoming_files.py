"""The bucket's incoming/ side (ImagesBucket.read_upload) and its unit-test fake, held to one contract
on moto: a manifest is read only as the version its notification named, and never past the limit."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from imagegen.dal.images_bucket import ImagesBucket
from imagegen.logic.intake import IncomingFiles
from tests.integration.conftest import Deployed
from tests.unit.fakes import FakeIncoming

# Put an object, return its ETag (as S3 notifications give it: without quotes).
Put = Callable[[str, bytes], str]


def real(deployed: Deployed) -> tuple[IncomingFiles, Put]:
    s3 = boto3.client("s3")

    def put(key: str, body: bytes) -> str:
        return str(s3.put_object(Bucket=deployed.bucket, Key=key, Body=body)["ETag"]).strip('"')

    return ImagesBucket(deployed.bucket), put


def fake(_: Deployed) -> tuple[IncomingFiles, Put]:
    files = FakeIncoming()
    return files, lambda key, body: files.upload(key, body).etag


@pytest.mark.parametrize("make", [real, fake], ids=["s3", "fake"])
def test_an_upload_is_read_only_as_the_version_notified_and_bounded(
    deployed: Deployed, make: Callable[[Deployed], tuple[IncomingFiles, Put]]
) -> None:
    files, put = make(deployed)
    etag = put("incoming/alice/a.csv", b"category\nlaptops\n")
    assert files.read_upload("incoming/alice/a.csv", etag, 1024) == b"category\nlaptops\n"
    assert files.read_upload("incoming/alice/a.csv", f'"{etag}"', 1024) == b"category\nlaptops\n"
    # Over the limit: limit + 1 bytes, enough to know, never the whole object
    assert files.read_upload("incoming/alice/a.csv", etag, 4) == b"categ"
    # Replaced since (its ETag changed), or gone: None
    put("incoming/alice/a.csv", b"category\nkettles\n")
    assert files.read_upload("incoming/alice/a.csv", etag, 1024) is None
    assert files.read_upload("incoming/alice/missing.csv", etag, 1024) is None
    # An empty file is empty, not an error
    empty = put("incoming/alice/empty.json", b"")
    assert files.read_upload("incoming/alice/empty.json", empty, 1024) == b""


def test_a_receipt_replaces_the_previous_one(deployed: Deployed) -> None:
    files = ImagesBucket(deployed.bucket)
    files.put_receipt("incoming/alice/a_receipt.json", b'{"status": "refused"}')
    files.put_receipt("incoming/alice/a_receipt.json", b'{"status": "accepted"}')
    assert deployed.get_object("incoming/alice/a_receipt.json") == b'{"status": "accepted"}'
