"""The Provider protocol shared by the OpenAI and offline providers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from imagegen.models.domain import ImageSpec


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    content_type: str
    provider: str
    model: str
    usage: dict[str, Any] | None = None  # the provider's token counts, as it reported them
    cost_usd: float | None = None  # what the provider bills for this call, from `usage`
    request_id: str | None = None
    billed_calls: int = 0  # calls this image took that the provider may bill (lost ones included)
    details: dict[str, Any] | None = None  # the provider's own metadata fields (offline: offline_subject)


class Provider(Protocol):
    name: str
    rate_limited: bool  # True when calls must take a slot from the shared rate limiter
    parallel_calls: int  # calls one worker invocation makes at once (its SQS records run side by side)

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        """Draw one image for the spec; raise Permanent/TransientGenerationError on failure."""
        ...
