"""The offline provider: draws real icons and blog images locally with Pillow, no key, no network.

Glyphs come from Material Design Icons (imagegen.providers.icon_set), picked by the category, its
custom elements or the blog prompt; style and colour scheme change the badge, background, palette
and finish around them. The same spec always gives the same bytes; variations change the composition.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from imagegen import templates
from imagegen.models.domain import ImageSpec
from imagegen.providers import icon_set, subjects
from imagegen.providers.base import GeneratedImage
from imagegen.providers.registry import CONTENT_TYPES
from imagegen.providers.validation import encode

RGB = tuple[int, int, int]


def _palette(spec: ImageSpec) -> tuple[RGB, RGB, RGB, RGB]:
    """The style's own palette (vintage's sepia) from the prompt templates, else the colour scheme's,
    whose main and accent brand colours replace."""
    own = templates.templates()["styles"].get(spec.style or "", {}).get("palette")
    if own:
        return tuple(tuple(colour) for colour in own)  # type: ignore[return-value]
    top, bottom, main, accent = templates.palette(spec.color_scheme or "colorful")
    hexes = [tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for h in spec.brand_colors]
    if hexes:
        main = hexes[0]  # type: ignore[assignment]
        accent = hexes[1] if len(hexes) > 1 else accent  # type: ignore[assignment]
    return top, bottom, main, accent  # type: ignore[return-value]


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


def _paste_glyph(canvas: Image.Image, name: str, box: tuple[int, int, int], colour: RGB) -> None:
    """Draw icon `name` in a square of side box[2] at (box[0], box[1])."""
    x0, y0, side = box
    glyph = icon_set.glyph(name, side, colour)
    canvas.paste(glyph, (x0, y0), glyph)


def icon_names(spec: ImageSpec) -> tuple[list[str], list[str]]:
    """Icons for the category (best first), and one for each custom element that has one."""
    found = icon_set.search(spec.category or spec.prompt, limit=4)
    names = (
        [spec.catalogue_icon, *(n for n in found if n != spec.catalogue_icon)]
        if spec.catalogue_icon
        else found
    )
    elements = [icon_set.search(element, limit=1)[0] for element in spec.custom_elements]
    return names, [name for name in elements if name != icon_set.FALLBACK]


def _noise(size: tuple[int, int], rng: random.Random, strength: int) -> Image.Image:
    small = Image.frombytes("L", (size[0] // 4, size[1] // 4), rng.randbytes(size[0] // 4 * (size[1] // 4)))
    return small.resize(size).point(lambda v: 128 + (v - 128) * strength // 128)


@dataclass(frozen=True)
class _Icon:
    """What one icon draws, decided before drawing: sizes at twice the output (cheap anti-aliasing),
    colours, icons and composition."""

    style: str
    size: tuple[int, int]
    top: RGB
    bottom: RGB
    main: RGB
    accent: RGB
    primary: str
    companions: list[str]
    elements: list[str]
    composition: int
    cycle: int

    @property
    def side(self) -> int:
        return min(self.size)

    @property
    def centre(self) -> tuple[int, int]:
        return self.size[0] // 2, self.size[1] // 2


def _plan_icon(spec: ImageSpec) -> _Icon:
    """The style, palette, icons and composition of an icon."""
    style = spec.style or "modern"
    top, bottom, main, accent = _palette(spec)
    names, elements = icon_names(spec)
    # Variations differ on purpose: 1 centred, 2 off-centre with a companion, 3 tilted, 4 mirrored and
    # smaller; from the fifth on, the next matching icon takes the lead.
    composition, cycle = (spec.variation - 1) % 4, (spec.variation - 1) // 4
    primary = names[cycle % len(names)]
    if style == "minimal" and icon_set.has_icon(f"{primary}-outline"):
        primary = f"{primary}-outline"  # minimal is line art
    if cycle % 2:  # later cycles also recolour, so even a lone icon never repeats itself
        main, accent = accent, main
    companions = [
        name
        for name in [*elements, *names]
        if name.removesuffix("-outline") != primary.removesuffix("-outline")
    ]
    size = (spec.width * 2, spec.height * 2)
    return _Icon(style, size, top, bottom, main, accent, primary, companions, elements, composition, cycle)


def _is_dark(colour: RGB) -> bool:
    """A dark background (the dark scheme's): its badge is dark too, under a light symbol."""
    red, green, blue = colour
    return 0.299 * red + 0.587 * green + 0.114 * blue < 128


def _icon_canvas(spec: ImageSpec, icon: _Icon, rng: random.Random) -> Image.Image:
    """The background: clear, plain (minimal, flat) or a gradient at a random angle."""
    if spec.background == "transparent":  # only the badge and symbol are drawn; the rest stays clear
        return Image.new("RGBA", icon.size, (0, 0, 0, 0))
    if icon.style in ("minimal", "flat"):
        return Image.new("RGB", icon.size, icon.top if icon.style == "flat" else (255, 255, 255))
    return _gradient(icon.size, icon.top, icon.bottom, angle=rng.uniform(-30, 30))


def _draw_badge(canvas: Image.Image, icon: _Icon, rng: random.Random) -> None:
    """The style's shape behind the symbol: a rounded square, a stamp, blobs, a disc (or nothing)."""
    side, (cx, cy), style = icon.side, icon.centre, icon.style
    draw = ImageDraw.Draw(canvas)
    badge = int(side * 0.84)
    bx0, by0 = cx - badge // 2, cy - badge // 2
    # The colour scheme decides (not the style): on a dark background, a dark badge under a light symbol.
    badge_colour = (
        _mix(icon.bottom, icon.main, 0.12) if _is_dark(icon.top) else _mix(icon.top, (255, 255, 255), 0.55)
    )
    if style == "modern":
        shadow = Image.new("L", icon.size, 0)
        ImageDraw.Draw(shadow).rounded_rectangle(
            [bx0, by0 + side // 40, bx0 + badge, by0 + badge + side // 40], radius=badge // 5, fill=110
        )
        canvas.paste((0, 0, 0), mask=shadow.filter(ImageFilter.GaussianBlur(side // 50)))
        draw.rounded_rectangle([bx0, by0, bx0 + badge, by0 + badge], radius=badge // 5, fill=badge_colour)
    elif style == "vintage":
        draw.ellipse(
            [bx0, by0, bx0 + badge, by0 + badge], fill=badge_colour, outline=icon.main, width=side // 60
        )
        inset = side // 30
        draw.ellipse(
            [bx0 + inset, by0 + inset, bx0 + badge - inset, by0 + badge - inset],
            outline=icon.accent,
            width=side // 140,
        )
    elif style == "abstract":
        for _ in range(5):
            radius = rng.randint(side // 8, side // 3)
            ox, oy = rng.randint(0, icon.size[0]), rng.randint(0, icon.size[1])
            blob = Image.new("L", icon.size, 0)
            ImageDraw.Draw(blob).ellipse([ox - radius, oy - radius, ox + radius, oy + radius], fill=90)
            canvas.paste(rng.choice([icon.accent, icon.main, icon.bottom]), mask=blob)
    elif style in ("detailed", "realistic"):
        draw.ellipse([bx0, by0, bx0 + badge, by0 + badge], fill=badge_colour)


def _symbol_layer(icon: _Icon, rng: random.Random) -> Image.Image:
    """The symbol and its companions on a clear layer, composed (offset, tilted, mirrored) per variation."""
    side, (cx, cy), composition = icon.side, icon.centre, icon.composition
    symbol_side = int(side * {0: 0.7, 1: 0.58, 2: 0.66, 3: 0.56}[composition])
    layer = Image.new("RGBA", icon.size, (0, 0, 0, 0))
    offset = side // 12 if composition == 1 else 0
    small = side // 3
    if composition == 1:  # a companion: a custom element or the next matching icon, or an accent disc
        if icon.companions:
            _paste_glyph(layer, icon.companions[0], (cx + side // 6, cy + side // 8, small), icon.accent)
        else:
            ImageDraw.Draw(layer).ellipse(
                [cx + side // 8, cy + side // 8, cx + side // 8 + small, cy + side // 8 + small],
                fill=(*icon.accent, 255),
            )
    top_left = (cx - symbol_side // 2 - offset, cy - symbol_side // 2 - offset, symbol_side)
    _paste_glyph(layer, icon.primary, top_left, icon.main)
    if composition in (0, 3) and icon.elements:  # the asked-for elements stay visible: a corner badge
        _paste_glyph(layer, icon.elements[0], (cx + side // 5, cy + side // 5, side // 5), icon.accent)
    if icon.cycle >= 2:
        ring = int(symbol_side * 0.62)
        ImageDraw.Draw(layer).ellipse(
            [cx - ring, cy - ring, cx + ring, cy + ring],
            outline=(*icon.accent, 255),
            width=max(6, side // 60),
        )
    if composition == 2:
        return layer.rotate(
            rng.choice([-14, -10, 10, 14]), resample=Image.Resampling.BICUBIC, center=(cx, cy)
        )
    if composition == 3:
        return ImageOps.mirror(layer)
    return layer


def _finish(canvas: Image.Image, layer: Image.Image, icon: _Icon, rng: random.Random) -> Image.Image:
    """The symbol laid on the canvas with the style's finish: drop shadow, highlight, paper grain."""
    side = icon.side
    if icon.style in ("realistic", "detailed", "modern"):
        shade = Image.new("RGBA", icon.size, (0, 0, 0, 0))
        shade.putalpha(layer.getchannel("A").point(lambda v: v * 2 // 5))
        canvas.paste(
            shade,
            (side // 80, side // 50),
            shade.getchannel("A").filter(ImageFilter.GaussianBlur(side // 90)),
        )
    if icon.style == "realistic":
        highlight = (
            _gradient(icon.size, (255, 255, 255), (0, 0, 0), angle=-20).convert("L").point(lambda v: v // 3)
        )
        lit = ImageChops.add(layer.convert("RGB"), Image.merge("RGB", (highlight, highlight, highlight)))
        layer = Image.merge("RGBA", (*lit.split(), layer.getchannel("A")))
    canvas.paste(layer, (0, 0), layer)
    if icon.style == "vintage" and canvas.mode == "RGB":
        grain = _noise(icon.size, rng, 40)
        canvas = Image.blend(canvas, Image.merge("RGB", (grain, grain, grain)), 0.08)
    return canvas


def render_icon(spec: ImageSpec) -> Image.Image:
    """An icon: the category's Material Design icon in the style and colours asked, composed per variation."""
    rng = random.Random(_seed(spec))  # one stream, drawn from in this order: the same spec, the same bytes
    icon = _plan_icon(spec)
    canvas = _icon_canvas(spec, icon, rng)
    _draw_badge(canvas, icon, rng)
    canvas = _finish(canvas, _symbol_layer(icon, rng), icon, rng)
    return canvas.resize((spec.width, spec.height), Image.Resampling.LANCZOS)


def render_blog(spec: ImageSpec) -> Image.Image:
    """A blog image: a layered landscape in a palette from the prompt, with the subject's symbols."""
    rng = random.Random(_seed(spec))
    width, height = spec.width, spec.height
    symbols = [name for name in icon_set.search(spec.prompt, limit=3) if name != icon_set.FALLBACK]
    palette_name = rng.choice(templates.color_schemes())
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
        if word in icon_set.words(spec.prompt):
            palette_name = name
            break
    top, bottom, main, accent = templates.palette(palette_name)
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
        _paste_glyph(canvas, symbol, (x, y, symbol_side), main if n == 0 else accent)
    return canvas


class OfflineProvider:
    """Renders locally; deterministic for a spec, no key and no network."""

    name = "offline"
    rate_limited = False  # local CPU: no provider limit to share
    # Rendering is CPU-bound: one at a time per invocation. Concurrent invocations use the cores;
    # more threads would only slow each other and the API on the same machine.
    parallel_calls = 1
    model = "offline-renderer-1"

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        image = render_icon(spec) if spec.kind == "icon" else render_blog(spec)
        return GeneratedImage(
            data=encode(image, spec.output_format),
            content_type=CONTENT_TYPES[spec.output_format],
            provider=self.name,
            model=self.model,
            details={"offline_subject": subjects.choose(spec).as_metadata()},
        )
