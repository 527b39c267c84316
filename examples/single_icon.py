"""The original system's first example, as it was written: one icon, awaited.

    IMAGEGEN_URL=http://127.0.0.1:3560 IMAGEGEN_TOKEN=$(.venv/bin/imagegen token --sub you) \
        .venv/bin/python examples/single_icon.py
"""

from __future__ import annotations

import asyncio

from imagegen_client import IconColor, IconGenerationService, IconStyle, JobResult


async def generate() -> JobResult:
    async with IconGenerationService() as service:
        result = await service.generate_single_icon(
            category="office_supplies",
            style=IconStyle.MODERN,
            color_scheme=IconColor.BRAND_COLORS,
            custom_elements=["pen", "paper", "calculator"],
        )
    return result


def main() -> None:
    result = asyncio.run(generate())
    for item in result.items:
        print(f"{result.state}: {item.image_url}")


if __name__ == "__main__":
    main()
