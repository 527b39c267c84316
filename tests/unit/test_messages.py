"""Validation errors read in the caller's words, one sentence per pydantic error type we meet."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from imagegen.models.messages import JSON_ONLY, MAX_MESSAGE_CHARS, describe, readable
from imagegen.models.requests import BatchRequest, BlogImageRequest, IconRequest

STYLES = "'minimal', 'detailed', 'flat', 'modern', 'vintage', 'abstract' or 'realistic'"
BLOG = {"prompt": "a lighthouse", "post_id": "53", "section_id": "2"}


def said(model: Any, data: Any) -> str:
    """The readable message for what validating `data` against `model` refuses."""
    adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(data)
    return readable(caught.value.errors())


class Numbers(BaseModel):
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    above: Annotated[int, Field(gt=0)] = 1
    below: Annotated[int, Field(lt=10)] = 1
    most: Annotated[int, Field(le=10)] = 1
    name: Annotated[str, Field(min_length=3, pattern=r"^[a-z]+$")] = "abc"


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        # missing
        (IconRequest, {}, "category is required"),
        (BlogImageRequest, {"prompt": "p"}, "post_id is required; section_id is required"),
        # extra_forbidden, with the field most alike when there is one
        (
            IconRequest,
            {"category": "c", "colour": "x"},
            "unknown field 'colour' (did you mean 'color_scheme'?)",
        ),
        (
            IconRequest,
            {"category": "c", "categroy": "x"},
            "unknown field 'categroy' (did you mean 'category'?)",
        ),
        (
            BatchRequest,
            {"categories": ["c"], "variations": 2},
            ("unknown field 'variations' (did you mean 'variations_per_category'?)"),
        ),
        (IconRequest, {"category": "c", "admin": True}, "unknown field 'admin'"),
        # string_pattern_mismatch: the field says what its pattern allows
        (BlogImageRequest, {**BLOG, "post_id": "../etc"}, "post_id may only hold letters, digits, _ and -"),
        (
            IconRequest,
            {"category": "-x"},
            (
                "category must start with a letter or digit and hold only letters, digits, spaces and"
                " & ' . , / + ( ) -"
            ),
        ),
        (
            IconRequest,
            {"category": "c", "size": "big"},
            "size must be WIDTHxHEIGHT in pixels, such as 1024x1024",
        ),
        (
            IconRequest,
            {"category": "c", "model": "GPT"},
            ("model must be a model name such as gpt-image-1: lower-case letters, digits, . and -"),
        ),
        (
            IconRequest,
            {"category": "c", "color_scheme": "brand_colors", "brand_colors": ["red"]},
            ("brand_colors[0] must be a colour written like #1a2b3c"),
        ),
        (Numbers, {"name": "ABC"}, "name does not have the expected form"),
        # string_too_long / string_too_short
        (BlogImageRequest, {**BLOG, "filename": "x" * 65}, "filename may be at most 64 characters long"),
        (BlogImageRequest, {**BLOG, "prompt": "p" * 4001}, "prompt may be at most 4000 characters long"),
        (BlogImageRequest, {**BLOG, "section_id": ""}, "section_id must not be empty"),
        (Numbers, {"name": "ab"}, "name must be at least 3 characters long"),
        # too_long / too_short (lists)
        (
            IconRequest,
            {"category": "c", "custom_elements": ["x"] * 11},
            "custom_elements may hold at most 10 items",
        ),
        (BatchRequest, {"categories": []}, "categories must hold at least 1 item"),
        # literal_error and enum (styles, schemes and templates are data, checked as an enum)
        (
            IconRequest,
            {"category": "c", "quality": "ultra"},
            "quality must be one of 'low', 'medium', 'high', 'auto', 'standard' or 'hd'",
        ),
        (
            IconRequest,
            {"category": "c", "derivatives": [100]},
            ("derivatives[0] must be one of 512, 256, 128, 64 or 32"),
        ),
        (
            IconRequest,
            {"category": "c", "style": "baroque"},
            "style must be one of " + STYLES,
        ),
        # types
        (
            BatchRequest,
            {"categories": ["c"], "variations_per_category": "two"},
            ("variations_per_category must be a whole number"),
        ),
        (
            BatchRequest,
            {"categories": ["c"], "variations_per_category": 1.5},
            ("variations_per_category must be a whole number"),
        ),
        (Numbers, {"ratio": "much"}, "ratio must be a number"),
        (IconRequest, {"category": "c", "use_cache": "perhaps"}, "use_cache must be true or false"),
        (IconRequest, {"category": 7}, "category must be a string"),
        (BatchRequest, {"categories": "tools"}, "categories must be a list"),
        (IconRequest, [], "the body must be a JSON object"),
        # bounds
        (Numbers, {"above": 0}, "above must be greater than 0"),
        (Numbers, {"below": 10}, "below must be less than 10"),
        (Numbers, {"most": 11}, "most must be at most 10"),
        (
            BatchRequest,
            {"categories": ["c"], "variations_per_category": 0},
            "variations_per_category must be at least 1",
        ),
        # value_error: our own validators' sentences, on a field and on the whole body
        (BlogImageRequest, {**BLOG, "size": "1792x1000"}, "size: each side must be a multiple of 16"),
        (
            BatchRequest,
            {"categories": ["c"] * 60, "variations_per_category": 10},
            ("a batch holds at most 500 items; this one asks for 600"),
        ),
        (
            IconRequest,
            {"category": "c", "brand_colors": ["#ffffff"]},
            ("brand_colors go with color_scheme 'brand_colors'"),
        ),
    ],
)
def test_each_error_type_reads_as_a_sentence_about_the_field(model: Any, data: Any, message: str) -> None:
    # Given a request the models refuse, When its errors are made readable, Then the sentence names
    # the field and what it takes, with nothing of pydantic's wording left.
    assert said(model, data) == message


def test_several_problems_are_all_named_in_one_message() -> None:
    message = said(IconRequest, {"style": "baroque", "colour": "blue"})
    assert message.split("; ") == [
        "style must be one of " + STYLES,
        "category is required",
        "unknown field 'colour' (did you mean 'color_scheme'?)",
    ]


def test_json_decode_errors_give_line_and_column_from_the_powertools_offset() -> None:
    # Powertools reports json.JSONDecodeError as loc ("body", offset) and ctx {"error": msg}.
    document = '{\n  "category": "tools",\n  style: "flat"\n}'
    offset = document.index("style")
    error = {
        "type": "json_invalid",
        "loc": ("body", offset),
        "msg": "JSON decode error",
        "ctx": {"error": "Expecting property name enclosed in double quotes"},
    }
    assert describe(error, document) == (
        "body is not valid JSON: line 3 column 3 (Expecting property name enclosed in double quotes)"
    )


def test_pydantics_own_json_errors_read_alike() -> None:
    with pytest.raises(ValidationError) as caught:
        IconRequest.model_validate_json('{"category": ')
    assert readable(caught.value.errors()).startswith("body is not valid JSON (")


def test_a_body_in_another_format_is_asked_for_as_json() -> None:
    error = {
        "type": "unsupported_content_type",
        "loc": ("body",),
        "msg": "Unsupported content type: text/xml",
    }
    assert describe(error) == JSON_ONLY == "send the body as JSON with Content-Type: application/json"


def test_query_parameters_are_named_without_their_source() -> None:
    error = {"type": "greater_than_equal", "loc": ("query", "limit"), "msg": "x", "ctx": {"ge": 1}}
    assert describe(error) == "limit must be at least 1"


def test_unknown_types_fall_back_to_pydantics_words_with_the_field() -> None:
    error = {"type": "url_parsing", "loc": ("body", "link"), "msg": "Input should be a valid URL"}
    assert describe(error) == "link: Input should be a valid URL"


def test_values_sent_are_never_echoed_and_the_message_is_bounded() -> None:
    # Given a secret-looking value and a huge unknown field name
    secret = "sk-live-0123456789abcdef"
    body = {**BLOG, "post_id": secret + "/..", "x" * 5000: 1, **{f"field{n}": n for n in range(40)}}
    message = said(BlogImageRequest, body)
    # Then neither the value nor the whole name comes back, and the message stays short
    assert secret not in message
    assert "x" * 41 not in message and "unknown field '" + "x" * 40 + "'" in message
    assert len(message) <= MAX_MESSAGE_CHARS and message.count(";") == 9  # ten problems at most
