"""Unit tests never read the developer's shell: a variable exported there cannot change a result."""

from __future__ import annotations

import pytest

from imagegen.config import Settings, get_settings, settings_from


def test_the_process_settings_are_the_documented_defaults_whatever_the_shell_exports() -> None:
    # Run with e.g. OPENAI_MODEL=gpt-image-1.5 CACHE_ENABLED=false exported: still the defaults.
    assert Settings().model_dump() == settings_from({}).model_dump()
    assert get_settings().model_dump() == settings_from({}).model_dump()


def test_a_test_that_sets_a_variable_sees_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHE_ENABLED", "false")
    assert get_settings().cache_enabled is False
