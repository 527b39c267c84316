"""Secrets Manager through Powertools parameters (cached, so a warm Lambda asks once)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

_MAX_AGE_SECONDS = 300


def get_secret(secret_id: str) -> str:
    return str(parameters.get_secret(secret_id, max_age=_MAX_AGE_SECONDS))
