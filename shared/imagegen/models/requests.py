"""What callers send. Every field is bounded; unknown fields are refused."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from imagegen import templates

MAX_PROMPT_CHARS = 4000
MAX_CATEGORIES = 100
MAX_VARIATIONS = 10
MAX_BATCH_ITEMS = 500
MAX_BODY_BYTES = 64 * 1024

# Styles, colour schemes and blog templates are data (data/prompt_templates.json): add one there.
Style = Annotated[
    str,
    AfterValidator(templates.one_of(templates.styles(), "style")),
    Field(json_schema_extra={"enum": list(templates.styles())}),
]
ColorScheme = Annotated[
    str,
    AfterValidator(templates.one_of(templates.color_schemes(), "color_scheme")),
    Field(json_schema_extra={"enum": list(templates.color_schemes())}),
]
BlogTemplate = Annotated[
    str,
    AfterValidator(templates.one_of(templates.blog_templates(), "template")),
    Field(json_schema_extra={"enum": list(templates.blog_templates())}),
]
HexColor = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]

# Ids become S3 key segments: a closed alphabet makes `../` and friends impossible.
Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Category = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[\w][\w &'.,/+()-]*$"),
]
Element = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Prompt = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PROMPT_CHARS)]
ModelName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,63}$")]
# DALL-E's standard and hd, as the original API took them, are drawn as medium and high (registry).
Quality = Literal["low", "medium", "high", "auto", "standard", "hd"]
OutputFormat = Literal["png", "webp", "jpeg"]
Background = Literal["auto", "opaque", "transparent"]
DerivativeSize = Literal[512, 256, 128, 64, 32]


def _unique_sizes(sizes: list[int]) -> list[int]:
    if len(set(sizes)) != len(sizes):
        raise ValueError("derivative sizes must be unique")
    return sorted(sizes, reverse=True)


Derivatives = Annotated[list[DerivativeSize], Field(max_length=5), AfterValidator(_unique_sizes)]


def _check_size(value: str) -> str:
    width, height = (int(part) for part in value.split("x"))
    if not (256 <= width <= 3840 and 256 <= height <= 3840):
        raise ValueError("each side must be between 256 and 3840 pixels")
    if width % 16 or height % 16:
        raise ValueError("each side must be a multiple of 16")
    if max(width, height) > 3 * min(width, height):
        raise ValueError("the aspect ratio must be at most 3:1")
    return value


Size = Annotated[str, StringConstraints(pattern=r"^[0-9]{3,4}x[0-9]{3,4}$"), AfterValidator(_check_size)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IconOptions(_Strict):
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
    max_cost_usd: Annotated[float | None, Field(gt=0, le=100_000)] = None  # refuse if the estimate is above

    @model_validator(mode="after")
    def _brand_colours_need_the_brand_scheme(self) -> IconOptions:
        if self.brand_colors and self.color_scheme != "brand_colors":
            raise ValueError("brand_colors go with color_scheme 'brand_colors'")
        return self


class IconRequest(IconOptions):
    """POST /api/icons/generate: one icon for a category."""

    category: Category


class BlogImageRequest(_Strict):
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
    max_cost_usd: Annotated[float | None, Field(gt=0, le=100_000)] = None  # refuse if the estimate is above


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
