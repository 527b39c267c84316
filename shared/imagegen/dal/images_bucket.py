"""The images bucket: PNGs and their metadata, written once, read through presigned URLs; and the
manifests CMSs drop under incoming/, with the receipts written beside them."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from imagegen.dal.clients import client


class ImagesBucket:
    """Images are never overwritten: every put_new is conditional on the key being new. Receipts
    (put_receipt) are the exception: a manifest uploaded again gets its new outcome."""

    def __init__(self, bucket_name: str) -> None:
        self.bucket_name = bucket_name

    @property
    def _s3(self) -> Any:
        return client("s3")

    def put_new(self, key: str, body: bytes, content_type: str, metadata: dict[str, str]) -> bool:
        """Store the object unless the key exists (If-None-Match: *); False when it already did."""
        try:
            self._s3.put_object(
                Bucket=self.bucket_name,
                Key=key,
                Body=body,
                ContentType=content_type,
                Metadata=metadata,
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "PreconditionFailed":
                return False
            raise
        return True

    def metadata_of(self, key: str) -> dict[str, str] | None:
        """The object's user metadata, or None when there is no such object."""
        try:
            answer = self._s3.head_object(Bucket=self.bucket_name, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return dict(answer.get("Metadata", {}))

    def presigned_get(self, key: str, expires_in: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket_name, "Key": key}, ExpiresIn=expires_in
            )
        )

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        try:
            answer = self._s3.get_object(Bucket=self.bucket_name, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return bytes(answer["Body"].read())

    def read_upload(self, key: str, etag: str, limit: int) -> bytes | None:
        """At most `limit` + 1 bytes of the object, only if it is still the version with `etag`
        (a caller seeing more than `limit` knows the object is too big without reading it all).
        None when it is gone or was replaced since: the replacement's own notification follows."""
        try:
            answer = self._s3.get_object(
                Bucket=self.bucket_name, Key=key, IfMatch=f'"{etag.strip(chr(34))}"', Range=f"bytes=0-{limit}"
            )
        except ClientError as error:
            if error.response["Error"]["Code"] in (
                "404",
                "NoSuchKey",
                "NotFound",
                "PreconditionFailed",
                "412",
            ):
                return None
            if error.response["Error"]["Code"] == "InvalidRange":  # an empty object has no byte 0
                return b""
            raise
        return bytes(answer["Body"].read(limit + 1))

    def put_receipt(self, key: str, body: bytes) -> None:
        """Write (or replace) a manifest's receipt, a small JSON document."""
        self._s3.put_object(Bucket=self.bucket_name, Key=key, Body=body, ContentType="application/json")
