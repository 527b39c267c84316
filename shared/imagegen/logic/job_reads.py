"""Reading the caller's jobs as stored: a job, its items with download URLs, the list, a wait for the end.

What the API answers is made of these by imagegen.api.job_views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from imagegen.errors import JobNotFoundError
from imagegen.logic.cursors import decode_cursor, encode_cursor
from imagegen.logic.images import presign
from imagegen.logic.services import Services
from imagegen.models.domain import TERMINAL_JOB_STATES, Caller, Item, ItemState, Job

MAX_PAGE = 100


@dataclass(frozen=True)
class JobItems:
    """A job with its items, and presigned URLs of what its completed items stored."""

    job: Job
    items: list[Item]
    download_urls: dict[str, str]
    download_urls_expire_at: datetime


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_cursor: str | None


def owned_job(job_id: str, caller: Caller, services: Services) -> Job:
    """The caller's job; anyone else's is not found, exactly like a job that does not exist."""
    job = services.jobs.get_job(job_id) if _looks_like_job_id(job_id) else None
    if job is None or job.owner != caller.sub:
        raise JobNotFoundError(f"no batch '{job_id}'")
    return job


def _looks_like_job_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)


def _stored_keys(item: Item) -> list[str]:
    """The objects a completed item stored: its image, metadata and derivatives."""
    if item.state != ItemState.COMPLETED:
        return []
    spec = item.spec
    return [spec.key, spec.metadata_key, *(spec.derivative_key(px) for px in spec.derivatives)]


def job_items(job_id: str, caller: Caller, services: Services) -> JobItems:
    """Every item of the caller's job; completed ones with presigned URLs (the job is theirs)."""
    job = owned_job(job_id, caller, services)
    items = list(services.jobs.iter_items(job_id))
    urls, expires_at = presign([key for item in items for key in _stored_keys(item)], services)
    return JobItems(job, items, urls, expires_at)


def wait_for_job(job_id: str, caller: Caller, seconds: float, services: Services) -> JobItems | None:
    """The job with its items once it ends, or None if it is still going after `seconds`."""
    # By the clock, not by adding up the pauses: each turn also reads the table, and the answer must
    # leave before API Gateway's 30 s timeout.
    deadline, pause = services.monotonic() + seconds, 0.1
    while True:
        job = owned_job(job_id, caller, services)
        if job.state in TERMINAL_JOB_STATES:
            return job_items(job_id, caller, services)
        left = deadline - services.monotonic()
        if left <= 0:
            return None
        services.sleep(min(pause, left))
        pause = min(pause * 1.5, 0.5)


def list_jobs(caller: Caller, limit: int, cursor: str | None, services: Services) -> JobPage:
    """The caller's jobs (icon batches, single icons and blog images), newest first."""
    start_key = decode_cursor(cursor, caller) if cursor else None
    jobs, last_key = services.jobs.list_jobs(caller.sub, min(max(limit, 1), MAX_PAGE), start_key)
    return JobPage(jobs, encode_cursor(last_key) if last_key else None)
