"""Upload triggers (issue 12, part 1): a manifest dropped into `incoming/{owner}/` becomes the jobs
the API would make for its owner, and a receipt beside it says which, or what is wrong, line by line.

The jobs are made by job_commands.create_job, the use case behind the API's POSTs, so quotas, the
cache, cost ceilings and validation apply as to an API call. A blog manifest makes one blog job of
its sections (as a CMS hook's post does; split at MAX_BATCH_ITEMS); a catalogue makes one batch per
group of rows (logic.manifests groups them). If any job of a file is refused (the quota, a
filename taken), the file's earlier jobs are cancelled and the receipt refuses the whole file.

At-least-once delivery: an object's version (bucket, key, ETag, version id) is claimed through
Powertools idempotency on the idempotency table before any job is made, so the same object delivered
twice makes its jobs once and the accepted receipt is replayed. Refusals are not remembered: a
redelivered bad file is checked again (it makes nothing), and the same bytes uploaded again after the
quota resets are taken.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from imagegen.errors import ImagegenError
from imagegen.logic.job_commands import cancel_job, create_job
from imagegen.logic.manifests import (
    MAX_MANIFEST_BYTES,
    BlogManifest,
    Catalogue,
    ManifestKeyError,
    ManifestRefused,
    idempotency_key,
    is_manifest,
    is_test_event,
    object_key,
    owner_of,
    parse_manifest,
    receipt_key,
)
from imagegen.logic.services import Services
from imagegen.logic.specs import blog_spec
from imagegen.models.domain import Caller, Job
from imagegen.models.manifests import AcceptedReceipt, ManifestProblem, RefusedReceipt, UploadedObject
from imagegen.models.requests import MAX_BATCH_ITEMS, BatchRequest, BlogPost

logger = Logger(child=True)


class IncomingFiles(Protocol):
    """The bucket's incoming/ side (dal.images_bucket.ImagesBucket)."""

    def read_upload(self, key: str, etag: str, limit: int) -> bytes | None: ...
    def put_receipt(self, key: str, body: bytes) -> None: ...


class _Refusal(Exception):
    """Raised inside the idempotent claim so that Powertools forgets it: refusals are not replayed."""

    def __init__(self, receipt: RefusedReceipt) -> None:
        super().__init__(receipt.errors[0].message if receipt.errors else "refused")
        self.receipt = receipt


def uploads_in(body: str) -> list[UploadedObject]:
    """The objects an SQS message from the bucket's notification announces (none for s3:TestEvent)."""
    if is_test_event(body):
        return []
    event = S3Event(json.loads(body))
    return [
        UploadedObject(
            bucket=record.s3.bucket.name,
            key=object_key(record.s3.get_object.key),
            etag=record.s3.get_object.etag or "",
            version_id=record.s3.get_object.version_id,
        )
        for record in event.records
        if record.event_name.startswith("ObjectCreated:")
    ]


def take_upload(
    upload: UploadedObject, services: Services, files: IncomingFiles
) -> AcceptedReceipt | RefusedReceipt | None:
    """Make the jobs an uploaded manifest asks for and write its receipt; None when the object is not
    a manifest (a receipt, an image, another bucket's) or is gone or replaced since its notification."""
    if upload.bucket != services.settings.images_bucket or not is_manifest(upload.key):
        logger.info("upload skipped: not a manifest", key=upload.key[:300])
        return None
    claim = {"object": idempotency_key(upload.bucket, upload.key, upload.etag, upload.version_id)}

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="claim",
        persistence_store=services.idempotency,
        config=services.idempotency_config,
    )
    def claimed(claim: dict[str, str]) -> dict[str, Any] | None:
        outcome = _outcome(upload, services, files)
        if isinstance(outcome, RefusedReceipt):
            raise _Refusal(outcome)
        return outcome.model_dump(mode="json") if outcome else None

    try:
        stored = claimed(claim=claim)
    except _Refusal as refusal:
        receipt: AcceptedReceipt | RefusedReceipt = refusal.receipt
    else:
        if stored is None:
            return None
        receipt = AcceptedReceipt.model_validate(stored)
    # Written after the claim is settled: a failed write is retried without making the jobs again.
    files.put_receipt(receipt_key(upload.key), receipt.model_dump_json(indent=2).encode())
    logger.info("manifest taken", key=upload.key[:300], status=receipt.status)
    return receipt


def _outcome(
    upload: UploadedObject, services: Services, files: IncomingFiles
) -> AcceptedReceipt | RefusedReceipt | None:
    """The receipt for the object's version: its jobs made, or every problem found and nothing made."""
    now = services.clock()
    try:
        owner = owner_of(upload.key)
        data = files.read_upload(upload.key, upload.etag, MAX_MANIFEST_BYTES)
        if data is None:
            logger.info("upload skipped: gone or replaced", key=upload.key[:300])
            return None
        manifest = parse_manifest(upload.key, data)
        jobs = _create_jobs(manifest, Caller(sub=owner), services)
    except ManifestRefused as refused:
        return RefusedReceipt(errors=refused.problems, key=upload.key, received_at=now)
    except ManifestKeyError as error:
        problem = ManifestProblem(line=None, field="", message=str(error))
        return RefusedReceipt(errors=[problem], key=upload.key, received_at=now)
    return AcceptedReceipt(batch_ids=[job.job_id for job in jobs], key=upload.key, received_at=now)


def _create_jobs(manifest: BlogManifest | Catalogue, caller: Caller, services: Services) -> list[Job]:
    """Every job of the file, or none: when one cannot be made, the ones made before it are cancelled
    (their quota given back). A refusal (the quota, a filename taken) names the section or batch it
    came from; any other error is raised, for the message to be delivered again."""
    if isinstance(manifest, BlogManifest):
        _check_names(manifest, services)
    jobs: list[Job] = []
    requests: list[BlogPost | BatchRequest] = [
        *(_blog_jobs(manifest) if isinstance(manifest, BlogManifest) else manifest.requests)
    ]
    for number, request in enumerate(requests, start=1):
        try:
            jobs.append(create_job(request, caller, services))
        except Exception as error:
            _cancel(jobs, caller, services)
            if not isinstance(error, ImagegenError):
                raise
            part = "post" if isinstance(manifest, BlogManifest) else "batch"
            message = f"{part} {number} of {len(requests)}: {error}"
            raise ManifestRefused([ManifestProblem(line=None, field="", message=message)]) from error
    return jobs


def _blog_jobs(manifest: BlogManifest) -> list[BlogPost]:
    """A post's sections as one blog job, as a CMS hook's are (split at the batch limit)."""
    sections = manifest.requests
    return [
        BlogPost(tuple(sections[start : start + MAX_BATCH_ITEMS]))
        for start in range(0, len(sections), MAX_BATCH_ITEMS)
    ]


def _check_names(manifest: BlogManifest, services: Services) -> None:
    """Named images that exist already, or are named twice in the file, refused before any job is made
    (create_job checks one request at a time, and a job made first could start drawing)."""
    problems, seen = [], set()
    now = services.clock()
    for number, request in enumerate(manifest.requests, start=1):
        if not request.filename:
            continue
        key = blog_spec(request, "", now, services.settings).key  # a named image's key has no job id
        where = f"section {number} of {len(manifest.requests)}"
        if key in seen:
            problems.append(f"{where}: another section of this file is already named '{request.filename}'")
        elif services.images.metadata_of(key) is not None:
            problems.append(f"{where}: an image named '{request.filename}' already exists in this section")
        seen.add(key)
    if problems:
        raise ManifestRefused([ManifestProblem(line=None, field="filename", message=m) for m in problems])


def _cancel(jobs: list[Job], caller: Caller, services: Services) -> None:
    for job in jobs:
        try:
            cancel_job(job.job_id, caller, services)
        except Exception:  # best effort: the error that stopped the file is the one to report
            logger.exception("could not cancel a job of a refused manifest", job_id=job.job_id)
