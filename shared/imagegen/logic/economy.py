"""Economy jobs: OpenAI's Batch API at half price, for work that can wait (issue 15). In progress."""

from __future__ import annotations

from imagegen.logic.services import Services
from imagegen.models.economy import POLL_ACTION

__all__ = ["POLL_ACTION", "handle_message", "poll"]


def handle_message(body: str, services: Services) -> None:
    """One EconomyQueue message (models.economy.EconomyMessage)."""
    raise NotImplementedError("economy messages are not handled yet")


def poll(services: Services) -> int:
    """Check every open provider batch; how many were checked."""
    return 0
