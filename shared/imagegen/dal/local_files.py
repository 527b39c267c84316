"""Files on the local disk, for the blog CLI: written once, never clobbered by accident."""

from __future__ import annotations

from pathlib import Path


def write_new(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write `data` to `path`, creating folders; FileExistsError unless overwrite is asked for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb" if overwrite else "xb") as handle:
        handle.write(data)
