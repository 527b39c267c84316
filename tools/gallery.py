"""Render the README's gallery (docs/gallery-icons.png, docs/gallery-blog.png) with the offline provider.

The examples live here only (ICON_ROWS, BLOG_PROMPTS): the README's gallery text describes them, and
re-running this tool after a change to the subject choice or the drawing brings the pictures in step.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from imagegen.logic.categories import best_match
from imagegen.models.domain import ImageSpec
from imagegen.providers.offline import OfflineProvider
from imagegen.providers.offline_styles import STYLES
from imagegen.providers.registry import DEFAULT_MODEL

DOCS = Path(__file__).resolve().parents[1] / "docs"
# (category, colour scheme, custom elements): one row each, in the seven styles. Issue 14's examples.
ICON_ROWS: list[tuple[str, str, tuple[str, ...]]] = [
    ("office supplies", "brand_colors", ("pen", "paper")),
    ("craft beer", "warm_tones", ()),
    ("pet food", "pastel", ()),
    ("dog grooming", "blue_tones", ()),
    ("kayak rentals", "colorful", ()),
    ("sushi restaurants", "dark", ()),
    ("3D printers", "monochrome", ()),
    ("yoga mats", "pastel", ()),
]
# Blog prompts, two a row: a sea, a table, an office, the sky at dawn, a city at night, no place at all.
BLOG_PROMPTS = [
    "A lighthouse over a stormy sea",
    "Fresh vegetables on a wooden table",
    "A team meeting in a modern office",
    "A rocket launching at dawn",
    "A bicycle in a city street at night",
    "Cybersecurity consulting",
]
CELL = 160
BLOG_CELL = (640, 366)


def _png(provider: OfflineProvider, spec: ImageSpec) -> Image.Image:
    return Image.open(io.BytesIO(provider.generate(spec).data))


def icon_sheet(provider: OfflineProvider) -> Image.Image:
    """One row per ICON_ROWS entry, one column per style."""
    sheet = Image.new("RGB", (CELL * len(STYLES), CELL * len(ICON_ROWS)), "white")
    for row, (category, colours, elements) in enumerate(ICON_ROWS):
        match = best_match(category)
        for column, style in enumerate(STYLES):
            spec = ImageSpec(
                kind="icon",
                model=DEFAULT_MODEL,
                # the catalogue's match, as the service's specs carry it (logic.specs)
                category_match=match.category.name if match else None,
                category_score=match.score if match else None,
                catalogue_icon=match.category.icon if match else None,
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
            icon = _png(provider, spec).resize((CELL, CELL), Image.Resampling.LANCZOS)
            sheet.paste(icon, (column * CELL, row * CELL))
    return sheet


def blog_sheet(provider: OfflineProvider) -> Image.Image:
    """BLOG_PROMPTS at 1792x1024, two a row."""
    rows = (len(BLOG_PROMPTS) + 1) // 2
    sheet = Image.new("RGB", (BLOG_CELL[0] * 2, BLOG_CELL[1] * rows), "white")
    for n, prompt in enumerate(BLOG_PROMPTS):
        spec = ImageSpec(
            kind="blog", model=DEFAULT_MODEL, prompt=prompt, width=1792, height=1024, key="k.png"
        )
        image = _png(provider, spec).resize(BLOG_CELL, Image.Resampling.LANCZOS)
        sheet.paste(image, (n % 2 * BLOG_CELL[0], n // 2 * BLOG_CELL[1]))
    return sheet


def main() -> None:
    provider = OfflineProvider()
    DOCS.mkdir(exist_ok=True)
    for sheet, name in (
        (icon_sheet(provider), "gallery-icons.png"),
        (blog_sheet(provider), "gallery-blog.png"),
    ):
        # 256 colours, dithered (quantize dithers only onto a given palette): a third of the bytes
        palette = sheet.quantize(256)
        sheet.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG).save(DOCS / name, optimize=True)


if __name__ == "__main__":
    main()
