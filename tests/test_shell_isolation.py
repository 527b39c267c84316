"""A hostile shell cannot change a test's result: tests build their environment from explicit values.

One representative test of each kind (unit, integration on moto with in-process handlers, e2e on the
the CLI in a subprocess) runs in a child pytest whose shell exports settings that would break each
of them if they leaked in: about 12 s, most of it moto's start. The local stack of the e2e tests is
checked without starting it: what its functions would see.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from imagegen.config import settings_from
from tests.e2e.conftest import stack_for
from tests.helpers import clean_environ, configures_the_service

ROOT = Path(__file__).resolve().parents[1]
# Each would change a result: an unknown or retired model, a real provider with a bogus key and an
# unreachable URL, no cache, a quota of one image, one worker, a secret, issuer and audience that no
# test token matches, AWS pointed at a closed port through a profile that does not exist, and
# Powertools' idempotency (which the Idempotency-Key tests rely on) switched off.
HOSTILE = {
    "OPENAI_MODEL": "gpt-image-1.5",
    "OPENAI_API_KEY": "sk-bogus",
    "OPENAI_BASE_URL": "http://127.0.0.1:9",
    "IMAGE_PROVIDER": "openai",
    "CACHE_ENABLED": "false",
    "CACHE_SCOPE": "shared",
    "QUOTA_IMAGES_PER_DAY": "1",
    "BATCH_MAX_CONCURRENT": "1",
    "BATCH_SIZE_DEFAULT": "1",
    "WORKER_MAX_RECEIVES": "1",
    "IMAGES_BUCKET": "imagegen-not-this-bucket",
    "JWT_SECRET": "x",
    "JWT_ISSUER": "evil",
    "JWT_AUDIENCE": "evil",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_PROFILE": "nope",
    "POWERTOOLS_SERVICE_NAME": "evil",
    "POWERTOOLS_LOG_LEVEL": "DEBUG",
    "POWERTOOLS_IDEMPOTENCY_DISABLED": "true",
}
REPRESENTATIVES = [
    "tests/unit/test_settings_isolation.py",
    "tests/integration/test_jobs_routes.py::test_another_user_gets_404_on_every_neutral_route",
    "tests/integration/test_limits_and_cache.py::test_an_idempotency_key_gives_the_same_answer_and_one_job",
    "tests/e2e/test_blog_cli.py::test_generate_writes_the_original_layout_and_metadata",
]


def test_the_hostile_shell_is_hostile() -> None:
    # Read as the service would read it, it changes the settings the tests rely on...
    hostile = settings_from(HOSTILE)
    defaults = settings_from({})
    changed = {
        "cache_enabled",
        "quota_images_per_day",
        "image_provider",
        "jwt_issuer",
        "batch_max_concurrent",
    }
    assert all(getattr(hostile, name) != getattr(defaults, name) for name in changed)
    # ...and every variable in it is one the suites drop from their own process
    assert all(configures_the_service(name) for name in HOSTILE)


def test_representative_tests_pass_under_a_hostile_shell() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", *REPRESENTATIVES],
        cwd=ROOT,
        env=clean_environ(HOSTILE),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-2000:]
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "skipped" not in summary and "passed" in summary, summary


def test_the_e2e_stacks_functions_see_the_template_and_the_test_not_the_shell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a shell that exports every hostile value (as if tests/conftest.py had not dropped them)
    for name, value in HOSTILE.items():
        monkeypatch.setenv(name, value)
    assert os.environ["CACHE_ENABLED"] == "false"
    # When the e2e suites build their stack, with one setting of the test's own
    stack = stack_for(PRESIGN_TTL_SECONDS="60")
    # Then no function gets a value from the shell, the test's own setting arrives, and the worker
    # draws offline as the e2e tests expect
    functions = stack.template.of_type("AWS::Serverless::Function")
    assert functions
    for function in functions:
        env = stack.function_env(function)
        assert {name: value for name, value in env.items() if HOSTILE.get(name) == value} == {}, function
        assert env["PRESIGN_TTL_SECONDS"] == "60"
    assert stack.provider == "offline"
    assert stack.jwt_secret != HOSTILE["JWT_SECRET"]
