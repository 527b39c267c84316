"""Every URL shape the API hands out: the one home of its paths (the routes are declared with them).

A leaf module beside config.py, not inside imagegen.api: Settings takes its IMAGES_BASE_URL default
from here, and every layer reads Settings, so the layers stay one-way."""

from __future__ import annotations

from imagegen.models.domain import JobKind

IMAGES_PREFIX = "/api/images/"  # GET /api/images/{key+}: a stored image or its metadata
JOBS_PREFIX = "/api/jobs"  # the neutral home of every job (icons and blog images)
ICON_BATCHES_PREFIX = "/api/icons/batch"  # where the original system's clients look for icon jobs


def job_prefix(job_id: str, kind: JobKind) -> str:
    """Blog jobs live under the neutral /api/jobs; icon jobs where the original system's clients look."""
    return f"{JOBS_PREFIX}/{job_id}" if kind == "blog" else f"{ICON_BATCHES_PREFIX}/{job_id}"


def status_url(job_id: str, kind: JobKind) -> str:
    """Where a job's state and counts are read (a 202's Location)."""
    return job_prefix(job_id, kind) + ("" if kind == "blog" else "/status")


def result_url(job_id: str, kind: JobKind) -> str:
    """Where every item of a job is read."""
    return job_prefix(job_id, kind) + "/result"
