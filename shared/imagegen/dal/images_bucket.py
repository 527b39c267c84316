"""The images bucket: PNGs and their metadata, written once, read through presigned URLs."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from imagegen.dal.clients import client


class ImagesBucket:
    """Objects are never overwritten: every put is conditional on the key being new."""

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
