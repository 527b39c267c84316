"""Closing a job: its final state once every item has ended (the worker's and a cancel's last step)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from imagegen.logic.services import Services
from imagegen.models.domain import TERMINAL_JOB_STATES, Job, JobState

logger = Logger(child=True)


def final_state(job: Job) -> JobState:
    counts = job.counts
    if job.cancel_requested and counts.cancelled:
        return JobState.CANCELLED
    if counts.completed == counts.total:
        return JobState.COMPLETED
    if counts.completed == 0:
        return JobState.CANCELLED if counts.cancelled == counts.total else JobState.FAILED
    return JobState.PARTIALLY_FAILED


def close_job_if_done(job_id: str, services: Services) -> None:
    """Give the job its final state once every item has ended (safe to call any number of times)."""
    job = services.jobs.get_job(job_id)
    if job is None or job.state in TERMINAL_JOB_STATES or job.counts.finished < job.counts.total:
        return
    if services.jobs.close_job(job_id, final_state(job), services.clock()):
        logger.info("job closed", job_id=job_id, state=final_state(job).value)
