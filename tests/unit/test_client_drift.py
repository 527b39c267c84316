"""The Python client's models against the service's OpenAPI document, so that the two cannot drift.

Each client model names the schema it mirrors (imagegen_client.models.OPENAPI_SCHEMAS). A model fails
the check when one of its fields is missing from the document or typed differently there, when it
requires a field the document lets the service leave out, or when the document requires a field the
model lacks (a new required answer field must reach the client too). The styles and colour schemes
of IconStyle and IconColor must be the document's enums. Unknown answer fields are still tolerated
at run time (extra="allow"): this check is what keeps the client complete.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import pytest
from pydantic import BaseModel

from imagegen.api.openapi import openapi_json
from imagegen_client.models import OPENAPI_SCHEMAS, IconColor, IconStyle

Schema = dict[str, Any]


@cache
def _document_text() -> str:
    return openapi_json()


def document() -> dict[str, Any]:
    return dict(json.loads(_document_text()))


def shape(schema: Schema, definitions: dict[str, Schema], names: dict[str, str]) -> str:
    """A field's type in one canonical spelling, from either side's JSON schema: references by their
    OpenAPI name (`names` maps the client's model names), enums by their base type, null as `?`."""
    if "$ref" in schema:
        name = schema["$ref"].rpartition("/")[2]
        target = definitions.get(name, {})
        if "enum" in target:
            return str(target.get("type", "string"))
        return "ref:" + str(names.get(name, name))
    if "anyOf" in schema:
        options = [option for option in schema["anyOf"] if option != {"type": "null"}]
        inner = "|".join(sorted(shape(option, definitions, names) for option in options))
        return inner + ("?" if len(options) < len(schema["anyOf"]) else "")
    if schema.get("type") == "array":
        return f"array[{shape(schema.get('items', {}), definitions, names)}]"
    if schema.get("type") == "string" and schema.get("format") == "date-time":
        return "datetime"
    return str(schema.get("type", "any"))


def _client_schema(model: type[BaseModel]) -> tuple[Schema, dict[str, Schema]]:
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    return schema, schema.get("$defs", {})


def _is_request(name: str) -> bool:
    return not name.endswith("Out")


def problems(doc: dict[str, Any]) -> list[str]:
    """Every disagreement between the client's models and `doc`, in words."""
    schemas: dict[str, Schema] = doc["components"]["schemas"]
    client_names = {model.__name__: name for model, name in OPENAPI_SCHEMAS.items()}
    found: list[str] = []
    for model, name in OPENAPI_SCHEMAS.items():
        where = f"{model.__name__} ({name})"
        served = schemas.get(name)
        if served is None:
            found.append(f"{where}: the document has no schema {name}")
            continue
        mine, definitions = _client_schema(model)
        served_fields, served_required = served.get("properties", {}), set(served.get("required", []))
        my_required = set(mine.get("required", []))
        for field, declared in mine.get("properties", {}).items():
            if field not in served_fields:
                found.append(f"{where}.{field}: not in the document")
                continue
            expected = shape(served_fields[field], schemas, {})
            actual = shape(declared, definitions, client_names)
            if _is_request(name):  # the client leaves None out: the service's default applies
                actual, expected = actual.rstrip("?"), expected.rstrip("?")
            if actual != expected:
                found.append(f"{where}.{field}: the client reads {actual}, the document says {expected}")
            if field in my_required and field not in served_required:
                found.append(f"{where}.{field}: required by the client, optional in the document")
        for field in sorted(served_required - set(mine.get("properties", {}))):
            found.append(f"{where}.{field}: required by the document, missing from the client")
    found.extend(_enum_problems(schemas))
    return found


def _enum_problems(schemas: dict[str, Schema]) -> list[str]:
    found = []
    for request in ("IconRequest", "BatchRequest"):
        properties = schemas.get(request, {}).get("properties", {})
        for field, enum in (("style", IconStyle), ("color_scheme", IconColor)):
            served = properties.get(field, {}).get("enum")
            if served != [member.value for member in enum]:
                found.append(
                    f"{enum.__name__}: {[m.value for m in enum]}, the document's {request}.{field}: {served}"
                )
    return found


def test_the_client_models_match_the_served_document() -> None:
    assert problems(document()) == []


def test_every_answer_the_client_parses_is_checked() -> None:
    """A model added to the client without a schema to check against would drift unseen."""
    import imagegen_client.models as models

    parsed = {
        value
        for value in vars(models).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == models.__name__
    }
    private_or_local = {models._Body, models._IconOptions, models._Answer, models.Progress}
    assert parsed - private_or_local == set(OPENAPI_SCHEMAS)


# --- the check can fail: each of these mutations of the real document is caught ------------------


def mutated(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(document())
    change(doc["components"]["schemas"])
    return doc


def _drop_percent(schemas: dict[str, Schema]) -> None:
    del schemas["JobStatusOut"]["properties"]["percent"]


def _total_as_text(schemas: dict[str, Schema]) -> None:
    schemas["CountsOut"]["properties"]["total"] = {"type": "string"}


def _new_required_stats_field(schemas: dict[str, Schema]) -> None:
    schemas["StatsOut"]["properties"]["by_week"] = {"type": "array", "items": {"type": "object"}}
    schemas["StatsOut"]["required"].append("by_week")


def _nullable_key(schemas: dict[str, Schema]) -> None:
    schemas["ItemOut"]["properties"]["key"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}


def _optional_batch_id(schemas: dict[str, Schema]) -> None:
    schemas["JobAcceptedOut"]["required"].remove("batch_id")


def _new_style(schemas: dict[str, Schema]) -> None:
    schemas["IconRequest"]["properties"]["style"]["enum"].append("watercolour")


def _renamed_request_field(schemas: dict[str, Schema]) -> None:
    properties = schemas["BlogImageRequest"]["properties"]
    properties["file_name"] = properties.pop("filename")


def _reference_elsewhere(schemas: dict[str, Schema]) -> None:
    schemas["JobResultOut"]["properties"]["items"]["items"] = {"$ref": "#/components/schemas/DerivativeOut"}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_drop_percent, "JobStatus (JobStatusOut).percent: not in the document"),
        (_total_as_text, "Counts (CountsOut).total: the client reads integer, the document says string"),
        (
            _new_required_stats_field,
            "Stats (StatsOut).by_week: required by the document, missing from the client",
        ),
        (_nullable_key, "Item (ItemOut).key: the client reads string, the document says string?"),
        (_optional_batch_id, "JobAccepted (JobAcceptedOut).batch_id: required by the client, optional"),
        (_new_style, "IconStyle: "),
        (_renamed_request_field, "BlogImageRequest (BlogImageRequest).filename: not in the document"),
        (
            _reference_elsewhere,
            "JobResult (JobResultOut).items: the client reads array[ref:ItemOut], "
            "the document says array[ref:DerivativeOut]",
        ),
    ],
)
def test_a_drifted_document_is_caught(change: Any, named: str) -> None:
    found = problems(mutated(change))
    assert any(problem.startswith(named) for problem in found), found
