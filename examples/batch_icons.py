"""The original system's second example, as it was written: a batch started, then followed.

    IMAGEGEN_URL=http://127.0.0.1:3560 IMAGEGEN_TOKEN=$(.venv/bin/imagegen token --sub you) \
        .venv/bin/python examples/batch_icons.py
"""

from __future__ import annotations

import asyncio

from imagegen_client import BatchGenerationRequest, IconColor, IconGenerationService, IconStyle, JobStatus


async def generate() -> JobStatus:
    batch_request = BatchGenerationRequest(
        categories=["electronics", "tools", "automotive"],
        style=IconStyle.FLAT,
        color_scheme=IconColor.BLUE_TONES,
        variations_per_category=2,
    )

    async with IconGenerationService() as service:
        batch_id = await service.generate_batch_icons(batch_request)
        # What the original left to its WebSocket: follow the batch until it ends.
        return await service.wait_for_batch(
            batch_id, on_progress=lambda p: print(f"{p.state}: {p.counts.completed}/{p.counts.total}")
        )


def main() -> None:
    status = asyncio.run(generate())
    print(f"batch {status.batch_id}: {status.state}")


if __name__ == "__main__":
    main()
