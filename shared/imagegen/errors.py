"""Domain errors. imagegen.api maps each to one HTTP status; nothing else matches on them."""


class ImagegenError(Exception):
    """Base of every error the service reports to a caller."""

    code = "internal_error"


class InvalidRequestError(ImagegenError):
    code = "invalid_request"


class JobNotFoundError(ImagegenError):
    """Missing, or owned by someone else: the two must look the same to the caller."""

    code = "not_found"


class ImageNotFoundError(ImagegenError):
    code = "not_found"


class JobFinishedError(ImagegenError):
    code = "job_finished"


class ImageExistsError(ImagegenError):
    code = "image_exists"


class PermanentGenerationError(ImagegenError):
    """The provider refused or produced unusable bytes: retrying would not help."""

    code = "generation_failed"


class TransientGenerationError(ImagegenError):
    """A failure that may pass on retry (timeouts, 5xx, throttling)."""

    code = "generation_retry"


class ProviderRateLimitedError(TransientGenerationError):
    """The provider answered 429 for its rate limit; `retry_after` is its Retry-After, if it sent one."""

    code = "provider_rate_limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderCallLostError(TransientGenerationError):
    """The call timed out or lost its connection after it was sent: the provider may still finish and
    bill it, so it counts as a billed call and its retries are capped on their own."""

    code = "provider_call_lost"


class ProviderQuotaExhaustedError(PermanentGenerationError):
    """The provider account is out of quota (OpenAI `insufficient_quota`): never retried."""

    code = "provider_quota_exhausted"


class QuotaExceededError(ImagegenError):
    """The caller's daily image quota would be exceeded; `retry_after` is seconds until it resets."""

    code = "quota_exceeded"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BudgetExceededError(ImagegenError):
    """The batch's estimated cost is above the ceiling its caller set."""

    code = "budget_exceeded"


class IdempotencyInProgressError(ImagegenError):
    """A request with the same Idempotency-Key is still being answered."""

    code = "idempotency_in_progress"


class IdempotencyKeyReusedError(ImagegenError):
    """The Idempotency-Key was used before for a different request."""

    code = "idempotency_key_reused"


class WebhookRejectedError(ImagegenError):
    """An incoming CMS webhook failed verification (signature, timestamp, replay): answered 401.

    The message names what failed, never the secret or the expected signature.
    """

    code = "webhook_rejected"


class ConnectionGoneError(Exception):
    """A WebSocket client is no longer connected (the management API's 410 GoneException).

    Not an ImagegenError: no caller sees it; the notifier drops the connection's rows.
    """


class HookNotFoundError(ImagegenError):
    """The caller has no CMS hook for that source yet."""

    code = "not_found"
