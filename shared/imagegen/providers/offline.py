"""The offline provider: draws real icons and blog images locally with Pillow, no key, no network.

What is drawn comes from imagegen.providers.subjects (the subject, its companions and the setting, as
Material Design Icons glyphs); how it is drawn is decided here. A style changes the glyph itself
(imagegen.providers.offline_styles: line art, flat, gradient, hatching, engraving, mosaic, relief) as
well as the badge and background around it; a blog image is a scene chosen from the prompt
(imagegen.providers.offline_scenes). The same spec always gives the same bytes; variations change the
composition.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from imagegen import templates
from imagegen.models.domain import ImageSpec
from imagegen.providers import icon_set, offline_scenes, offline_styles, subjects
from imagegen.providers.base import GeneratedImage
from imagegen.providers.offline_styles import mix as _mix
from imagegen.providers.registry import CONTENT_TYPES
from imagegen.providers.validation import encode

RGB = tuple[int, int, int]
Placement = offline_scenes.Placement


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


def _noise(size: tuple[int, int], rng: random.Random, strength: int) -> Image.Image:
    small = Image.frombytes("L", (size[0] // 4, size[1] // 4), rng.randbytes(size[0] // 4 * (size[1] // 4)))
    return small.resize(size).point(lambda v: 128 + (v - 128) * strength // 128)


@dataclass(frozen=True)
class _Icon:
    """What one icon draws, decided before drawing: sizes at twice the output (cheap anti-aliasing),
    colours, glyphs and where each goes."""

    style: str
    size: tuple[int, int]
    top: RGB
    bottom: RGB
    main: RGB
    accent: RGB
    placements: tuple[Placement, ...]  # in canvas pixels (twice the output), the subject first
    composition: int
    cycle: int

    @property
    def side(self) -> int:
        return min(self.size)

    @property
    def centre(self) -> tuple[int, int]:
        return self.size[0] // 2, self.size[1] // 2


def _companion_glyphs(subject: subjects.Subject, primary: str, style: str) -> list[str]:
    """Every companion (custom elements, modifiers) once; detailed adds next-best subjects, up to two."""
    names = [pick.glyph for pick in subject.companions]
    if style == "detailed":
        extra = [name for name in subject.alternatives if name not in (icon_set.FALLBACK, primary)]
        names += extra[: max(0, 2 - len(names))]
    unique: list[str] = []
    for name in names:
        if name.removesuffix("-outline") != primary.removesuffix("-outline") and name not in unique:
            unique.append(name)
    return unique


def _ring(count: int, composition: int, side: int, centre: tuple[int, int]) -> list[tuple[int, int, int]]:
    """Squares for `count` companions round the subject: the four corners for up to four, else evenly
    on a ring; on the second variation the first is larger."""
    angles = [45.0, 135.0, -45.0, -135.0] if count <= 4 else [45 + n * 360 / count for n in range(count)]
    small = int(side * (0.22 if count <= 4 else min(0.18, 2.0 / count)))
    radius = side * (0.3 if count <= 4 else 0.35)
    boxes = []
    for n in range(count):
        own = int(side * 0.3) if composition == 1 and n == 0 else small
        x = centre[0] + radius * math.cos(math.radians(angles[n])) - own / 2
        y = centre[1] + radius * math.sin(math.radians(angles[n])) - own / 2
        boxes.append((int(x), int(y), own))
    return boxes


def _icon_placements(
    subject: subjects.Subject, style: str, side: int, composition: int, cycle: int
) -> tuple[Placement, ...]:
    """The subject in the middle (off-centre, smaller per variation), companions round it; the subject
    shrinks to leave them room. From the fifth variation on, the next-best subject takes the lead."""
    leads = [subject.subject.glyph, *(n for n in subject.alternatives if n != icon_set.FALLBACK)]
    primary = leads[cycle % len(leads)]
    companions = _companion_glyphs(subject, primary, style)
    scale = {0: 0.7, 1: 0.58, 2: 0.66, 3: 0.56}[composition]
    if companions:
        scale = min(scale, 0.6 if len(companions) <= 4 else 0.44)
    centre, offset = (side // 2, side // 2), (side // 12 if composition == 1 else 0)
    own = int(side * scale)
    first = Placement(primary, (centre[0] - own // 2 - offset, centre[1] - own // 2 - offset, own), "subject")
    boxes = _ring(len(companions), composition, side, centre)
    return (first, *(Placement(n, box, "companion") for n, box in zip(companions, boxes, strict=True)))


def _plan_icon(spec: ImageSpec, subject: subjects.Subject) -> _Icon:
    """The style, palette, glyphs and composition of an icon."""
    style = spec.style if spec.style in offline_styles.STYLES else offline_styles.DEFAULT_STYLE
    top, bottom, main, accent = _palette(spec)
    # Variations differ on purpose: 1 centred, 2 off-centre with a larger companion, 3 tilted, 4 mirrored
    # and smaller; from the fifth on, the next-best subject takes the lead.
    composition, cycle = (spec.variation - 1) % 4, (spec.variation - 1) // 4
    if cycle % 2:  # later cycles also recolour, so even a lone icon never repeats itself
        main, accent = accent, main
    size = (spec.width * 2, spec.height * 2)
    placements = _icon_placements(subject, style, min(size), composition, cycle)
    if size[0] != size[1]:  # a non-square icon: the square layout centred along the longer side
        dx, dy = (size[0] - min(size)) // 2, (size[1] - min(size)) // 2
        placements = tuple(
            Placement(p.glyph, (p.box[0] + dx, p.box[1] + dy, p.box[2]), p.role) for p in placements
        )
    return _Icon(style, size, top, bottom, main, accent, placements, composition, cycle)


def icon_layout(spec: ImageSpec) -> tuple[Placement, ...]:
    """Where an icon's glyphs go, in output pixels before the variation's tilt or mirror: the subject
    first, then every companion."""
    icon = _plan_icon(spec, subjects.choose(spec))
    return tuple(
        Placement(p.glyph, (p.box[0] // 2, p.box[1] // 2, p.box[2] // 2), p.role) for p in icon.placements
    )


def _is_dark(colour: RGB) -> bool:
    """A dark background (the dark scheme's): its badge is dark too, under a light symbol."""
    red, green, blue = colour
    return 0.299 * red + 0.587 * green + 0.114 * blue < 128


def _badge_colour(icon: _Icon) -> RGB:
    # The colour scheme decides (not the style): on a dark background, a dark badge under a light symbol.
    if _is_dark(icon.top):
        return _mix(icon.bottom, icon.main, 0.12)
    return _mix(icon.top, (255, 255, 255), 0.55)


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
    badge_colour = _badge_colour(icon)
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
        _draw_blobs(canvas, icon, rng)
    elif style in ("detailed", "realistic"):
        draw.ellipse([bx0, by0, bx0 + badge, by0 + badge], fill=badge_colour)


def _draw_blobs(canvas: Image.Image, icon: _Icon, rng: random.Random) -> None:
    """Abstract's translucent blobs, drawn and blurred at an eighth of the size and enlarged once:
    soft-edged, so the mosaic stays the sharp thing in the picture, and cheap."""
    side, eighth = icon.side // 8, (icon.size[0] // 8, icon.size[1] // 8)
    blobs = Image.new("RGBA", eighth, (0, 0, 0, 0))
    for _ in range(5):
        radius = rng.randint(side // 8, side // 3)
        ox, oy = rng.randint(0, eighth[0]), rng.randint(0, eighth[1])
        blob = Image.new("L", eighth, 0)
        ImageDraw.Draw(blob).ellipse([ox - radius, oy - radius, ox + radius, oy + radius], fill=90)
        colour = Image.new("RGBA", eighth, (*rng.choice([icon.accent, icon.main, icon.bottom]), 255))
        colour.putalpha(blob.filter(ImageFilter.GaussianBlur(radius / 4)))
        blobs.alpha_composite(colour)
    enlarged = blobs.resize(icon.size, Image.Resampling.BICUBIC)
    if canvas.mode == "RGBA":
        canvas.alpha_composite(enlarged)
    else:
        canvas.paste(enlarged, (0, 0), enlarged)


def _styled(name: str, side: int, style: str, ink: offline_styles.Ink) -> Image.Image:
    """The glyph drawn in its style at the output's resolution (half the canvas's), brought to `side`:
    the canvas's 2x smooths the shapes PIL draws; a styled glyph drawn at 2x would cost four times more."""
    tile = offline_styles.draw(name, max(8, side // 2), style, ink)
    return tile.resize((side, side), Image.Resampling.BICUBIC)


def _symbol_layer(icon: _Icon, rng: random.Random) -> Image.Image:
    """The subject and its companions, each drawn in the style, on a clear layer composed (tilted,
    mirrored) per variation."""
    side, (cx, cy), composition = icon.side, icon.centre, icon.composition
    layer = Image.new("RGBA", icon.size, (0, 0, 0, 0))
    paper = _badge_colour(icon) if icon.style in ("modern", "vintage", "detailed", "realistic") else icon.top
    inks = {
        "subject": offline_styles.Ink(icon.main, icon.accent, paper),
        "companion": offline_styles.Ink(icon.accent, icon.main, paper),
    }
    if composition == 1 and len(icon.placements) == 1:  # nothing to accompany it: an accent disc
        small = side // 3
        ImageDraw.Draw(layer).ellipse(
            [cx + side // 8, cy + side // 8, cx + side // 8 + small, cy + side // 8 + small],
            fill=(*icon.accent, 255),
        )
    for placement in icon.placements:
        x, y, glyph_side = placement.box
        layer.alpha_composite(_styled(placement.glyph, glyph_side, icon.style, inks[placement.role]), (x, y))
    if icon.cycle >= 2:
        ring = int(icon.placements[0].box[2] * 0.62)
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
    """The symbols laid on the canvas, then vintage's paper grain over all."""
    if canvas.mode == "RGBA":
        canvas.alpha_composite(layer)
    else:
        canvas.paste(layer, (0, 0), layer)
    if icon.style == "vintage" and canvas.mode == "RGB":
        grain = _noise(icon.size, rng, 40)
        canvas = Image.blend(canvas, Image.merge("RGB", (grain, grain, grain)), 0.08)
    return canvas


def render_icon(spec: ImageSpec, subject: subjects.Subject | None = None) -> Image.Image:
    """An icon: the subject's Material Design glyph and its companions, drawn in the style and colours
    asked, composed per variation."""
    rng = random.Random(_seed(spec))  # one stream, drawn from in this order: the same spec, the same bytes
    icon = _plan_icon(spec, subject or subjects.choose(spec))
    canvas = _icon_canvas(spec, icon, rng)
    _draw_badge(canvas, icon, rng)
    canvas = _finish(canvas, _symbol_layer(icon, rng), icon, rng)
    return canvas.resize((spec.width, spec.height), Image.Resampling.LANCZOS)


def render_blog(spec: ImageSpec, subject: subjects.Subject | None = None) -> Image.Image:
    """A blog image: a scene chosen from the prompt, its subject first and large, companions beside it."""
    return offline_scenes.render(spec, subject or subjects.choose(spec), _seed(spec))


def blog_layout(spec: ImageSpec) -> offline_scenes.Scene:
    """A blog image's scene, time of day and placed glyphs, in output pixels: the subject first."""
    return offline_scenes.plan(spec, subjects.choose(spec), random.Random(_seed(spec)))


class OfflineProvider:
    """Renders locally; deterministic for a spec, no key and no network."""

    name = "offline"
    rate_limited = False  # local CPU: no provider limit to share
    # Rendering is CPU-bound: one at a time per invocation. Concurrent invocations use the cores;
    # more threads would only slow each other and the API on the same machine.
    parallel_calls = 1
    model = "offline-renderer-1"

    def generate(self, spec: ImageSpec) -> GeneratedImage:
        subject = subjects.choose(spec)  # what is drawn, and what the metadata says was drawn
        image = render_icon(spec, subject) if spec.kind == "icon" else render_blog(spec, subject)
        return GeneratedImage(
            data=encode(image, spec.output_format),
            content_type=CONTENT_TYPES[spec.output_format],
            provider=self.name,
            model=self.model,
            details={"offline_subject": subject.as_metadata()},
        )
