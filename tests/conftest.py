"""Every suite: the shell that runs pytest cannot configure the service under test.

The variables that configure imagegen (Settings' names, and boto3's, Powertools' and the openai SDK's
own) are dropped from this process before any test module is imported, so that a Logger made at
import, a session's moto server, a handler loaded in-process or a test's boto3 client sees only what
the tests set. Stacks and subprocesses get `tests.helpers.clean_environ(...)`, built from nothing.
"""

from __future__ import annotations

import os

import pytest

from tests.helpers import configures_the_service


def pytest_configure(config: pytest.Config) -> None:
    for name in list(os.environ):
        if configures_the_service(name):
            del os.environ[name]
