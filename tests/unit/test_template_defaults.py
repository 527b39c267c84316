"""The template's parameters default to what the service defaults to: a value set once, in Python.

CloudFormation cannot import Python, so each parameter a variable takes as it is (`VAR: !Ref Param`)
is held here to the Settings field that reads VAR. The default model's one home is data/models.json."""

from __future__ import annotations

from typing import Any

import pytest

from imagegen.config import Settings
from imagegen.local.template import Template
from imagegen.providers.registry import DEFAULT_MODEL


def _variables_set_from_a_parameter() -> dict[str, str]:
    """VAR -> Param for every function's (and Globals') `VAR: !Ref Param`."""
    template = Template()
    scopes: list[dict[str, Any]] = [template.doc["Globals"]["Function"]]
    scopes += [res["Properties"] for res in template.of_type("AWS::Serverless::Function").values()]
    found: dict[str, str] = {}
    for scope in scopes:
        for variable, value in scope.get("Environment", {}).get("Variables", {}).items():
            if (
                isinstance(value, dict)
                and set(value) == {"Ref"}
                and value["Ref"] in template.doc["Parameters"]
            ):
                found[variable] = value["Ref"]
    return found


PARAMETERS = _variables_set_from_a_parameter()


def test_the_settings_read_by_the_template_are_found() -> None:
    # The variables held below include the facts the issue names: the model, the receive count.
    assert {"OPENAI_MODEL", "WORKER_MAX_RECEIVES", "QUOTA_IMAGES_PER_DAY", "BATCH_SIZE_DEFAULT"} <= set(
        PARAMETERS
    )


@pytest.mark.parametrize("variable", sorted(PARAMETERS))
def test_a_parameters_default_is_the_settings_default(variable: str) -> None:
    default = Template().doc["Parameters"][PARAMETERS[variable]].get("Default")
    assert str(default) == str(Settings.model_fields[variable.lower()].default)


def test_the_default_model_is_the_registrys() -> None:
    assert Template().doc["Parameters"]["OpenAIModel"]["Default"] == DEFAULT_MODEL
