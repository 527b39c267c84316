"""Choose the provider the settings ask for."""

from __future__ import annotations

from imagegen.config import Settings
from imagegen.providers.base import Provider


def get_provider(settings: Settings) -> Provider:
    """The offline renderer; IMAGE_PROVIDER=openai is refused until the OpenAI provider lands (issue 3)."""
    if settings.image_provider == "openai":
        raise NotImplementedError("IMAGE_PROVIDER=openai is not available yet; use auto or offline")
    from imagegen.providers.offline import OfflineProvider  # Pillow stays out of API cold starts

    return OfflineProvider()
