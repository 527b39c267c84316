"""Unit tests: logic with injected in-memory fakes, no network at all, and nothing from the shell."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import AliasChoices, AliasPath

from imagegen.config import Settings, get_settings
from imagegen.logic.services import default_services


def _settings_variables() -> frozenset[str]:
    """The environment variables Settings reads, from its fields: a new setting is covered unlisted."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias] if alias else []
        for choice in choices:
            path = choice.path if isinstance(choice, AliasPath) else [choice]
            if isinstance(path[0], str):
                names.add(path[0])
        if not choices:  # pydantic-settings adds the prefix only to names it derives itself
            names.add(f"{prefix}{field.alias or field_name}")
    return frozenset(name.upper() for name in names)  # Settings matches names case-insensitively


SETTINGS_VARIABLES = _settings_variables()


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise RuntimeError("unit tests must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def _no_shell_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A variable exported in the developer's shell (OPENAI_MODEL, CACHE_ENABLED, POWERTOOLS_*) cannot
    change a result: each test starts from the documented defaults, with no settings cached."""
    for variable in list(os.environ):
        if variable.upper() in SETTINGS_VARIABLES or variable.upper().startswith("POWERTOOLS_"):
            monkeypatch.delenv(variable)
    get_settings.cache_clear()
    default_services.cache_clear()
    yield
    get_settings.cache_clear()
    default_services.cache_clear()
