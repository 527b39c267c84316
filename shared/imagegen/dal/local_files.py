"""Files on the local disk, for the blog CLI: written once, never clobbered by accident."""

from __future__ import annotations

import json
from pathlib import Path


def write_new(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write `data` to `path`, creating folders; FileExistsError unless overwrite is asked for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb" if overwrite else "xb") as handle:
        handle.write(data)


def read_json(path: Path) -> object:
    """The JSON document in `path`, or None when it is missing, unreadable or not JSON."""
    try:
        document: object = json.loads(path.read_bytes())
        return document
    except (OSError, ValueError):
        return None


def append_lines(path: Path, lines: list[str]) -> None:
    """Append `lines` to `path` in one write (O_APPEND: lines of two writers never interleave)."""
    if lines:
        with path.open("a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
