"""The offline provider: draws real icons and blog images locally with Pillow, no key, no network.

Symbols are small vector drawings in unit coordinates, picked by keywords of the category, its
custom elements or the blog prompt. Style and colour scheme change how they are drawn. The same
spec always gives the same bytes; variations change the composition.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from imagegen.models.domain import ImageSpec
from imagegen.providers.base import GeneratedImage
from imagegen.providers.validation import CONTENT_TYPES, encode

RGB = tuple[int, int, int]
Point = tuple[float, float]

# Shapes: ("poly", points), ("ellipse", box), ("rect", box, radius), ("line", points, width).
# A shape's role is "main" (symbol colour), "accent" or "cut" (background colour, for holes).
Shape = tuple[str, str, tuple[object, ...]]


def _p(*coords: float) -> tuple[Point, ...]:
    return tuple((coords[i], coords[i + 1]) for i in range(0, len(coords), 2))


SYMBOLS: dict[str, list[Shape]] = {
    "laptop": [
        ("main", "rect", ((0.2, 0.22, 0.8, 0.62), 0.03)),
        ("cut", "rect", ((0.25, 0.27, 0.75, 0.57), 0.01)),
        (
            "accent",
            "poly",
            (_p(0.28, 0.52, 0.4, 0.4, 0.5, 0.48, 0.62, 0.34, 0.72, 0.46, 0.72, 0.55, 0.28, 0.55),),
        ),
        ("main", "poly", (_p(0.1, 0.66, 0.9, 0.66, 0.84, 0.76, 0.16, 0.76),)),
    ],
    "phone": [
        ("main", "rect", ((0.32, 0.12, 0.68, 0.88), 0.06)),
        ("cut", "rect", ((0.36, 0.2, 0.64, 0.76), 0.01)),
        ("accent", "poly", (_p(0.53, 0.26, 0.42, 0.5, 0.5, 0.5, 0.46, 0.7, 0.58, 0.44, 0.5, 0.44),)),
        ("cut", "ellipse", ((0.47, 0.79, 0.53, 0.85),)),
    ],
    "car": [
        (
            "main",
            "poly",
            (_p(0.1, 0.62, 0.14, 0.5, 0.3, 0.46, 0.38, 0.32, 0.64, 0.32, 0.74, 0.46, 0.88, 0.5, 0.9, 0.62),),
        ),
        ("cut", "poly", (_p(0.41, 0.36, 0.5, 0.36, 0.5, 0.46, 0.34, 0.46),)),
        ("cut", "poly", (_p(0.54, 0.36, 0.62, 0.36, 0.69, 0.46, 0.54, 0.46),)),
        ("accent", "ellipse", ((0.2, 0.54, 0.36, 0.7),)),
        ("accent", "ellipse", ((0.64, 0.54, 0.8, 0.7),)),
        ("cut", "ellipse", ((0.25, 0.59, 0.31, 0.65),)),
        ("cut", "ellipse", ((0.69, 0.59, 0.75, 0.65),)),
    ],
    "wrench": [
        ("main", "line", (_p(0.3, 0.7, 0.62, 0.38), 0.09)),
        ("main", "ellipse", ((0.54, 0.18, 0.82, 0.46),)),
        ("cut", "poly", (_p(0.66, 0.16, 0.84, 0.16, 0.84, 0.34, 0.7, 0.3),)),
        ("main", "ellipse", ((0.2, 0.6, 0.38, 0.78),)),
        ("accent", "line", (_p(0.3, 0.3, 0.66, 0.76), 0.06)),
        ("accent", "rect", ((0.18, 0.18, 0.4, 0.36), 0.03)),
    ],
    "pencil": [
        ("main", "poly", (_p(0.25, 0.66, 0.62, 0.29, 0.71, 0.38, 0.34, 0.75),)),
        ("accent", "poly", (_p(0.25, 0.66, 0.34, 0.75, 0.2, 0.8),)),
        ("accent", "poly", (_p(0.62, 0.29, 0.67, 0.24, 0.76, 0.33, 0.71, 0.38),)),
        ("main", "rect", ((0.12, 0.12, 0.48, 0.4), 0.02)),
        ("cut", "line", (_p(0.17, 0.2, 0.42, 0.2), 0.02)),
        ("cut", "line", (_p(0.17, 0.27, 0.42, 0.27), 0.02)),
        ("cut", "line", (_p(0.17, 0.34, 0.34, 0.34), 0.02)),
    ],
    "apple": [
        ("main", "ellipse", ((0.22, 0.3, 0.54, 0.82),)),
        ("main", "ellipse", ((0.46, 0.3, 0.78, 0.82),)),
        ("accent", "poly", (_p(0.5, 0.3, 0.56, 0.14, 0.72, 0.12, 0.64, 0.26),)),
        ("main", "line", (_p(0.5, 0.34, 0.48, 0.18), 0.03)),
    ],
    "book": [
        ("main", "poly", (_p(0.1, 0.28, 0.48, 0.34, 0.48, 0.8, 0.1, 0.72),)),
        ("main", "poly", (_p(0.52, 0.34, 0.9, 0.28, 0.9, 0.72, 0.52, 0.8),)),
        ("cut", "line", (_p(0.16, 0.42, 0.42, 0.46), 0.02)),
        ("cut", "line", (_p(0.16, 0.52, 0.42, 0.56), 0.02)),
        ("cut", "line", (_p(0.58, 0.46, 0.84, 0.42), 0.02)),
        ("cut", "line", (_p(0.58, 0.56, 0.84, 0.52), 0.02)),
        ("accent", "poly", (_p(0.46, 0.84, 0.54, 0.84, 0.54, 0.3, 0.46, 0.3),)),
    ],
    "shirt": [
        (
            "main",
            "poly",
            (
                _p(
                    0.36,
                    0.16,
                    0.12,
                    0.3,
                    0.2,
                    0.46,
                    0.3,
                    0.4,
                    0.3,
                    0.84,
                    0.7,
                    0.84,
                    0.7,
                    0.4,
                    0.8,
                    0.46,
                    0.88,
                    0.3,
                    0.64,
                    0.16,
                ),
            ),
        ),
        ("cut", "poly", (_p(0.4, 0.16, 0.6, 0.16, 0.5, 0.28),)),
        ("accent", "rect", ((0.56, 0.5, 0.64, 0.58), 0.01)),
    ],
    "house": [
        ("main", "poly", (_p(0.5, 0.12, 0.88, 0.46, 0.12, 0.46),)),
        ("main", "rect", ((0.2, 0.44, 0.8, 0.86), 0.0)),
        ("accent", "rect", ((0.42, 0.58, 0.58, 0.86), 0.02)),
        ("cut", "rect", ((0.27, 0.54, 0.37, 0.66), 0.0)),
        ("cut", "rect", ((0.63, 0.54, 0.73, 0.66), 0.0)),
    ],
    "ball": [
        ("main", "ellipse", ((0.16, 0.16, 0.84, 0.84),)),
        ("cut", "line", (_p(0.18, 0.5, 0.82, 0.5), 0.025)),
        ("cut", "line", (_p(0.5, 0.18, 0.5, 0.82), 0.025)),
        ("accent", "ellipse", ((0.4, 0.4, 0.6, 0.6),)),
    ],
    "heart": [
        ("main", "ellipse", ((0.14, 0.2, 0.52, 0.58),)),
        ("main", "ellipse", ((0.48, 0.2, 0.86, 0.58),)),
        ("main", "poly", (_p(0.16, 0.46, 0.84, 0.46, 0.5, 0.84),)),
        ("accent", "rect", ((0.44, 0.32, 0.56, 0.6), 0.01)),
        ("accent", "rect", ((0.36, 0.4, 0.64, 0.52), 0.01)),
    ],
    "die": [
        ("main", "rect", ((0.18, 0.18, 0.82, 0.82), 0.1)),
        ("cut", "ellipse", ((0.28, 0.28, 0.38, 0.38),)),
        ("cut", "ellipse", ((0.45, 0.45, 0.55, 0.55),)),
        ("cut", "ellipse", ((0.62, 0.62, 0.72, 0.72),)),
        ("accent", "ellipse", ((0.62, 0.28, 0.72, 0.38),)),
        ("accent", "ellipse", ((0.28, 0.62, 0.38, 0.72),)),
    ],
    "leaf": [
        (
            "main",
            "poly",
            (_p(0.2, 0.8, 0.22, 0.5, 0.36, 0.3, 0.58, 0.18, 0.84, 0.16, 0.82, 0.42, 0.7, 0.64, 0.48, 0.78),),
        ),
        ("cut", "line", (_p(0.22, 0.8, 0.74, 0.26), 0.025)),
        ("accent", "line", (_p(0.12, 0.9, 0.26, 0.74), 0.04)),
    ],
    "paw": [
        ("main", "ellipse", ((0.3, 0.46, 0.7, 0.82),)),
        ("accent", "ellipse", ((0.16, 0.34, 0.3, 0.52),)),
        ("accent", "ellipse", ((0.3, 0.18, 0.44, 0.38),)),
        ("accent", "ellipse", ((0.56, 0.18, 0.7, 0.38),)),
        ("accent", "ellipse", ((0.7, 0.34, 0.84, 0.52),)),
    ],
    "note": [
        ("main", "ellipse", ((0.2, 0.62, 0.42, 0.8),)),
        ("main", "ellipse", ((0.58, 0.56, 0.8, 0.74),)),
        ("main", "line", (_p(0.4, 0.7, 0.4, 0.22), 0.04)),
        ("main", "line", (_p(0.78, 0.64, 0.78, 0.16), 0.04)),
        ("accent", "poly", (_p(0.38, 0.2, 0.8, 0.12, 0.8, 0.24, 0.38, 0.32),)),
    ],
    "plane": [
        ("main", "poly", (_p(0.1, 0.52, 0.9, 0.44, 0.92, 0.5, 0.9, 0.56, 0.1, 0.52),)),
        ("main", "poly", (_p(0.44, 0.5, 0.3, 0.14, 0.4, 0.14, 0.62, 0.5),)),
        ("main", "poly", (_p(0.44, 0.52, 0.3, 0.86, 0.4, 0.86, 0.62, 0.52),)),
        ("accent", "poly", (_p(0.12, 0.52, 0.06, 0.34, 0.14, 0.34, 0.22, 0.5),)),
    ],
    "gem": [
        ("main", "poly", (_p(0.3, 0.2, 0.7, 0.2, 0.88, 0.4, 0.5, 0.86, 0.12, 0.4),)),
        ("accent", "poly", (_p(0.12, 0.4, 0.88, 0.4, 0.5, 0.86),)),
        ("cut", "line", (_p(0.3, 0.2, 0.38, 0.4, 0.5, 0.2, 0.62, 0.4, 0.7, 0.2), 0.015)),
    ],
    "camera": [
        ("main", "rect", ((0.12, 0.3, 0.88, 0.78), 0.06)),
        ("main", "poly", (_p(0.36, 0.3, 0.42, 0.2, 0.58, 0.2, 0.64, 0.3),)),
        ("cut", "ellipse", ((0.34, 0.38, 0.66, 0.7),)),
        ("accent", "ellipse", ((0.41, 0.45, 0.59, 0.63),)),
        ("accent", "rect", ((0.72, 0.36, 0.8, 0.42), 0.01)),
    ],
    "cup": [
        ("main", "poly", (_p(0.2, 0.36, 0.7, 0.36, 0.64, 0.82, 0.26, 0.82),)),
        ("main", "ellipse", ((0.62, 0.42, 0.86, 0.66),)),
        ("cut", "ellipse", ((0.68, 0.48, 0.8, 0.6),)),
        ("accent", "line", (_p(0.34, 0.3, 0.38, 0.16), 0.03)),
        ("accent", "line", (_p(0.48, 0.3, 0.52, 0.14), 0.03)),
    ],
    "lighthouse": [
        ("main", "poly", (_p(0.4, 0.3, 0.6, 0.3, 0.66, 0.86, 0.34, 0.86),)),
        ("cut", "poly", (_p(0.385, 0.44, 0.615, 0.44, 0.625, 0.52, 0.375, 0.52),)),
        ("cut", "poly", (_p(0.365, 0.64, 0.635, 0.64, 0.645, 0.72, 0.355, 0.72),)),
        ("accent", "rect", ((0.42, 0.18, 0.58, 0.3), 0.01)),
        ("main", "poly", (_p(0.38, 0.18, 0.5, 0.08, 0.62, 0.18),)),
        ("accent", "poly", (_p(0.58, 0.22, 0.92, 0.12, 0.92, 0.34),)),
        ("accent", "poly", (_p(0.42, 0.22, 0.08, 0.12, 0.08, 0.34),)),
    ],
    "tag": [
        ("main", "poly", (_p(0.14, 0.46, 0.46, 0.14, 0.86, 0.14, 0.86, 0.54, 0.54, 0.86),)),
        ("cut", "ellipse", ((0.66, 0.26, 0.76, 0.36),)),
        ("accent", "line", (_p(0.71, 0.31, 0.9, 0.08), 0.02)),
    ],
}

# Words that lead to a symbol (a first version; the category catalogue of a later issue replaces it).
KEYWORDS: dict[str, tuple[str, ...]] = {
    "laptop": ("electronic", "computer", "laptop", "tech", "software", "digital", "gadget", "coding"),
    "phone": ("phone", "mobile", "smartphone", "tablet", "telecom", "cell"),
    "car": ("auto", "automotive", "car", "vehicle", "motor", "truck", "parts", "transport"),
    "wrench": (
        "tool",
        "tools",
        "hardware",
        "diy",
        "repair",
        "wrench",
        "hammer",
        "industrial",
        "construction",
    ),
    "pencil": ("office", "supplies", "stationery", "pen", "pencil", "paper", "school", "writing", "stapler"),
    "apple": ("food", "grocery", "groceries", "fruit", "produce", "nutrition", "organic", "snack"),
    "book": ("book", "books", "education", "learning", "library", "reading", "study", "course"),
    "shirt": ("clothing", "clothes", "fashion", "apparel", "wear", "shirt", "garment", "textile"),
    "house": ("home", "house", "furniture", "real", "estate", "decor", "living", "interior"),
    "ball": ("sport", "sports", "fitness", "ball", "outdoor", "game", "athletic", "soccer"),
    "heart": ("health", "medical", "pharmacy", "care", "wellness", "beauty", "hospital", "medicine"),
    "die": ("toy", "toys", "games", "board", "hobby", "puzzle", "kids", "play"),
    "leaf": ("garden", "plant", "plants", "nature", "green", "eco", "flower", "agriculture", "tree"),
    "paw": ("pet", "pets", "dog", "cat", "animal", "animals", "veterinary"),
    "note": ("music", "audio", "instrument", "song", "sound", "concert"),
    "plane": ("travel", "flight", "airline", "trip", "tourism", "vacation", "luggage"),
    "gem": ("jewelry", "jewellery", "jewel", "luxury", "diamond", "accessories", "watch"),
    "camera": ("camera", "photo", "photography", "video", "film", "image"),
    "cup": ("coffee", "tea", "drink", "beverage", "cafe", "kitchen", "restaurant", "cooking"),
    "lighthouse": ("lighthouse", "harbour", "harbor", "coast", "coastal", "maritime", "port", "sea", "ocean"),
}

PALETTES: dict[str, tuple[RGB, RGB, RGB, RGB]] = {  # background top, background bottom, main, accent
    "monochrome": ((245, 245, 245), (200, 200, 200), (40, 40, 40), (120, 120, 120)),
    "colorful": ((255, 214, 102), (255, 107, 107), (72, 52, 212), (29, 209, 161)),
    "brand_colors": ((235, 244, 255), (190, 214, 255), (13, 71, 161), (255, 111, 0)),
    "blue_tones": ((224, 242, 254), (125, 185, 232), (12, 74, 110), (56, 189, 248)),
    "warm_tones": ((255, 237, 213), (251, 146, 60), (154, 52, 18), (234, 179, 8)),
    "pastel": ((253, 242, 248), (221, 214, 254), (167, 139, 250), (249, 168, 212)),
    "dark": ((30, 41, 59), (2, 6, 23), (226, 232, 240), (56, 189, 248)),
}
_SEPIA = ((244, 232, 208), (214, 190, 150), (92, 58, 33), (160, 82, 45))


def _words(*texts: str) -> list[str]:
    return [word for text in texts for word in re.findall(r"[a-z]+", text.lower())]


def pick_symbols(*texts: str) -> list[str]:
    """Symbols whose keywords appear in the texts, best first; the tag symbol when none does."""
    scores: dict[str, int] = {}
    for position, word in enumerate(_words(*texts)):
        for symbol, keywords in KEYWORDS.items():
            # "gardening" -> garden, "toys" -> toy: a keyword of four letters or more may start the word.
            if word in keywords or any(len(k) >= 4 and word.startswith(k) for k in keywords):
                scores[symbol] = scores.get(symbol, 0) + 100 - min(position, 99)
    ranked = sorted(scores, key=lambda symbol: -scores[symbol])
    return ranked or ["tag"]


def _seed(spec: ImageSpec) -> int:
    text = f"{spec.kind}|{spec.prompt}|{spec.size}|{spec.style}|{spec.color_scheme}|{spec.variation}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _gradient(size: tuple[int, int], top: RGB, bottom: RGB, angle: float = 0.0) -> Image.Image:
    width, height = size
    line = Image.linear_gradient("L").resize((width, height))
    if angle:
        line = line.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=128)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), line)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (int(a[0] + (b[0] - a[0]) * t), int(a[1] + (b[1] - a[1]) * t), int(a[2] + (b[2] - a[2]) * t))


@dataclass(frozen=True)
class _Pen:
    main: RGB
    accent: RGB
    cut: RGB
    outline_only: bool
    stroke: int


def _draw_symbol(canvas: Image.Image, shapes: Sequence[Shape], box: tuple[int, int, int], pen: _Pen) -> None:
    """Draw a symbol in a square of side box[2] at (box[0], box[1])."""
    x0, y0, side = box
    draw = ImageDraw.Draw(canvas)

    def at(point: Point) -> tuple[float, float]:
        return (x0 + point[0] * side, y0 + point[1] * side)

    for role, kind, args in shapes:
        colour = {"main": pen.main, "accent": pen.accent, "cut": pen.cut}[role]
        fill = None if pen.outline_only and role != "cut" else colour
        outline = colour if pen.outline_only else None
        width = pen.stroke if pen.outline_only else 0
        if pen.outline_only and role == "cut":
            fill, outline, width = None, pen.main, max(2, pen.stroke // 2)
        if kind == "poly":
            draw.polygon([at(p) for p in args[0]], fill=fill, outline=outline, width=width)  # type: ignore[attr-defined]
        elif kind == "ellipse":
            bx = args[0]
            draw.ellipse([at((bx[0], bx[1])), at((bx[2], bx[3]))], fill=fill, outline=outline, width=width)  # type: ignore[index]
        elif kind == "rect":
            bx, radius = args
            draw.rounded_rectangle(
                [at((bx[0], bx[1])), at((bx[2], bx[3]))],  # type: ignore[index]
                radius=int(radius * side),  # type: ignore[operator]
                fill=fill,
                outline=outline,
                width=width,
            )
        elif kind == "line":
            points, line_width = cast(tuple[tuple[Point, ...], float], args)
            draw.line(
                [at(p) for p in points], fill=colour, width=max(2, int(line_width * side)), joint="curve"
            )


def _noise(size: tuple[int, int], rng: random.Random, strength: int) -> Image.Image:
    small = Image.frombytes("L", (size[0] // 4, size[1] // 4), rng.randbytes(size[0] // 4 * (size[1] // 4)))
    return small.resize(size).point(lambda v: 128 + (v - 128) * strength // 128)


def render_icon(spec: ImageSpec) -> Image.Image:
    """An icon: the category's symbol, drawn in the style and colours asked, composed per variation."""
    rng = random.Random(_seed(spec))
    scale = 2  # draw at twice the size and downsample: cheap anti-aliasing
    size = (spec.width * scale, spec.height * scale)
    style = spec.style or "modern"
    top, bottom, main, accent = _SEPIA if style == "vintage" else PALETTES[spec.color_scheme or "colorful"]
    symbols = pick_symbols(spec.category or "", " ".join(spec.custom_elements), spec.prompt)
    # Variations differ on purpose: 1 centred, 2 off-centre with a companion, 3 tilted, 4 mirrored and
    # smaller; from the fifth on, the next matching symbol takes the lead.
    composition, cycle = (spec.variation - 1) % 4, (spec.variation - 1) // 4
    primary = symbols[cycle % len(symbols)]
    if cycle % 2:  # later cycles also recolour, so even a lone symbol never repeats itself
        main, accent = accent, main
    secondary = next((s for s in symbols if s != primary), None)

    if spec.background == "transparent":  # only the badge and symbol are drawn; the rest stays clear
        canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    elif style in ("minimal", "flat"):
        canvas = Image.new("RGB", size, top if style == "flat" else (255, 255, 255))
    else:
        canvas = _gradient(size, top, bottom, angle=rng.uniform(-30, 30))
    side = min(size)
    cx, cy = size[0] // 2, size[1] // 2
    draw = ImageDraw.Draw(canvas)
    badge = int(side * 0.84)
    bx0, by0 = cx - badge // 2, cy - badge // 2
    badge_colour = _mix(top, (255, 255, 255), 0.55) if style != "dark" else _mix(bottom, main, 0.12)
    if style == "modern":
        shadow = Image.new("L", size, 0)
        ImageDraw.Draw(shadow).rounded_rectangle(
            [bx0, by0 + side // 40, bx0 + badge, by0 + badge + side // 40], radius=badge // 5, fill=110
        )
        canvas.paste((0, 0, 0), mask=shadow.filter(ImageFilter.GaussianBlur(side // 50)))
        draw.rounded_rectangle([bx0, by0, bx0 + badge, by0 + badge], radius=badge // 5, fill=badge_colour)
    elif style == "vintage":
        draw.ellipse([bx0, by0, bx0 + badge, by0 + badge], fill=badge_colour, outline=main, width=side // 60)
        inset = side // 30
        draw.ellipse(
            [bx0 + inset, by0 + inset, bx0 + badge - inset, by0 + badge - inset],
            outline=accent,
            width=side // 140,
        )
    elif style == "abstract":
        for _ in range(5):
            radius = rng.randint(side // 8, side // 3)
            ox, oy = rng.randint(0, size[0]), rng.randint(0, size[1])
            blob = Image.new("L", size, 0)
            ImageDraw.Draw(blob).ellipse([ox - radius, oy - radius, ox + radius, oy + radius], fill=90)
            canvas.paste(rng.choice([accent, main, bottom]), mask=blob)
    elif style in ("detailed", "realistic"):
        draw.ellipse([bx0, by0, bx0 + badge, by0 + badge], fill=badge_colour)

    symbol_side = int(side * {0: 0.7, 1: 0.58, 2: 0.66, 3: 0.56}[composition])
    pen = _Pen(
        main=main,
        accent=accent,
        cut=badge_colour
        if style in ("modern", "vintage", "detailed", "realistic")
        else (top if style == "flat" else (255, 255, 255)),
        outline_only=style == "minimal",
        stroke=max(4, side // 70),
    )
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    offset = side // 12 if composition == 1 else 0
    if composition == 1:  # a companion: the next matching symbol, or an accent disc behind the subject
        small = side // 3
        if secondary:
            _draw_symbol(layer, SYMBOLS[secondary], (cx + side // 6, cy + side // 8, small), pen)
        else:
            ImageDraw.Draw(layer).ellipse(
                [cx + side // 8, cy + side // 8, cx + side // 8 + small, cy + side // 8 + small],
                fill=(*accent, 255),
            )
    _draw_symbol(
        layer,
        SYMBOLS[primary],
        (cx - symbol_side // 2 - offset, cy - symbol_side // 2 - offset, symbol_side),
        pen,
    )
    if cycle >= 2:
        ring = int(symbol_side * 0.62)
        ImageDraw.Draw(layer).ellipse(
            [cx - ring, cy - ring, cx + ring, cy + ring], outline=(*accent, 255), width=max(6, side // 60)
        )
    if composition == 2:
        layer = layer.rotate(
            rng.choice([-14, -10, 10, 14]), resample=Image.Resampling.BICUBIC, center=(cx, cy)
        )
    elif composition == 3:
        layer = ImageOps.mirror(layer)
    if style in ("realistic", "detailed", "modern"):
        alpha = layer.getchannel("A")
        shade = Image.new("RGBA", size, (0, 0, 0, 0))
        shade.putalpha(alpha.point(lambda v: v * 2 // 5))
        canvas.paste(
            shade,
            (side // 80, side // 50),
            shade.getchannel("A").filter(ImageFilter.GaussianBlur(side // 90)),
        )
    if style == "realistic":
        highlight = (
            _gradient(size, (255, 255, 255), (0, 0, 0), angle=-20).convert("L").point(lambda v: v // 3)
        )
        lit = ImageChops.add(layer.convert("RGB"), Image.merge("RGB", (highlight, highlight, highlight)))
        layer = Image.merge("RGBA", (*lit.split(), layer.getchannel("A")))
    canvas.paste(layer, (0, 0), layer)
    if style == "vintage" and canvas.mode == "RGB":
        grain = _noise(size, rng, 40)
        canvas = Image.blend(canvas, Image.merge("RGB", (grain, grain, grain)), 0.08)
    return canvas.resize((spec.width, spec.height), Image.Resampling.LANCZOS)


def render_blog(spec: ImageSpec) -> Image.Image:
    """A blog image: a layered landscape in a palette from the prompt, with the subject's symbols."""
    rng = random.Random(_seed(spec))
    width, height = spec.width, spec.height
    symbols = [s for s in pick_symbols(spec.prompt) if s != "tag"]
    palette_name = rng.choice(list(PALETTES))
    for word, name in (
        ("night", "dark"),
        ("dark", "dark"),
        ("storm", "dark"),
        ("stormy", "dark"),
        ("warm", "warm_tones"),
        ("sunset", "warm_tones"),
        ("ocean", "blue_tones"),
        ("sea", "blue_tones"),
        ("soft", "pastel"),
        ("pastel", "pastel"),
    ):
        if word in _words(spec.prompt):
            palette_name = name
            break
    top, bottom, main, accent = PALETTES[palette_name]
    canvas = _gradient((width, height), top, bottom)
    draw = ImageDraw.Draw(canvas)
    sun_r = min(width, height) // 8
    sun_x, sun_y = rng.randint(width // 6, width * 5 // 6), rng.randint(height // 8, height // 3)
    glow = Image.new("L", (width, height), 0)
    ImageDraw.Draw(glow).ellipse(
        [sun_x - sun_r * 2, sun_y - sun_r * 2, sun_x + sun_r * 2, sun_y + sun_r * 2], fill=90
    )
    canvas.paste(_mix(top, (255, 255, 255), 0.6), mask=glow.filter(ImageFilter.GaussianBlur(sun_r)))
    draw.ellipse(
        [sun_x - sun_r, sun_y - sun_r, sun_x + sun_r, sun_y + sun_r], fill=_mix(accent, (255, 255, 255), 0.3)
    )
    for layer_index in range(4):  # hills from far (pale) to near (strong)
        base = height * (0.55 + 0.11 * layer_index)
        colour = _mix(_mix(bottom, main, 0.35 + 0.18 * layer_index), top, 0.25 - 0.06 * layer_index)
        phase, amplitude = rng.uniform(0, math.tau), height * rng.uniform(0.03, 0.08)
        waves = rng.uniform(1.0, 2.5)
        points = [
            (x, base + amplitude * math.sin(phase + waves * math.tau * x / width))
            for x in range(0, width + 16, 16)
        ]
        draw.polygon([(0, height), *points, (width, height)], fill=colour)
    pen = _Pen(main=main, accent=accent, cut=_mix(top, (255, 255, 255), 0.5), outline_only=False, stroke=4)
    side = int(min(width, height) * 0.42)
    for n, symbol in enumerate(symbols[:3]):
        symbol_side = side if n == 0 else side // 2
        x = width // 2 - symbol_side // 2 + (0 if n == 0 else (-1) ** n * int(width * 0.28))
        y = int(height * 0.52) - symbol_side // 2 + (0 if n == 0 else height // 8)
        plate = Image.new("L", (width, height), 0)
        ImageDraw.Draw(plate).ellipse(
            [x - side // 12, y - side // 12, x + symbol_side + side // 12, y + symbol_side + side // 12],
            fill=200,
        )
        canvas.paste(_mix(top, (255, 255, 255), 0.5), mask=plate.filter(ImageFilter.GaussianBlur(side // 30)))
        _draw_symbol(canvas, SYMBOLS[symbol], (x, y, symbol_side), pen)
    return canvas


class OfflineProvider:
    """Renders locally; deterministic for a spec, no key and no network."""

    name = "offline"
    model = "offline-renderer-1"

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        image = render_icon(spec) if spec.kind == "icon" else render_blog(spec)
        return GeneratedImage(
            data=encode(image, spec.output_format),
            content_type=CONTENT_TYPES[spec.output_format],
            provider=self.name,
            model=self.model,
        )
