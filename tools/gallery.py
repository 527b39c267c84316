"""Render the README's gallery (docs/gallery-icons.png, docs/gallery-blog.png) with the offline provider."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from imagegen.models.domain import ImageSpec
from imagegen.providers.offline import OfflineProvider
from imagegen.providers.registry import DEFAULT_MODEL

DOCS = Path(__file__).resolve().parents[1] / "docs"
STYLES = ["minimal", "flat", "modern", "detailed", "vintage", "abstract", "realistic"]
ROWS = [
    ("office supplies", "brand_colors", ("pen", "paper")),
    ("electronics", "blue_tones", ()),
    ("pet food", "warm_tones", ()),
    ("gardening", "pastel", ()),
]
CELL = 160


def main() -> None:
    provider = OfflineProvider()
    DOCS.mkdir(exist_ok=True)
    sheet = Image.new("RGB", (CELL * len(STYLES), CELL * len(ROWS)), "white")
    for row, (category, colours, elements) in enumerate(ROWS):
        for column, style in enumerate(STYLES):
            spec = ImageSpec(
                kind="icon",
                model=DEFAULT_MODEL,
                prompt=category,
                width=512,
                height=512,
                key="k.png",
                category=category,
                style=style,
                color_scheme=colours,
                custom_elements=elements,
                variation=1,
            )
            icon = Image.open(io.BytesIO(provider.generate(spec).data)).resize(
                (CELL, CELL), Image.Resampling.LANCZOS
            )
            sheet.paste(icon, (column * CELL, row * CELL))
    sheet.save(DOCS / "gallery-icons.png", optimize=True)
    spec = ImageSpec(
        kind="blog",
        model=DEFAULT_MODEL,
        prompt="A lighthouse over a stormy sea",
        width=1792,
        height=1024,
        key="k.png",
    )
    blog = Image.open(io.BytesIO(provider.generate(spec).data)).resize((896, 512), Image.Resampling.LANCZOS)
    blog.save(DOCS / "gallery-blog.png", optimize=True)


if __name__ == "__main__":
    main()
