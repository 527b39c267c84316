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
