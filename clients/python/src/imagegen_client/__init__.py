"""Python client of the imagegen service: `Client` (sync), `AsyncClient`, and the original system's
`IconGenerationService`. Configured by arguments, else IMAGEGEN_URL and IMAGEGEN_TOKEN."""

from imagegen_client._async import AsyncClient
from imagegen_client._core import RetryPolicy, SavedImage
from imagegen_client._sync import Client
from imagegen_client.errors import (
    ConfigurationError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    ImagegenError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Unauthorized,
    Unprocessable,
    WaitTimeout,
)
from imagegen_client.models import (
    BatchGenerationRequest,
    BlogImageRequest,
    CacheCleared,
    CachedEntry,
    Counts,
    DayUsage,
    IconColor,
    IconRequest,
    IconStyle,
    Item,
    JobAccepted,
    JobResult,
    JobStatus,
    Progress,
    Stats,
    Suggestions,
)
from imagegen_client.service import IconGenerationService

__version__ = "0.1.0"
__all__ = [
    "AsyncClient",
    "BatchGenerationRequest",
    "BlogImageRequest",
    "CacheCleared",
    "CachedEntry",
    "Client",
    "ConfigurationError",
    "Conflict",
    "ConnectionFailed",
    "Counts",
    "DayUsage",
    "Forbidden",
    "IconColor",
    "IconGenerationService",
    "IconRequest",
    "IconStyle",
    "ImagegenError",
    "InvalidRequest",
    "Item",
    "JobAccepted",
    "JobResult",
    "JobStatus",
    "NotFound",
    "PayloadTooLarge",
    "Progress",
    "RateLimited",
    "RetryPolicy",
    "SavedImage",
    "ServerError",
    "Stats",
    "Suggestions",
    "Unauthorized",
    "Unprocessable",
    "WaitTimeout",
]
