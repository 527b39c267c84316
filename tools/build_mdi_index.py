"""Rebuild shared/imagegen/providers/data/mdi_index.json.gz from the @mdi/svg npm package's meta.json.

The icons' SVGs come at run time from the `material-design-icons-pack` wheel (same version); only
names, aliases and tags are kept here. Run: .venv/bin/python tools/build_mdi_index.py
"""

from __future__ import annotations

import gzip
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

VERSION = "7.4.47"  # keep equal to the material-design-icons-pack version in pyproject.toml
DATA = Path(__file__).resolve().parents[1] / "shared" / "imagegen" / "providers" / "data"


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(
            ["npm", "pack", f"@mdi/svg@{VERSION}", "--silent"], cwd=work, check=True, capture_output=True
        )
        with tarfile.open(Path(work) / f"mdi-svg-{VERSION}.tgz") as archive:
            meta = json.load(archive.extractfile("package/meta.json"))  # type: ignore[arg-type]
            licence = archive.extractfile("package/LICENSE").read()  # type: ignore[union-attr]
    icons = {icon["name"]: [icon["aliases"], icon["tags"]] for icon in meta if not icon.get("deprecated")}
    index = {"package": "@mdi/svg", "version": VERSION, "license": "Apache-2.0", "icons": icons}
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / "mdi_index.json.gz").write_bytes(
        gzip.compress(json.dumps(index, separators=(",", ":"), sort_keys=True).encode(), mtime=0)
    )
    (DATA / "MDI-LICENSE").write_bytes(licence)
    print(f"{len(icons)} icons from @mdi/svg {VERSION}")


if __name__ == "__main__":
    main()
