"""`imagegen serve`'s banner names the provider the stack's worker really draws with."""

from __future__ import annotations

import pytest

from imagegen.cli import serve_banner
from imagegen.local.stack import LocalStack


@pytest.mark.parametrize(
    ("environ", "provider"),
    [
        ({}, "offline"),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, "offline"),  # a base URL alone draws nothing
        ({"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, "openai"),
        ({"OPENAI_AUTH_TOKEN": "sk-test"}, "openai"),  # the original script's name for the key
        ({"OPENAI_API_KEY": "sk-test", "IMAGE_PROVIDER": "offline"}, "offline"),
    ],
)
def test_the_banner_names_the_workers_provider(environ: dict[str, str], provider: str) -> None:
    # Given a stack built from this environment (not started: the banner needs only its settings)
    stack = LocalStack(port=0, environ={"PATH": "/usr/bin", **environ})
    # Then the banner names the provider the worker's processes get from it
    assert f"(provider: {provider})" in serve_banner(stack)
    assert "sk-test" not in serve_banner(stack)
