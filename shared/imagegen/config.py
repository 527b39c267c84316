"""One Settings model, read once per process from the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from imagegen.models.requests import Size
from imagegen.paths import IMAGES_PREFIX
from imagegen.providers.registry import DEFAULT_MODEL, MODELS, gpt_image_quality

# A browser's Origin header: scheme, host and optional port, nothing after (what API Gateway matches).
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?$")


class Settings(BaseSettings):
    """Every configuration value the service reads; names follow the original system."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # Provider. OPENAI_AUTH_TOKEN is the original blog script's name for the key.
    openai_api_key: Annotated[
        SecretStr | None, Field(validation_alias=AliasChoices("OPENAI_API_KEY", "OPENAI_AUTH_TOKEN"))
    ] = None
    openai_api_key_secret_arn: str | None = None  # in AWS: the key lives in Secrets Manager
    openai_base_url: str | None = None
    openai_model: str = DEFAULT_MODEL  # data/models.json names it
    openai_image_size: Size = "1024x1024"  # the default size of icons
    # DALL-E's standard and hd (the original system's values) are taken and drawn as medium and high:
    # see image_quality. Any other value stops the service at start-up.
    openai_image_quality: Literal["low", "medium", "high", "auto", "standard", "hd"] = "auto"
    # DALL-E 3's style. GPT image models take none: a style set here is recorded, never sent.
    openai_image_style: Literal["vivid", "natural"] | None = None
    openai_max_retries: Annotated[int, Field(ge=0, le=10)] = 3
    # Unset: each call may take twice its model's p99 at its quality (the registry's latency table),
    # within the worker's timeout. A number applies to every call.
    openai_timeout: Annotated[float | None, Field(gt=0, le=900)] = None
    # Retries after a call that timed out or lost its connection: the provider may have finished
    # and billed it, so each one may pay for an image twice.
    openai_timeout_retries: Annotated[int, Field(ge=0, le=5)] = 1
    openai_rate_limit_rpm: Annotated[int, Field(ge=1)] = 5
    openai_rate_limit_tpm: Annotated[int, Field(ge=1)] = 100_000
    # The shared limiter: images allowed back to back (providers enforce a minute's limit over
    # shorter windows); the fraction of the limit aimed at (headroom: a call may start that share of
    # a slot late without crowding a window); how long a worker may wait in process for its slot
    # (items waiting longer go back to the queue and return half of it early, which absorbs a cold
    # start); how fast a rate lowered by a 429 climbs back; how long insufficient_quota pauses.
    openai_rate_limit_burst: Annotated[int, Field(ge=1, le=100)] = 1
    rate_limit_target: Annotated[float, Field(ge=0.5, le=1.0)] = 0.95
    rate_limit_max_wait_seconds: Annotated[float, Field(ge=0, le=60)] = 10.0
    rate_limit_recovery_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    quota_pause_seconds: Annotated[int, Field(ge=10, le=86_400)] = 900
    image_provider: Literal["auto", "offline", "openai"] = "auto"

    # Images and batches.
    # Where results point for a stored object: the API's own image route unless set (e.g. to a CDN).
    images_base_url: str = IMAGES_PREFIX
    images_max_size: Annotated[int, Field(ge=1024)] = 5_242_880
    batch_size_default: Annotated[int, Field(ge=1, le=10)] = 5
    batch_timeout: Annotated[int, Field(ge=10, le=900)] = 900  # the worker's; Lambda allows 900 s
    # Worker invocations at once. Unset: enough to keep the rate limit busy at the model's latency
    # (logic.capacity); the template sets it per tier.
    batch_max_concurrent: Annotated[int | None, Field(ge=1, le=1000)] = None

    # Economy (OpenAI's Batch API at half price, within 24 h; README "Economy: half price for work that
    # can wait"). Batches of at least ECONOMY_MIN_ITEMS new images go there unless the request says
    # "priority": "standard" (0: only requests that ask for economy). Items a provider batch did not
    # draw within its window go back to the standard path (requeue) or fail. ECONOMY_MAX_LINES: lines
    # per input file (the Batch API takes 50,000; fewer split a job into more, smaller batches).
    economy_queue_url: str = ""
    economy_min_items: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    economy_on_expiry: Literal["requeue", "fail"] = "requeue"
    economy_max_lines: Annotated[int, Field(ge=1, le=50_000)] = 50_000
    # OpenAI's webhook signing secret (whsec_...): the value, or in AWS its Secrets Manager ARN.
    openai_webhook_secret: SecretStr | None = None
    openai_webhook_secret_arn: str | None = None

    # Per-user limits and the request cache. QUOTA_IMAGES_PER_DAY=0 means no daily quota.
    quota_images_per_day: Annotated[int, Field(ge=0, le=1_000_000)] = 500
    cache_enabled: bool = True
    cache_scope: Literal["owner", "shared"] = "owner"
    cache_ttl_days: Annotated[int, Field(ge=1, le=3650)] = 30

    # Resources (the template sets these; the defaults are the local stack's names).
    jobs_table: str = "imagegen-jobs"
    limits_table: str = "imagegen-limits"
    cache_table: str = "imagegen-cache"
    idempotency_table: str = "imagegen-idempotency"
    events_table: str = "imagegen-events"
    connections_table: str = "imagegen-connections"
    # The WebSocket API (live progress): the URL clients connect to (wss://{api}.execute-api.{region}
    # .amazonaws.com/{stage}) and its management endpoint (the same with https://). Empty: no
    # WebSocket API; tickets cannot be minted and nothing is pushed. The template and the local stack
    # set both.
    websocket_url: str = ""
    websocket_management_url: str = ""
    images_bucket: str = "imagegen-images"
    queue_url: str = ""
    job_ttl_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # Local stack only: a file the events function appends its ProgressEvents to, as JSON lines.
    local_events_log: Path | None = None
    presign_ttl_seconds: Annotated[int, Field(ge=10, le=3600)] = 300

    # Outgoing webhooks (README "Webhooks when work ends"): the delivery queue and its dead-letter queue,
    # whether http and loopback receivers are allowed (the local stack sets it; in AWS https to public
    # addresses only), and a factor on the retry schedule's waits (tests shorten a day to seconds).
    webhook_queue_url: str = ""
    webhook_dlq_url: str = ""
    webhook_allow_loopback: bool = False
    webhook_retry_scale: Annotated[float, Field(gt=0, le=1)] = 1.0

    # Web pages allowed to call the API from a browser (CORS), comma-separated origins such as
    # https://cms.example.com,http://localhost:5173, or "*". Empty: no CORS headers, browsers refuse.
    # In AWS the HTTP API's CorsConfiguration (parameter CorsAllowedOrigins) applies it; locally the
    # stack's HTTP front does.
    cors_allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()

    # Worker retries: the queue's maxReceiveCount, and the first backoff before a retry.
    worker_max_receives: Annotated[int, Field(ge=1, le=100)] = 5
    retry_base_delay_seconds: Annotated[int, Field(ge=0, le=900)] = 5

    # Auth. HS256 with JWT_SECRET (or the secret at JWT_SECRET_ARN in AWS), or RS256/ES256 via JWKS.
    jwt_secret: SecretStr | None = None
    jwt_secret_arn: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "imagegen"
    jwt_audience: str = "imagegen"

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _origins_from_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [origin.strip() for origin in value.split(",") if origin.strip()]
        for origin in value:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(
                    f"CORS_ALLOWED_ORIGINS: '{origin}' is not an origin (scheme://host[:port], no path) or *"
                )
        return tuple(value)

    @field_validator("openai_model")
    @classmethod
    def _a_known_model(cls, value: str) -> str:
        # At start-up, not per request: a caller cannot fix the service's configuration.
        if value not in MODELS:
            raise ValueError(f"unknown model '{value}'; known models: {', '.join(sorted(MODELS))}")
        return value

    def image_url(self, key: str) -> str:
        """The URL results and metadata files give for a stored image or metadata file."""
        return self.images_base_url + key

    @property
    def image_quality(self) -> str:
        """OPENAI_IMAGE_QUALITY as the GPT-image quality that draws (DALL-E's values mapped)."""
        return gpt_image_quality(self.openai_image_quality)

    @model_validator(mode="after")
    def _provider_call_fits_the_worker(self) -> Settings:
        if self.openai_timeout is not None and self.openai_timeout >= self.batch_timeout:
            raise ValueError(
                f"OPENAI_TIMEOUT ({self.openai_timeout}s) must be below BATCH_TIMEOUT "
                f"({self.batch_timeout}s), the worker's timeout"
            )
        return self


def settings_problem(invalid: ValidationError, names: Mapping[str, str] | None = None) -> str:
    """A Settings ValidationError in the words of the environment ('OPENAI_MODEL: unknown model …'),
    or of the option that set a value (`names`: field -> option, e.g. openai_model -> --model)."""
    from imagegen.models.messages import readable

    def name(part: Any) -> str:
        return (names or {}).get(str(part), str(part).upper())

    return readable([{**error, "loc": tuple(map(name, error["loc"]))} for error in invalid.errors()])


def settings_from(environ: Mapping[str, str]) -> Settings:
    """Settings read from an explicit environment instead of the process's (a local function's)."""

    class FromMapping(EnvSettingsSource):
        def _load_env_vars(self) -> Mapping[str, str | None]:
            return {name.lower(): value for name, value in environ.items()}

    class Scoped(Settings):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], *sources: Any, **named: Any
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (FromMapping(settings_cls),)

    return Scoped()


@cache
def get_settings() -> Settings:
    """The process's settings, validated on first use (cold start)."""
    return Settings()
