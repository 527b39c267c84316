"""Generate the Lambda requirements files from pyproject.toml: `make lock` runs this.

`sam build` installs shared/requirements.txt into the layer every function uses, and
functions/worker/requirements.txt into the worker alone. Both are resolved here with uv for the
Lambda runtime (Python 3.12, x86_64, Amazon Linux 2023's glibc 2.34), pinned with hashes, so a build
installs what was tested. Which dependency goes where is set in pyproject.toml under
[tool.imagegen.lambda]; the header of each file records the requirements it was made from, and
tests/unit/test_lambda_requirements.py fails, offline, when pyproject.toml has moved on since.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LAYER = ROOT / "shared" / "requirements.txt"
WORKER = ROOT / "functions" / "worker" / "requirements.txt"
PYTHON_VERSION = "3.12"  # the functions' Runtime in infra/template.yaml
PLATFORM = "x86_64-manylinux_2_34"  # Architectures: [x86_64] on Amazon Linux 2023 (glibc 2.34)
INPUTS_PREFIX = "# from pyproject.toml: "


@dataclass(frozen=True)
class LambdaInputs:
    """pyproject.toml's runtime dependencies, split as the SAM build installs them."""

    layer: tuple[str, ...]
    worker: tuple[str, ...]


def lambda_inputs(pyproject: Path = PYPROJECT) -> LambdaInputs:
    """The requirements each file is resolved from; every runtime dependency lands in exactly one place."""
    doc = tomllib.loads(pyproject.read_text())
    dependencies = [Requirement(text) for text in doc["project"]["dependencies"]]
    split = doc["tool"]["imagegen"]["lambda"]
    worker_only = {canonicalize_name(name) for name in split["worker-only"]}
    local_only = {canonicalize_name(name) for name in split["local-only"]}
    declared = {canonicalize_name(requirement.name) for requirement in dependencies}
    unknown = (worker_only | local_only) - declared
    if unknown:
        raise ValueError(f"[tool.imagegen.lambda] names {sorted(unknown)}, not in [project] dependencies")
    layer = tuple(str(r) for r in dependencies if canonicalize_name(r.name) not in worker_only | local_only)
    worker = tuple(str(r) for r in dependencies if canonicalize_name(r.name) in worker_only)
    return LambdaInputs(layer=layer, worker=worker)


def recorded_inputs(generated: Path) -> tuple[str, ...]:
    """The requirements a generated file says it was resolved from (its header)."""
    for line in generated.read_text().splitlines():
        if line.startswith(INPUTS_PREFIX):
            return tuple(line.removeprefix(INPUTS_PREFIX).split("; "))
    return ()


def pinned(generated: Path) -> dict[str, str]:
    """Package name -> the version a generated file pins."""
    pins: dict[str, str] = {}
    for line in generated.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#") and "==" in line:
            name, _, rest = line.partition("==")
            pins[canonicalize_name(name)] = rest.split()[0].rstrip("\\").strip()
    return pins


def _compile(
    requirements: tuple[str, ...], output: Path, why: str, constraints: Path | None, uv_options: list[str]
) -> None:
    command = [
        str(Path(sys.executable).with_name("uv")),
        "pip",
        "compile",
        "-",  # the requirements come on stdin: the file's annotations then name no temporary file
        "--quiet",
        "--generate-hashes",
        "--python-version",
        PYTHON_VERSION,
        "--python-platform",
        PLATFORM,
        "--custom-compile-command",
        "make lock",
        "--output-file",
        str(output),
        *uv_options,  # e.g. --upgrade; without it the pins already in the file are kept where they fit
    ]
    if constraints is not None:
        command += ["--constraint", str(constraints.relative_to(ROOT))]
    subprocess.run(command, input="\n".join(requirements) + "\n", text=True, check=True, cwd=ROOT)
    header = f"# {why}\n{INPUTS_PREFIX}{'; '.join(requirements)}\n"
    output.write_text(header + output.read_text())


def main(uv_options: list[str]) -> None:
    inputs = lambda_inputs()
    layer_note = "The layer's packages, for every function (sam build)."
    _compile(inputs.layer, LAYER, layer_note, None, uv_options)
    # Pinned to the layer's versions: the worker's copies of shared packages (pydantic, ...) are the same.
    worker_note = "The worker's own packages: only it draws and checks images."
    _compile(inputs.worker, WORKER, worker_note, LAYER, uv_options)


if __name__ == "__main__":
    main(sys.argv[1:])
