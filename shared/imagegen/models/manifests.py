"""The receipt written beside a manifest dropped into incoming/ (issue 12, part 1: upload triggers).

logic.manifests parses the file; logic.intake turns it into jobs and this receipt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class ManifestProblem(BaseModel):
    """One thing wrong in a manifest: where (line 1-based, None for the file as a whole) and what."""

    model_config = ConfigDict(frozen=True)

    line: int | None
    field: str  # "" when the problem is the line or the file itself
    message: str  # the house's sentence (models.messages), naming the field

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


class UploadedObject(BaseModel):
    """One object an S3 notification announces: the version the trigger reads and keys its job on."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str  # decoded (logic.manifests.object_key)
    etag: str
    version_id: str | None = None


class AcceptedReceipt(BaseModel):
    status: Literal["accepted"] = "accepted"
    batch_ids: list[str]
    key: str
    received_at: datetime


class RefusedReceipt(BaseModel):
    status: Literal["refused"] = "refused"
    errors: list[ManifestProblem]
    key: str
    received_at: datetime


Receipt = Annotated[AcceptedReceipt | RefusedReceipt, Field(discriminator="status")]
