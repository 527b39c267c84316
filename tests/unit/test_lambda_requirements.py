"""The Lambda requirements files are the ones `make lock` makes from pyproject.toml's dependencies.

Offline: the files are read, never resolved again. When one of these fails, run `make lock`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools.lambda_requirements import LAYER, WORKER, lambda_inputs, pinned, recorded_inputs

INPUTS = lambda_inputs()
FILES = [(LAYER, INPUTS.layer), (WORKER, INPUTS.worker)]


@pytest.mark.parametrize(("generated", "inputs"), FILES, ids=["layer", "worker"])
def test_each_file_was_made_from_the_dependencies_pyproject_declares_now(
    generated: Path, inputs: tuple[str, ...]
) -> None:
    assert recorded_inputs(generated) == inputs, f"{generated} is out of date: run `make lock`"


@pytest.mark.parametrize(("generated", "inputs"), FILES, ids=["layer", "worker"])
def test_each_declared_dependency_is_pinned_at_a_version_it_allows(
    generated: Path, inputs: tuple[str, ...]
) -> None:
    pins = pinned(generated)
    for text in inputs:
        requirement = Requirement(text)
        version = pins.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is missing from {generated}"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{generated} pins {requirement.name}=={version}, outside {requirement.specifier}"
        )


@pytest.mark.parametrize("generated", [LAYER, WORKER], ids=["layer", "worker"])
def test_every_pin_carries_hashes_so_pip_checks_what_it_installs(generated: Path) -> None:
    # pip's hash-checking mode refuses the whole file when one requirement lacks a hash.
    blocks = generated.read_text().split("\n")
    starts = [i for i, line in enumerate(blocks) if "==" in line and line[:1].isalnum()]
    assert starts
    for start in starts:
        assert blocks[start].endswith("\\") and "--hash=sha256:" in blocks[start + 1], blocks[start]


def test_the_worker_shares_the_layers_versions_and_the_api_functions_load_no_image_libraries() -> None:
    layer, worker = pinned(LAYER), pinned(WORKER)
    shared = set(layer) & set(worker)
    assert {name: worker[name] for name in shared} == {name: layer[name] for name in shared}
    assert not {"pillow", "openai", "resvg-py"} & set(layer)  # API functions stay small to start fast


def test_a_split_naming_an_undeclared_package_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["pydantic>=2"]\n'
        '[tool.imagegen.lambda]\nworker-only = ["pillow"]\nlocal-only = []\n'
    )
    with pytest.raises(ValueError, match="pillow"):
        lambda_inputs(pyproject)
