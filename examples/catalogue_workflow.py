"""A catalogue's icons: every category in every style (one batch per style), followed live with a
progress line, then downloaded under OUT_DIR/icons/{category}/.

    IMAGEGEN_URL=http://127.0.0.1:3560 IMAGEGEN_TOKEN=$(.venv/bin/imagegen token --sub you) \
        .venv/bin/python examples/catalogue_workflow.py [OUT_DIR]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from imagegen_client import AsyncClient, BatchGenerationRequest, IconColor, IconStyle, Progress, SavedImage

CATEGORIES = ["camping", "kitchen", "garden"]
STYLES = [IconStyle.FLAT, IconStyle.MINIMAL]


async def style_batch(client: AsyncClient, style: IconStyle, out_dir: Path) -> list[SavedImage]:
    job = await client.create_batch(
        BatchGenerationRequest(categories=CATEGORIES, style=style, color_scheme=IconColor.WARM_TONES)
    )

    def show(progress: Progress) -> None:
        done, total = progress.counts.completed, progress.counts.total
        print(f"{style.value:>8}: {progress.percent:5.1f}% ({done}/{total})")

    status = await client.wait(job.batch_id, on_progress=show)
    if status.state != "completed":
        print(f"{style.value}: batch ended {status.state}", file=sys.stderr)
    return await client.download(job.batch_id, out_dir)


async def build_catalogue(out_dir: Path) -> list[SavedImage]:
    async with AsyncClient() as client:
        batches = await asyncio.gather(*(style_batch(client, style, out_dir) for style in STYLES))
    return [image for batch in batches for image in batch]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0] if args else "catalogue")
    for image in asyncio.run(build_catalogue(out_dir)):
        print(image.image_path)


if __name__ == "__main__":
    main()
