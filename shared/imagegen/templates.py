"""The prompt templates (data/prompt_templates.json): styles, colour schemes, compositions, blog templates.

One versioned data file read by request validation, the prompt builder and the offline renderer,
so adding a style or colour scheme there is enough.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from pydantic_core import PydanticCustomError


@cache
def templates() -> dict[str, Any]:
    return dict(json.loads(resources.files("imagegen").joinpath("data/prompt_templates.json").read_text()))


def version() -> str:
    return str(templates()["version"])


def styles() -> tuple[str, ...]:
    return tuple(templates()["styles"])


def color_schemes() -> tuple[str, ...]:
    return tuple(templates()["color_schemes"])


def blog_templates() -> tuple[str, ...]:
    return tuple(templates()["blog"])


def palette(color_scheme: str) -> tuple[tuple[int, int, int], ...]:
    """Background top, background bottom, main and accent colours of a scheme."""
    return tuple(tuple(colour) for colour in templates()["color_schemes"][color_scheme]["palette"])  # type: ignore[misc]


def one_of(allowed: tuple[str, ...]) -> Any:
    """A pydantic validator: the value must be one of `allowed`; the error is pydantic's own `enum`
    error (as for an Enum field), listing them the way pydantic does."""
    quoted = [f"'{name}'" for name in allowed]
    expected = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else "".join(quoted)

    def check(value: str) -> str:
        if value not in allowed:
            raise PydanticCustomError("enum", "Input should be {expected}", {"expected": expected})
        return value

    return check
