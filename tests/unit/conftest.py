"""Unit tests: logic with injected in-memory fakes, no network at all, and nothing from the shell."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from imagegen.config import get_settings
from imagegen.logic.services import default_services
from tests.helpers import configures_the_service


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise RuntimeError("unit tests must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def _no_shell_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A variable exported in the developer's shell (OPENAI_MODEL, CACHE_ENABLED, POWERTOOLS_*) cannot
    change a result, nor one a test module set at import: each test starts from the documented
    defaults, with no settings cached (tests/conftest.py dropped the shell's at start)."""
    for variable in list(os.environ):
        if configures_the_service(variable):
            monkeypatch.delenv(variable)
    get_settings.cache_clear()
    default_services.cache_clear()
    yield
    get_settings.cache_clear()
    default_services.cache_clear()
