"""Validation errors in the caller's words: "post_id may only hold letters, digits, _ and -".

pydantic's messages speak of inputs and patterns ("String should match pattern '^[A-Za-z0-9_-]+$'")
and never name the field. The error *types* are pydantic's stable interface, so the sentences below
are keyed by type and filled from each error's ctx (the field's own limits); the fields that need
more words carry them themselves (imagegen.models.requests: `_meaning`, `did_you_mean`). Anything not
listed here falls back to pydantic's message, prefixed with the field. Input values are never echoed:
only field names (bounded) and the limits the service itself set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

MAX_MESSAGE_CHARS = 1000
MAX_PROBLEMS = 10
MAX_NAME_CHARS = 40
JSON_ONLY = "send the body as JSON with Content-Type: application/json"
NOT_UTF8 = "the body is not UTF-8 text: send JSON encoded as UTF-8"
INTERNAL_ERROR = "something went wrong on our side; it was logged with request id {}"
# Where Powertools found a value: not part of the field's name.
_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


def _plural(count: Any, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _one_of(ctx: Mapping[str, Any]) -> str:
    return f"must be one of {ctx.get('expected', 'the allowed values')}"


def _not_json(ctx: Mapping[str, Any]) -> str:
    where = f": {ctx['position']}" if ctx.get("position") else ""
    reason = f" ({ctx['error']})" if ctx.get("error") else ""
    return f"body is not valid JSON{where}{reason}"


# type -> the sentence after the field's name. Hand-written because pydantic has no message catalogue
# to swap in (its messages are fixed English templates); each entry reads only ctx the type documents.
_SAID: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda _: "is required",
    "null_not_allowed": lambda _: "must not be null: leave it out for its default",
    "string_pattern_mismatch": lambda ctx: ctx.get("meaning") or "does not have the expected form",
    "string_too_long": lambda ctx: f"may be at most {_plural(ctx.get('max_length'), 'character')} long",
    "string_too_short": lambda ctx: (
        "must not be empty"
        if ctx.get("min_length") == 1
        else f"must be at least {_plural(ctx.get('min_length'), 'character')} long"
    ),
    "too_long": lambda ctx: f"may hold at most {_plural(ctx.get('max_length'), 'item')}",
    "too_short": lambda ctx: f"must hold at least {_plural(ctx.get('min_length'), 'item')}",
    "literal_error": _one_of,
    "enum": _one_of,
    "int_parsing": lambda _: "must be a whole number",
    "int_type": lambda _: "must be a whole number",
    "int_from_float": lambda _: "must be a whole number",
    "float_parsing": lambda _: "must be a number",
    "float_type": lambda _: "must be a number",
    "bool_parsing": lambda _: "must be true or false",
    "bool_type": lambda _: "must be true or false",
    "string_type": lambda _: "must be a string",
    "list_type": lambda _: "must be a list",
    "dict_type": lambda _: "must be a JSON object",
    "model_type": lambda _: "must be a JSON object",
    "model_attributes_type": lambda _: "must be a JSON object",
    "greater_than": lambda ctx: f"must be greater than {ctx.get('gt')}",
    "greater_than_equal": lambda ctx: f"must be at least {ctx.get('ge')}",
    "less_than": lambda ctx: f"must be less than {ctx.get('lt')}",
    "less_than_equal": lambda ctx: f"must be at most {ctx.get('le')}",
}


def _name(loc: Iterable[Any]) -> str:
    """`categories[2]` for ("body", "categories", 2); "" for the body itself."""
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += ("." if name else "") + str(part)[:MAX_NAME_CHARS]
    return name


def _position(document: str | None, loc: Iterable[Any]) -> str:
    """'line 1 column 12' for the character offset Powertools puts at the end of a json_invalid loc."""
    offset = next((part for part in reversed(list(loc)) if isinstance(part, int)), None)
    if document is None or offset is None:
        return ""
    line = document.count("\n", 0, offset) + 1
    column = offset - (document.rfind("\n", 0, offset) + 1) + 1
    return f"line {line} column {column}"


def describe(error: Mapping[str, Any], document: str | None = None) -> str:
    """One pydantic (or Powertools) error dict as a sentence that names the field."""
    kind = str(error.get("type", ""))
    loc = tuple(error.get("loc") or ())
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "json_invalid":
        return _not_json({"error": ctx.get("error"), "position": _position(document, loc)})
    if kind in ("unsupported_content_type", "form_invalid", "multipart_invalid"):
        return JSON_ONLY
    if kind == "json_too_deep":
        return "the body nests JSON too deeply: a request is one object of strings, numbers and lists"
    name = _name(loc)
    if kind == "extra_forbidden":
        hint = ctx.get("did_you_mean")
        return f"unknown field '{name}'" + (f" (did you mean '{hint}'?)" if hint else "")
    if kind in ("value_error", "assertion_error"):
        # Our own validators' sentences (ValueError("each side must be ...")): pydantic adds a prefix.
        said = str(ctx.get("error") or error.get("msg", "invalid"))
        return f"{name}: {said}" if name else said
    if not name:
        if kind in ("missing", "model_type", "model_attributes_type", "dict_type"):
            return "the body must be a JSON object"
        return str(error.get("msg", "invalid request"))
    sentence = _SAID.get(kind)
    return f"{name} {sentence(ctx)}" if sentence else f"{name}: {error.get('msg', 'invalid')}"


def readable(errors: Iterable[Mapping[str, Any]], document: str | None = None) -> str:
    """Every problem (at most ten, each once) in one bounded message."""
    problems: list[str] = []
    for error in errors:
        problem = describe(error, document)
        if problem not in problems:
            problems.append(problem)
        if len(problems) == MAX_PROBLEMS:
            break
    message = "; ".join(problems) or "invalid request"
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"
