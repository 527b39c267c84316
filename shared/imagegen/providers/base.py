"""The Provider protocol shared by the OpenAI and offline providers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from imagegen.models.domain import ImageSpec


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    content_type: str
    provider: str
    model: str


class Provider(Protocol):
    name: str

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        """Draw one image for the spec; raise Permanent/TransientGenerationError on failure."""
        ...
