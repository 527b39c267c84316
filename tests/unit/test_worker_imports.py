"""The worker's cold start loads no catalogue: category matching (and rapidfuzz) is the API's work.

Each function is imported fresh in its own interpreter, as Lambda does, with nothing from the shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imagegen.local.template import Template

CATALOGUE = ("rapidfuzz", "imagegen.logic.categories")
# Runs in the child: import the function's app.py as a top-level module, as Lambda does, and say
# which of the catalogue's modules that import loaded.
PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1] + "/app.py")
module = importlib.util.module_from_spec(spec)
sys.modules["app"] = module
spec.loader.exec_module(module)
assert callable(module.lambda_handler)
print(json.dumps(sorted(name for name in sys.argv[2:] if name in sys.modules)))
"""


def _catalogue_loaded_by(function: str) -> list[str]:
    code_dir = Template().code_dir(function)
    shared = Path(__file__).resolve().parents[2] / "shared"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(shared), "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(code_dir), *CATALOGUE],
        env=env,
        cwd=code_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_the_worker_imports_neither_the_catalogue_nor_rapidfuzz() -> None:
    assert _catalogue_loaded_by("WorkerFunction") == []


@pytest.mark.parametrize("function", ["GenerateFunction", "StatusFunction"])
def test_the_functions_that_match_categories_still_load_the_catalogue(function: str) -> None:
    # The same probe sees the catalogue where it is used: its empty answer for the worker means something.
    assert _catalogue_loaded_by(function) == sorted(CATALOGUE)
