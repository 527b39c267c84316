"""What callers send. Every field is bounded; unknown fields are refused."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from imagegen import templates
from imagegen.models.domain import Priority

MAX_PROMPT_CHARS = 4000
MAX_CATEGORIES = 100
MAX_VARIATIONS = 10
MAX_BATCH_ITEMS = 500
MAX_BODY_BYTES = 64 * 1024
MIN_SIDE, MAX_SIDE, SIDE_STEP = 256, 3840, 16


def _meaning(meaning: str) -> WrapValidator:
    """Pattern mismatches say what the pattern allows: pydantic's own message only quotes the regex.

    pydantic has no per-constraint message, so a wrap validator swaps its error for a custom one
    (same error type, the pattern kept in ctx, `meaning` for imagegen.models.messages to speak).
    """

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as invalid:
            for error in invalid.errors():
                if error["type"] == "string_pattern_mismatch":
                    ctx = {"pattern": (error.get("ctx") or {}).get("pattern", ""), "meaning": meaning}
                    raise PydanticCustomError("string_pattern_mismatch", meaning, ctx) from None
            raise

    return WrapValidator(check)


# Styles, colour schemes and blog templates are data (data/prompt_templates.json): add one there.
Style = Annotated[
    str,
    AfterValidator(templates.one_of(templates.styles())),
    Field(json_schema_extra={"enum": list(templates.styles())}),
]
ColorScheme = Annotated[
    str,
    AfterValidator(templates.one_of(templates.color_schemes())),
    Field(json_schema_extra={"enum": list(templates.color_schemes())}),
]
BlogTemplate = Annotated[
    str,
    AfterValidator(templates.one_of(templates.blog_templates())),
    Field(json_schema_extra={"enum": list(templates.blog_templates())}),
]
HexColor = Annotated[
    str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$"), _meaning("must be a colour written like #1a2b3c")
]

# Ids become S3 key segments: a closed alphabet makes `../` and friends impossible.
Ident = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"),
    _meaning("may only hold letters, digits, _ and -"),
]
Category = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[\w][\w &'.,/+()-]*$"),
    _meaning("must start with a letter or digit and hold only letters, digits, spaces and & ' . , / + ( ) -"),
]
# Free text may hold tabs and line breaks, never NUL or another control character: they end strings
# in C libraries and logs downstream, and no prompt means them.
_NO_CONTROLS = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_TEXT_MEANING = "must not hold NUL or other control characters"
# What the document says of stripped text: something besides spaces (pydantic strips, then counts).
_C = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_SOME_TEXT = {"pattern": f"^[^{_C}]*[^\\s{_C}][^{_C}]*$"}
Element = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=60, pattern=_NO_CONTROLS),
    _meaning(_TEXT_MEANING),
    Field(json_schema_extra=_SOME_TEXT),
]
Prompt = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PROMPT_CHARS, pattern=_NO_CONTROLS),
    _meaning(_TEXT_MEANING),
    Field(json_schema_extra=_SOME_TEXT),
]
# At least a cent: a smaller positive amount (1e-320) is no budget anyone means.
MaxCost = Annotated[float | None, Field(ge=0.01, le=100_000)]
ModelName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,63}$"),
    _meaning("must be a model name such as gpt-image-1: lower-case letters, digits, . and -"),
]
# DALL-E's standard and hd, as the original API took them, are drawn as medium and high (registry).
Quality = Literal["low", "medium", "high", "auto", "standard", "hd"]
OutputFormat = Literal["png", "webp", "jpeg"]
Background = Literal["auto", "opaque", "transparent"]
DerivativeSize = Literal[512, 256, 128, 64, 32]
# The events a job's webhook may ask for: models.webhooks.WebhookEventType's values (a test keeps them equal).
WebhookEventName = Literal["item.completed", "item.failed", "job.completed", "job.cancelled"]
ALL_WEBHOOK_EVENTS: tuple[WebhookEventName, ...] = (
    "item.completed",
    "item.failed",
    "job.completed",
    "job.cancelled",
)
MAX_WEBHOOK_URL_CHARS = 2048


def _unique_sizes(sizes: list[int]) -> list[int]:
    if len(set(sizes)) != len(sizes):
        raise ValueError("derivative sizes must be unique")
    return sorted(sizes, reverse=True)


Derivatives = Annotated[
    list[DerivativeSize],
    Field(max_length=5, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_unique_sizes),
]


def _check_size(value: str) -> str:
    width, height = (int(part) for part in value.split("x"))
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ValueError(f"each side must be between {MIN_SIDE} and {MAX_SIDE} pixels")
    if width % SIDE_STEP or height % SIDE_STEP:
        raise ValueError(f"each side must be a multiple of {SIDE_STEP}")
    if max(width, height) > 3 * min(width, height):
        raise ValueError("the aspect ratio must be at most 3:1")
    return value


# The document's pattern names the sides _check_size allows (a regex cannot compare them); validation
# keeps the loose pattern so that a near miss is told which rule it breaks.
_SIDES = "(?:" + "|".join(str(side) for side in range(MAX_SIDE, MIN_SIDE - 1, -SIDE_STEP)) + ")"
Size = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{3,4}x[0-9]{3,4}$"),
    _meaning("must be WIDTHxHEIGHT in pixels, such as 1024x1024"),
    AfterValidator(_check_size),
    Field(
        json_schema_extra={
            "pattern": f"^{_SIDES}x{_SIDES}$",
            "description": f"WIDTHxHEIGHT, each side a multiple of {SIDE_STEP} from {MIN_SIDE} to "
            f"{MAX_SIDE}, at most 3:1; a model with fixed sizes takes only those",
        }
    ),
]


def _without_null(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The JSON schema of a _Strict model: a field with a default does not take null (leave it out)."""
    for name, field in model.model_fields.items():
        declared = schema.get("properties", {}).get(name, {})
        options = [option for option in declared.get("anyOf", []) if option != {"type": "null"}]
        if not field.is_required() and len(options) == 1:
            del declared["anyOf"]
            declared.update(options[0])
            if declared.get("default", "") is None:  # no default value: the service chooses
                del declared["default"]


class _Strict(BaseModel):
    """A JSON body: unknown fields refused, types strict ("2" is not a count, true is not a number,
    "false" is not a boolean; an integer still counts as a float), and null refused for a field
    that has a default (leave the field out to get it)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_without_null)

    @field_validator("*", mode="before")
    @classmethod
    def _no_null_for_defaults(cls, value: Any, info: Any) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if value is None and field is not None and not field.is_required():
            raise PydanticCustomError("null_not_allowed", "leave the field out for its default, not null")
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _name_the_field_meant(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """An unknown field's error carries the known field it most resembles (ctx `did_you_mean`).

        extra="forbid" cannot say which fields exist, and only the model knows them; the other errors
        pass through unchanged (type, message and ctx).
        """
        try:
            return handler(data)
        except ValidationError as invalid:
            if not any(error["type"] == "extra_forbidden" for error in invalid.errors()):
                raise
            raise ValidationError.from_exception_data(
                invalid.title, [cls._with_hint(error) for error in invalid.errors()]
            ) from None

    @classmethod
    def _field_meant(cls, unknown: str) -> str:
        """A known field spelt alike (difflib), else one starting alike: "colour" -> "color_scheme"."""
        close = difflib.get_close_matches(unknown, list(cls.model_fields), n=1, cutoff=0.6)
        alike = [name for name in cls.model_fields if len(unknown) >= 4 and name.startswith(unknown[:4])]
        return (close or alike or [""])[0]

    @classmethod
    def _with_hint(cls, error: Any) -> InitErrorDetails:
        ctx = dict(error.get("ctx") or {})
        if error["type"] == "extra_forbidden" and len(error["loc"]) == 1:
            ctx["did_you_mean"] = cls._field_meant(str(error["loc"][0]).lower())
        # A custom error keeps the message as it was; braces in it are literal unless named in ctx.
        return InitErrorDetails(
            type=PydanticCustomError(error["type"], error["msg"], ctx), loc=error["loc"], input=error["input"]
        )


def _unique_events(events: list[str]) -> list[str]:
    if len(set(events)) != len(events):
        raise ValueError("webhook events must be unique")
    return events


WebhookEvents = Annotated[
    list[WebhookEventName],
    Field(min_length=1, max_length=len(ALL_WEBHOOK_EVENTS), json_schema_extra={"uniqueItems": True}),
    AfterValidator(_unique_events),
]


class WebhookOptions(_Strict):
    """Where the job's end is reported (Standard Webhooks, signed with the owner's secret). The URL's
    shape is checked here; whether it may be called (https, public addresses) when the job is created."""

    webhook_url: Annotated[str, StringConstraints(min_length=1, max_length=MAX_WEBHOOK_URL_CHARS)] | None = (
        None
    )
    webhook_events: WebhookEvents = list(ALL_WEBHOOK_EVENTS)

    @model_validator(mode="after")
    def _events_need_a_url(self) -> WebhookOptions:
        if "webhook_events" in self.model_fields_set and self.webhook_url is None:
            raise ValueError("webhook_events go with a webhook_url")
        return self


class IconOptions(WebhookOptions):
    """How icons are drawn: shared by single icons and batches."""

    style: Style = "modern"
    color_scheme: ColorScheme = "colorful"
    custom_elements: Annotated[list[Element], Field(max_length=10)] = []
    size: Size | None = None  # default: OPENAI_IMAGE_SIZE
    model: ModelName | None = None
    quality: Quality | None = None
    output_format: OutputFormat = "png"
    background: Background = "auto"
    derivatives: Derivatives = []
    brand_colors: Annotated[list[HexColor], Field(max_length=5)] = []  # with color_scheme brand_colors
    use_cache: bool = True  # false: always draw anew (and pay for it)
    max_cost_usd: MaxCost = None  # refuse if the estimate is above
    # economy: OpenAI's Batch API at half price, within 24 h. Unset: economy for a batch of at least
    # ECONOMY_MIN_ITEMS new images, else standard. Served as standard where there is no Batch API
    # (the offline renderer) or the model does not take it.
    priority: Priority | None = None

    @model_validator(mode="after")
    def _brand_colours_need_the_brand_scheme(self) -> IconOptions:
        if self.brand_colors and self.color_scheme != "brand_colors":
            raise ValueError("brand_colors go with color_scheme 'brand_colors'")
        return self


class IconRequest(IconOptions):
    """POST /api/icons/generate: one icon for a category."""

    category: Category


class BlogImageRequest(WebhookOptions):
    """POST /api/images/generate: one image for a blog post section."""

    prompt: Prompt
    post_id: Ident
    section_id: Ident
    filename: Ident | None = None
    size: Size = "1792x1024"
    model: ModelName | None = None
    quality: Quality | None = None
    output_format: OutputFormat = "png"
    template: BlogTemplate | None = None  # the prompt is used as written unless a template is asked for
    use_cache: bool = True
    max_cost_usd: MaxCost = None  # refuse if the estimate is above
    priority: Priority | None = None  # as IconOptions.priority


@dataclass(frozen=True)
class BlogPost:
    """Several sections of one post drawn as one blog job (a CMS webhook's post); not a JSON body."""

    sections: tuple[BlogImageRequest, ...]
    webhook_url: str | None = None  # checked when the job is created, as a request's
    webhook_events: tuple[str, ...] = tuple(ALL_WEBHOOK_EVENTS)

    @property
    def use_cache(self) -> bool:
        return all(section.use_cache for section in self.sections)

    @property
    def max_cost_usd(self) -> float | None:
        ceilings = [section.max_cost_usd for section in self.sections if section.max_cost_usd is not None]
        return min(ceilings) if ceilings else None

    @property
    def priority(self) -> Priority | None:
        """One path for the post: standard if any section asks for it, else economy if any does."""
        asked = {section.priority for section in self.sections}
        return "standard" if "standard" in asked else ("economy" if "economy" in asked else None)


class BatchRequest(IconOptions):
    """POST /api/icons/generate/batch: categories x variations icons."""

    categories: Annotated[list[Category], Field(min_length=1, max_length=MAX_CATEGORIES)]
    variations_per_category: Annotated[int, Field(ge=1, le=MAX_VARIATIONS)] = 1

    @model_validator(mode="after")
    def _bounded_total(self) -> BatchRequest:
        total = len(self.categories) * self.variations_per_category
        if total > MAX_BATCH_ITEMS:
            raise ValueError(f"a batch holds at most {MAX_BATCH_ITEMS} items; this one asks for {total}")
        return self
