"""How the offline renderer draws one glyph in each style: the drawing itself, not its frame.

Each treatment turns a glyph's coverage mask into a picture of the same square: thin contour lines
(minimal), a bold two-tone silhouette (flat), a gradient fill over a soft shadow (modern), a hatched
fill with inner and outer contours (detailed), engraved lines with worn ink (vintage), a mosaic of
geometric shapes (abstract), light-and-shade relief with a highlight and a cast shadow (realistic).
Everything works on the glyph's own square, never the whole canvas, so a style costs little time.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from imagegen.providers import icon_set

RGB = tuple[int, int, int]
STYLES = ("minimal", "flat", "modern", "detailed", "vintage", "abstract", "realistic")
DEFAULT_STYLE = "modern"


@dataclass(frozen=True)
class Ink:
    """The glyph's colours: its own, a second one for detail, and the surface it is drawn on."""

    main: RGB
    accent: RGB
    paper: RGB


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return (int(a[0] + (b[0] - a[0]) * t), int(a[1] + (b[1] - a[1]) * t), int(a[2] + (b[2] - a[2]) * t))


def mask(name: str, side: int) -> Image.Image:
    """The glyph's coverage (L, 0-255) in a square of `side` pixels."""
    return icon_set.glyph(name, side, (0, 0, 0)).getchannel("A")


def _band(coverage: Image.Image, radius: float, low: int, high: int) -> Image.Image:
    """A line along the glyph's edges: where the blurred coverage lies between low and high.
    Blur-and-threshold costs the same at any width, unlike rank filters."""
    blurred = coverage.filter(ImageFilter.GaussianBlur(radius))
    return blurred.point(lambda v: 255 if low <= v <= high else 0)


def _grow(coverage: Image.Image, radius: float) -> Image.Image:
    """The glyph made bolder by about `radius` pixels, its edge kept crisp."""
    return coverage.filter(ImageFilter.GaussianBlur(radius)).point(lambda v: max(0, min(255, (v - 24) * 8)))


def _shifted(coverage: Image.Image, dx: int, dy: int) -> Image.Image:
    """The coverage moved by (dx, dy) without wrapping round (ImageChops.offset wraps)."""
    moved = Image.new("L", coverage.size, 0)
    moved.paste(coverage, (dx, dy))
    return moved


def _solid(side: int, colour: RGB, alpha: Image.Image) -> Image.Image:
    tile = Image.new("RGBA", (side, side), (*colour, 255))
    tile.putalpha(alpha)
    return tile


def _lines(side: int, spacing: int, width: int, angle: str) -> Image.Image:
    """Parallel lines over the square: "h" horizontal, "d" diagonal, "x" both diagonals."""
    lines = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(lines)
    for offset in range(-side, 2 * side, spacing):
        if angle == "h":
            draw.line([(0, offset), (side, offset)], fill=255, width=width)
        if angle in ("d", "x"):
            draw.line([(offset, 0), (offset + side, side)], fill=255, width=width)
        if angle == "x":
            draw.line([(offset, side), (offset + side, 0)], fill=255, width=width)
    return lines


def _minimal(coverage: Image.Image, ink: Ink, seed: int) -> Image.Image:
    """Line art: a thin contour of every edge, no fill. (MDI's own -outline variants draw 2/24 strokes,
    too heavy for line art, and a contour of them would double every line.)"""
    side = coverage.size[0]
    return _solid(side, ink.main, _band(coverage, max(1.0, side / 90), 50, 205))


def _flat(coverage: Image.Image, ink: Ink, seed: int) -> Image.Image:
    """A bold solid silhouette in two flat tones split on the diagonal; no gradient, no shadow."""
    side = coverage.size[0]
    bold = _grow(coverage, side / 70)
    tile = _solid(side, ink.main, bold)
    half = Image.new("L", (side, side), 0)
    ImageDraw.Draw(half).polygon([(side, 0), (side, side), (0, side)], fill=255)
    tile.paste(mix(ink.main, (0, 0, 0), 0.25), mask=ImageChops.multiply(half, bold))
    return tile


def _modern(coverage: Image.Image, ink: Ink, seed: int) -> Image.Image:
    """App-style duotone: a gentle diagonal gradient fill, over a crisp offset copy in a tint of the
    accent (a flat layered shadow, not a soft one)."""
    side = coverage.size[0]
    ramp = Image.linear_gradient("L").resize((side, side)).rotate(45, fillcolor=128)
    fill = Image.composite(
        Image.new("RGB", (side, side), ink.main),
        Image.new("RGB", (side, side), mix(ink.main, mix(ink.accent, (255, 255, 255), 0.5), 0.6)),
        ramp,
    )
    tile = _solid(side, mix(ink.accent, ink.paper, 0.35), _shifted(coverage, side // 22, side // 22))
    tile.paste(fill, mask=coverage)
    tile.putalpha(ImageChops.lighter(tile.getchannel("A"), coverage))
    return tile


def _detailed(coverage: Image.Image, ink: Ink, seed: int) -> Image.Image:
    """A filled glyph with cross-hatched texture, an inner contour in the paper colour and an
    outer contour in the accent."""
    side = coverage.size[0]
    tile = _solid(side, ink.main, coverage)
    hatch = ImageChops.multiply(_lines(side, max(6, side // 28), max(1, side // 180), "x"), coverage)
    tile.paste(mix(ink.main, ink.paper, 0.35), mask=hatch)
    inner = ImageChops.multiply(_band(coverage.point(lambda v: 255 - v), side / 60, 12, 40), coverage)
    tile.paste(mix(ink.paper, ink.main, 0.1), mask=inner)
    outer = _band(coverage, side / 160, 8, 60)
    tile.paste(ink.accent, mask=ImageChops.subtract(outer, coverage))
    tile.putalpha(ImageChops.lighter(coverage, outer))
    return tile


def _vintage(coverage: Image.Image, ink: Ink, seed: int) -> Image.Image:
    """An engraving: the glyph drawn as horizontal lines within a worn contour, ink missing in spots."""
    side = coverage.size[0]
    lines = ImageChops.multiply(_lines(side, max(4, side // 40), max(2, side // 90), "h"), coverage)
    contour = _band(coverage, side / 150, 90, 255)
    contour = ImageChops.subtract(
        contour, coverage.filter(ImageFilter.GaussianBlur(side / 60)).point(lambda v: 255 if v > 250 else 0)
    )
    rng = random.Random(seed)
    grain = Image.frombytes("L", (side // 6, side // 6), rng.randbytes((side // 6) ** 2)).resize((side, side))
    worn = grain.point(lambda v: 0 if v < 40 else 255)
    return _solid(side, ink.main, ImageChops.multiply(ImageChops.lighter(lines, contour), worn))


_SHAPES = ("disc", "square", "triangle", "diamond")


def _abstract(coverage: Image.Image, ink: Ink, seed: int) -> Image.Image:
    """Geometric abstraction: the glyph reduced to a grid of discs, squares, triangles and diamonds,
    each where the glyph covers its cell, in alternating colours."""
    side = coverage.size[0]
    cells = 10
    step = side / cells
    covered = coverage.resize((cells, cells), Image.Resampling.BOX)
    tile = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)
    colours = (ink.main, ink.accent, mix(ink.main, ink.accent, 0.5))
    edge = (*mix(ink.main, (0, 0, 0), 0.4), 255)  # a dark rim: the shapes read on any background
    for row in range(cells):
        for column in range(cells):
            level = covered.getpixel((column, row))
            if not isinstance(level, int) or level < 80:
                continue
            x0, y0 = column * step, row * step
            box = (x0 + step * 0.06, y0 + step * 0.06, x0 + step * 0.94, y0 + step * 0.94)
            colour = (*colours[(row * 2 + column + seed) % 3], 235)
            _shape(draw, _SHAPES[(row * 3 + column * 5 + seed) % 4], box, colour, edge, max(1, side // 160))
    return tile


def _shape(
    draw: ImageDraw.ImageDraw,
    shape: str,
    box: tuple[float, float, float, float],
    colour: tuple[int, ...],
    edge: tuple[int, ...],
    width: int,
) -> None:
    x0, y0, x1, y1 = box
    if shape == "disc":
        draw.ellipse(box, fill=colour, outline=edge, width=width)
    elif shape == "square":
        draw.rectangle(box, fill=colour, outline=edge, width=width)
    elif shape == "triangle":
        draw.polygon([(x0, y1), ((x0 + x1) / 2, y0), (x1, y1)], fill=colour, outline=edge, width=width)
    else:
        diamond = [((x0 + x1) / 2, y0), (x1, (y0 + y1) / 2), ((x0 + x1) / 2, y1), (x0, (y0 + y1) / 2)]
        draw.polygon(diamond, fill=colour, outline=edge, width=width)


def _realistic(coverage: Image.Image, ink: Ink, seed: int) -> Image.Image:
    """Relief lit from the top left: a bevel from the blurred coverage, darker toward the bottom right,
    a soft specular highlight, and a shadow cast down and to the right."""
    side = coverage.size[0]
    soft = coverage.filter(ImageFilter.GaussianBlur(side / 50))
    shift = max(2, side // 90)
    # The slope toward the light: bright where the surface faces the top left, dark where it turns away.
    slope = ImageChops.subtract(soft, _shifted(soft, shift, shift), scale=1.0, offset=128)
    light = (
        Image.linear_gradient("L")
        .resize((side, side))
        .rotate(45, fillcolor=128)
        .point(lambda v: 255 - v * 2 // 3)
    )
    shade = ImageChops.multiply(Image.merge("RGB", [light] * 3), Image.new("RGB", (side, side), ink.main))
    lit = Image.composite(
        Image.new("RGB", (side, side), (255, 255, 255)),
        shade,
        slope.point(lambda v: min(230, max(0, v - 132) * 6)),
    )
    dark = slope.point(lambda v: min(200, max(0, 124 - v) * 5))
    lit = Image.composite(Image.new("RGB", (side, side), mix(ink.main, (0, 0, 0), 0.6)), lit, dark)
    tile = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    cast = _shifted(coverage, side // 30, side // 22).filter(ImageFilter.GaussianBlur(side / 40))
    tile.paste((0, 0, 0, 255), mask=cast.point(lambda v: v // 2))
    tile.paste(lit, mask=coverage)
    spot = Image.new("L", (side, side), 0)
    ImageDraw.Draw(spot).ellipse([side * 0.12, side * 0.08, side * 0.5, side * 0.36], fill=110)
    tile.paste(
        (255, 255, 255, 255),
        mask=ImageChops.multiply(spot.filter(ImageFilter.GaussianBlur(side / 14)), coverage),
    )
    return tile


_TREATMENTS: dict[str, Callable[[Image.Image, Ink, int], Image.Image]] = {
    "minimal": _minimal,
    "flat": _flat,
    "modern": _modern,
    "detailed": _detailed,
    "vintage": _vintage,
    "abstract": _abstract,
    "realistic": _realistic,
}


@cache
def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def draw(name: str, side: int, style: str | None, ink: Ink) -> Image.Image:
    """Glyph `name` drawn in `style` (unknown styles: modern) as an RGBA square of `side` pixels.
    Deterministic: the worn ink and the mosaic follow the glyph's name."""
    treatment = _TREATMENTS.get(style or DEFAULT_STYLE, _TREATMENTS[DEFAULT_STYLE])
    return treatment(mask(name, side), ink, _seed(name))
