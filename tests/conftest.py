"""Every suite: the shell that runs pytest cannot configure the service under test.

The variables that configure imagegen (Settings' names, and boto3's, Powertools' and the openai SDK's
own) are dropped from this process before any test module is imported, so that a Logger made at
import, a session's moto server, a handler loaded in-process or a test's boto3 client sees only what
the tests set. Stacks and subprocesses get `tests.helpers.clean_environ(...)`, built from nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import configures_the_service


def pytest_configure(config: pytest.Config) -> None:
    for name in list(os.environ):
        if configures_the_service(name):
            del os.environ[name]


def _stop_e2e_stack() -> None:
    from tests.e2e.conftest import stop_shared_stack

    stop_shared_stack()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """The e2e tests' shared stack ends before the first test of another kind: its threads would run
    beside them (and hit the unit tests' network guard). pytest-xdist may not tell the last e2e
    test of a file which test comes next, so this is decided at the next test's setup."""
    if "e2e" not in item.path.relative_to(Path(__file__).parent).parts:
        _stop_e2e_stack()


def pytest_sessionfinish(session: pytest.Session) -> None:
    _stop_e2e_stack()
