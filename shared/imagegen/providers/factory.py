"""Choose the provider the settings ask for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imagegen.config import Settings
from imagegen.providers.base import Provider

if TYPE_CHECKING:
    from imagegen.providers.openai_batches import OpenAIBatches


def openai_key(settings: Settings) -> str | None:
    """The OpenAI key: the environment's, else the secret named by OPENAI_API_KEY_SECRET_ARN."""
    if settings.openai_api_key is not None:
        return settings.openai_api_key.get_secret_value()
    if settings.openai_api_key_secret_arn:
        from imagegen.dal.secrets import get_secret

        return get_secret(settings.openai_api_key_secret_arn)
    return None


def provider_name(settings: Settings) -> str:
    """The provider get_provider will choose, without building it (no SDK import, no secret read)."""
    if settings.image_provider == "auto":
        configured = settings.openai_api_key is not None or bool(settings.openai_api_key_secret_arn)
        return "openai" if configured else "offline"
    return settings.image_provider


def get_provider(settings: Settings, max_retries: int | None = None) -> Provider:
    """OpenAI when a key is configured (or IMAGE_PROVIDER=openai), else the offline renderer.

    max_retries: in-process retries of transient OpenAI errors (None: OPENAI_MAX_RETRIES)."""
    key = openai_key(settings) if settings.image_provider != "offline" else None
    if settings.image_provider == "openai" and not key:
        raise RuntimeError("IMAGE_PROVIDER=openai needs OPENAI_API_KEY or OPENAI_API_KEY_SECRET_ARN")
    if key:
        from imagegen.providers.openai_provider import OpenAIProvider  # openai stays out of API cold starts

        return OpenAIProvider(settings, key, max_retries=max_retries)
    from imagegen.providers.offline import OfflineProvider  # Pillow stays out of API cold starts

    return OfflineProvider()


def get_batches(settings: Settings) -> OpenAIBatches:
    """OpenAI's Batch API with the configured key (economy jobs)."""
    key = openai_key(settings)
    if not key:
        raise RuntimeError("economy jobs need OPENAI_API_KEY or OPENAI_API_KEY_SECRET_ARN")
    from imagegen.providers.openai_batches import OpenAIBatches  # the SDK: the economy function only

    return OpenAIBatches(settings, key)
