"""Blog scenes for the offline renderer: a setting chosen from the prompt, drawn as a setting (a table
top, the sea, a room, a city, mountains, fields, the sky, space, or abstract shapes) at the time of
day the prompt names, with the subject first and large on it and its companions beside it.

The setting comes from subjects.choose (its `setting` pick) when there is one, else from the prompt's
words, else from the seed, so prompts without a place still get varied scenes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from imagegen import templates
from imagegen.models.domain import ImageSpec
from imagegen.providers import icon_set, offline_styles, subjects
from imagegen.providers.offline_styles import mix

RGB = tuple[int, int, int]

# Words (stemmed as icon_set.words stems them) that name a setting, most specific first: "an astronaut
# far from home" is in space, "a laptop on an office desk" on a table, "a boat on the sea" at sea.
SCENE_WORDS: dict[str, tuple[str, ...]] = {
    "space": ("space", "galaxy", "planet", "orbit", "astronaut", "universe", "satellite", "cosmic"),
    "table": (
        "table",
        "desk",
        "kitchen",
        "counter",
        "plate",
        "breakfast",
        "dinner",
        "lunch",
        "restaurant",
        "wooden",
        "cafe",
        "bakery",
        "recipe",
        "cooking",
    ),
    "room": (
        "office",
        "meeting",
        "room",
        "indoor",
        "interior",
        "home",
        "studio",
        "classroom",
        "library",
        "workspace",
        "team",
        "house",
        "living",
        "bedroom",
        "shop",
        "store",
        "gym",
    ),
    "sea": (
        "sea",
        "ocean",
        "wave",
        "waves",  # stemmed "waf": the glyph "waves" as a setting
        "beach",
        "coast",
        "harbour",
        "harbor",
        "lake",
        "river",
        "sail",
        "boat",
        "island",
        "surf",
        "kayak",
        "lighthouse",
        "water",
        "shore",
        "port",
        "ship",
    ),
    "city": ("city", "street", "urban", "skyline", "downtown", "building", "town", "traffic", "road"),
    "mountain": ("mountain", "snow", "ski", "hike", "hiking", "peak", "alpine", "winter", "camping", "climb"),
    "field": (
        "garden",
        "field",
        "farm",
        "park",
        "forest",
        "meadow",
        "tree",
        "countryside",
        "nature",
        "outdoor",
        "spring",
        "summer",
        "vegetable",
    ),
    "sky": (
        "sky",
        "cloud",
        "cloudy",
        "flight",
        "fly",
        "flying",
        "rocket",
        "launch",
        "air",
        "balloon",
        "bird",
        "kite",
        "plane",
        "airplane",
        "drone",
    ),
    "abstract": (
        "abstract",
        "concept",
        "idea",
        "data",
        "network",
        "technology",
        "digital",
        "future",
        "ai",
        "software",
        "security",
        "cybersecurity",
        "finance",
        "strategy",
        "growth",
        "innovation",
    ),
}
TIME_WORDS: dict[str, tuple[str, ...]] = {
    "night": ("night", "midnight", "moon", "star", "dark", "nighttime"),
    "storm": ("storm", "stormy", "rain", "rainy", "fog", "foggy", "thunder"),
    "dawn": ("dawn", "sunrise", "morning", "daybreak"),
    "dusk": ("sunset", "dusk", "evening", "twilight", "golden"),
}
# Scenes for prompts that name no place: outdoors and indoors in turn, by seed.
FALLBACK_SCENES = ("field", "room", "city", "abstract", "sky", "mountain")
# Sky colours (zenith, horizon) and a light for each time of day.
SKIES: dict[str, tuple[RGB, RGB, RGB]] = {
    "day": ((92, 160, 226), (206, 230, 250), (255, 246, 214)),
    "dawn": ((74, 92, 164), (255, 192, 156), (255, 226, 180)),
    "dusk": ((58, 40, 108), (250, 148, 92), (255, 204, 120)),
    "night": ((8, 14, 40), (36, 56, 98), (236, 240, 255)),
    "storm": ((58, 66, 80), (142, 150, 160), (210, 214, 220)),
}
SCHEME_FOR_TIME = {"night": "dark", "dusk": "warm_tones", "dawn": "warm_tones", "storm": "monochrome"}


@dataclass(frozen=True)
class Placement:
    """One glyph placed in a picture: its square (left, top, side) in output pixels, and its role."""

    glyph: str
    box: tuple[int, int, int]
    role: str


@dataclass(frozen=True)
class Scene:
    """A blog image decided before drawing: the kind of scene, the time of day, where the ground is (a
    fraction of the height; None when the subject floats) and what is placed where."""

    kind: str
    time: str
    ground: float | None
    placements: tuple[Placement, ...]


def _first(words: list[str], table: dict[str, tuple[str, ...]]) -> str | None:
    """The first entry of `table` with a key among `words` (both stemmed alike: "waves", "wave")."""
    for name, keys in table.items():
        if set(words) & set(icon_set.words(" ".join(keys))):
            return name
    return None


def scene_kind(spec: ImageSpec, subject: subjects.Subject, rng: random.Random) -> str:
    """The setting's scene, else the prompt's place words, else one of the fallback scenes by seed."""
    if subject.setting is not None:
        named = _first(
            icon_set.words(subject.setting.glyph.replace("-", " "), *subject.setting.words), SCENE_WORDS
        )
        if named:
            return named
    return _first(icon_set.words(spec.user_prompt or spec.prompt), SCENE_WORDS) or rng.choice(FALLBACK_SCENES)


def time_of_day(spec: ImageSpec, kind: str) -> str:
    """The time the prompt names; space is always night, and other scenes default to day."""
    named = _first(icon_set.words(spec.user_prompt or spec.prompt), TIME_WORDS)
    return "night" if kind == "space" else named or "day"


GROUND = {"table": 0.8, "room": 0.84, "sea": 0.66, "city": 0.9, "mountain": 0.88, "field": 0.84}


def plan(spec: ImageSpec, subject: subjects.Subject, rng: random.Random) -> Scene:
    """The scene, and the subject large in the middle with its companions beside it on the ground."""
    kind = scene_kind(spec, subject, rng)
    width, height = spec.width, spec.height
    ground = GROUND.get(kind)
    companions = [p.glyph for p in subject.companions if p.glyph != subject.subject.glyph]
    side = int(min(height * (0.5 if ground else 0.56), width * 0.5))
    small = int(min(side * 0.45, width * 0.8 / max(1, len(companions)) / 1.2)) if companions else 0
    base = int(height * ground) if ground else (height + side) // 2
    x = width // 2 - side // 2
    placed = [Placement(subject.subject.glyph, (x, base - side, side), "subject")]
    left, right = x - small // 6, x + side + small // 6
    for n, name in enumerate(companions):  # alternately right and left of the subject, outward
        if n % 2 == 0:
            placed.append(Placement(name, (right, base - small, small), "companion"))
            right += int(small * 1.1)
        else:
            left -= small
            placed.append(Placement(name, (left, base - small, small), "companion"))
            left -= small // 10
    return Scene(kind, time_of_day(spec, kind), ground, tuple(placed))


def _vertical(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    line = Image.linear_gradient("L").resize(size)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), line)


def _sky(canvas: Image.Image, time: str, horizon: int, rng: random.Random) -> None:
    """A sky down to `horizon`: its gradient, the sun (low at dawn and dusk) or moon and stars, clouds."""
    width = canvas.size[0]
    zenith, low, light = SKIES[time]
    canvas.paste(_vertical((width, max(1, horizon)), zenith, low), (0, 0))
    draw = ImageDraw.Draw(canvas)
    radius = max(8, canvas.size[1] // 14)
    sx = rng.randint(width // 6, width * 5 // 6)
    sy = (
        horizon - radius // 2
        if time in ("dawn", "dusk")
        else rng.randint(radius * 2, max(radius * 2 + 1, horizon // 3))
    )
    if time == "night":
        for _ in range(140):
            x, y, r = rng.randrange(width), rng.randrange(max(1, horizon)), rng.choice((1, 1, 2))
            draw.ellipse([x - r, y - r, x + r, y + r], fill=(230, 236, 255))
    if time != "storm":
        _glow(canvas, (sx, sy), radius * 3, light)
        draw.ellipse([sx - radius, sy - radius, sx + radius, sy + radius], fill=light)
        if time == "night":  # a crescent: the sky's own colour bites the disc
            draw.ellipse(
                [sx - radius // 2, sy - radius, sx + radius * 3 // 2, sy + radius * 2 // 3], fill=zenith
            )
    for _ in range(5 if time == "storm" else 3):
        _cloud(
            draw,
            (rng.randrange(width), rng.randint(horizon // 10, max(horizon // 10 + 1, horizon * 2 // 3))),
            rng.randint(width // 16, width // 8),
            mix(low, (255, 255, 255), 0.5) if time != "storm" else mix(zenith, low, 0.3),
        )


def _glow(canvas: Image.Image, centre: tuple[int, int], radius: int, colour: RGB) -> None:
    """A soft halo, blurred on its own square only."""
    box = (centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius)
    halo = Image.new("L", (2 * radius, 2 * radius), 0)
    ImageDraw.Draw(halo).ellipse([radius // 2, radius // 2, radius * 3 // 2, radius * 3 // 2], fill=110)
    canvas.paste(colour, box, halo.filter(ImageFilter.GaussianBlur(radius / 4)))


def _cloud(draw: ImageDraw.ImageDraw, at: tuple[int, int], size: int, colour: RGB) -> None:
    x, y = at
    for dx, dy, r in ((0, 0, 1.0), (0.8, 0.15, 0.75), (-0.8, 0.2, 0.7), (0.35, -0.35, 0.7)):
        cx, cy, rr = x + dx * size, y + dy * size, r * size * 0.6
        draw.ellipse([cx - rr, cy - rr * 0.7, cx + rr, cy + rr * 0.7], fill=colour)


def _waves(canvas: Image.Image, horizon: int, time: str, rng: random.Random) -> None:
    """The sea below the horizon: deep water, wave crests widening toward the viewer, a sun path."""
    width, height = canvas.size
    zenith, low, light = SKIES[time]
    water_top, water_bottom = mix(low, (20, 60, 110), 0.45), mix(zenith, (6, 30, 60), 0.5)
    canvas.paste(_vertical((width, height - horizon), water_top, water_bottom), (0, horizon))
    draw = ImageDraw.Draw(canvas)
    row, gap = horizon + 6, 6.0
    while row < height:
        phase, amplitude = rng.uniform(0, math.tau), gap * 0.35
        crest = mix(water_top, (255, 255, 255), 0.35)
        points = [(x, row + amplitude * math.sin(phase + x / (gap * 4))) for x in range(0, width + 12, 12)]
        draw.line(points, fill=crest, width=max(1, int(gap / 6)))
        row, gap = row + int(gap), gap * 1.22
    for n in range(14):  # the light's path on the water
        y = horizon + int((height - horizon) * n / 14)
        half = int(width * (0.01 + 0.012 * n))
        draw.line([(width // 2 - half, y), (width // 2 + half, y)], fill=mix(light, water_top, 0.3), width=2)


def _table(canvas: Image.Image, time: str, ground: int, rng: random.Random) -> None:
    """A wall with a window onto the sky, and a wooden table top in perspective with its grain."""
    width, height = canvas.size
    wall = mix((232, 220, 200), SKIES[time][0], 0.35 if time == "night" else 0.1)
    top = int(height * 0.56)
    canvas.paste(_vertical((width, top), mix(wall, (255, 255, 255), 0.2), wall), (0, 0))
    window = Image.new("RGB", (int(width * 0.36), int(top * 0.7)))
    _sky(window, time, window.size[1], rng)
    wx, wy = int(width * 0.58), int(top * 0.12)
    canvas.paste(window, (wx, wy))
    draw = ImageDraw.Draw(canvas)
    frame = mix(wall, (90, 70, 50), 0.5)
    draw.rectangle(
        [wx, wy, wx + window.size[0], wy + window.size[1]], outline=frame, width=max(4, width // 180)
    )
    draw.line(
        [(wx + window.size[0] // 2, wy), (wx + window.size[0] // 2, wy + window.size[1])],
        fill=frame,
        width=max(3, width // 240),
    )
    wood, edge = (176, 120, 72), (120, 78, 44)
    canvas.paste(
        _vertical((width, height - top), mix(wall, (0, 0, 0), 0.35), mix(wall, (0, 0, 0), 0.55)), (0, top)
    )
    draw.polygon(
        [(width * 0.06, top), (width * 0.94, top), (width, height * 0.92), (0, height * 0.92)], fill=wood
    )
    draw.rectangle([0, int(height * 0.92), width, height], fill=edge)
    for n in range(9):  # grain: long wavy lines that fan out toward the viewer
        spread, phase = (n + 0.5) / 9, rng.uniform(0, math.tau)
        points = []
        for step in range(0, 41):
            t = step / 40
            y = top + (height * 0.92 - top) * t
            x = width * (0.06 + 0.88 * spread) + (spread - 0.5) * width * 0.12 * t
            points.append((x + 6 * math.sin(phase + t * 9), y))
        draw.line(points, fill=mix(wood, edge, 0.45), width=2)
    del ground


def _room(canvas: Image.Image, time: str, ground: int, rng: random.Random) -> None:
    """A room: a wall with a wide window onto a skyline, and a floor whose boards run to the horizon."""
    width, height = canvas.size
    wall = mix((214, 222, 230), SKIES[time][0], 0.4 if time == "night" else 0.12)
    floor_top = int(height * 0.64)
    canvas.paste(_vertical((width, floor_top), mix(wall, (255, 255, 255), 0.25), wall), (0, 0))
    window = Image.new("RGB", (int(width * 0.56), int(floor_top * 0.66)))
    _sky(window, time, window.size[1], rng)
    _skyline(window, window.size[1], time, rng, 0.45)
    wx, wy = (width - window.size[0]) // 2, int(floor_top * 0.1)
    canvas.paste(window, (wx, wy))
    draw = ImageDraw.Draw(canvas)
    frame = mix(wall, (40, 48, 60), 0.6)
    for n in range(4):
        x = wx + window.size[0] * n // 3
        draw.line([(x, wy), (x, wy + window.size[1])], fill=frame, width=max(4, width // 200))
    draw.rectangle(
        [wx, wy, wx + window.size[0], wy + window.size[1]], outline=frame, width=max(5, width // 160)
    )
    floor = (150, 120, 96) if time != "night" else (70, 60, 56)
    canvas.paste(_vertical((width, height - floor_top), mix(floor, (0, 0, 0), 0.2), floor), (0, floor_top))
    draw.rectangle([0, floor_top - height // 60, width, floor_top], fill=mix(wall, (0, 0, 0), 0.25))
    vanish = (width / 2, floor_top - height * 0.6)
    for n in range(-12, 13):  # boards: lines from the floor's front edge toward a vanishing point
        front = width / 2 + n * width / 12
        t = (floor_top - vanish[1]) / (height - vanish[1])
        draw.line(
            [(vanish[0] + (front - vanish[0]) * t, floor_top), (front, height)],
            fill=mix(floor, (0, 0, 0), 0.3),
            width=2,
        )
    del ground


def _skyline(canvas: Image.Image, base: int, time: str, rng: random.Random, tallest: float) -> None:
    """Buildings along `base`, lit windows after dark."""
    width, height = canvas.size
    draw = ImageDraw.Draw(canvas)
    zenith, low, _ = SKIES[time]
    x = 0
    while x < width:
        w = rng.randint(width // 22, width // 9)
        h = int(base * rng.uniform(0.25, tallest))
        colour = mix(zenith, (20, 24, 34), rng.uniform(0.3, 0.6))
        draw.rectangle([x, base - h, x + w, base], fill=colour)
        lit = (255, 214, 120) if time in ("night", "dusk", "storm") else mix(low, (255, 255, 255), 0.3)
        for wy in range(base - h + 8, base - 8, 14):
            for wx in range(x + 5, x + w - 8, 12):
                if rng.random() < 0.45:
                    draw.rectangle([wx, wy, wx + 4, wy + 6], fill=lit)
        x += w + rng.randint(0, width // 60)
    del height


def _city(canvas: Image.Image, time: str, ground: int, rng: random.Random) -> None:
    width, height = canvas.size
    horizon = int(height * 0.8)
    _sky(canvas, time, horizon, rng)
    _skyline(canvas, horizon, time, rng, 0.75)
    canvas.paste(_vertical((width, height - horizon), (70, 74, 84), (44, 46, 54)), (0, horizon))
    draw = ImageDraw.Draw(canvas)
    for x in range(0, width, width // 10):  # the road's lane marks
        draw.rectangle([x, int(height * 0.93), x + width // 20, int(height * 0.94)], fill=(230, 220, 170))
    del ground


def _ridges(canvas: Image.Image, time: str, rng: random.Random, peaks: bool) -> None:
    """Layers of land from far (pale) to near (strong): jagged peaks with snow, or rolling hills."""
    width, height = canvas.size
    zenith, low, _ = SKIES[time]
    land = (70, 110, 90) if not peaks else (90, 100, 124)
    for layer in range(4):
        base = height * (0.5 + 0.12 * layer)
        colour = mix(mix(land, (30, 40, 40), layer / 5), low, 0.45 - 0.12 * layer)
        if time == "night":
            colour = mix(colour, zenith, 0.6)
        if peaks:
            xs = list(range(-width // 8, width + width // 4, width // rng.randint(4, 7)))
            points = [(x, base - (height * rng.uniform(0.1, 0.3) if i % 2 else 0)) for i, x in enumerate(xs)]
        else:
            phase, amplitude, waves = (
                rng.uniform(0, math.tau),
                height * rng.uniform(0.03, 0.08),
                rng.uniform(1, 2.5),
            )
            points = [
                (x, base + amplitude * math.sin(phase + waves * math.tau * x / width))
                for x in range(0, width + 16, 16)
            ]
        ImageDraw.Draw(canvas).polygon(
            [(points[0][0], height), *points, (points[-1][0], height)], fill=colour
        )
        if peaks and layer == 0:
            for (x0, y0), (x1, y1), (x2, y2) in zip(points, points[1:], points[2:], strict=False):
                if y1 < y0 and y1 < y2:  # a summit: its snow cap
                    cap = 0.3
                    ImageDraw.Draw(canvas).polygon(
                        [
                            (x1, y1),
                            (x1 + (x2 - x1) * cap, y1 + (y2 - y1) * cap),
                            (x1 + (x0 - x1) * cap, y1 + (y0 - y1) * cap),
                        ],
                        fill=(244, 246, 250),
                    )


def _mountain(canvas: Image.Image, time: str, ground: int, rng: random.Random) -> None:
    _sky(canvas, time, int(canvas.size[1] * 0.6), rng)
    _ridges(canvas, time, rng, peaks=True)
    del ground


def _field(canvas: Image.Image, time: str, ground: int, rng: random.Random) -> None:
    _sky(canvas, time, int(canvas.size[1] * 0.62), rng)
    _ridges(canvas, time, rng, peaks=False)
    del ground


def _sea(canvas: Image.Image, time: str, ground: int, rng: random.Random) -> None:
    horizon = int(canvas.size[1] * 0.55)
    _sky(canvas, time, horizon, rng)
    _waves(canvas, horizon, time, rng)
    del ground


def _open_sky(canvas: Image.Image, time: str, ground: int, rng: random.Random) -> None:
    """All sky, a low strip of land at the bottom."""
    width, height = canvas.size
    _sky(canvas, time, height, rng)
    points = [(x, height * 0.93 + height * 0.02 * math.sin(x / width * 7)) for x in range(0, width + 16, 16)]
    ImageDraw.Draw(canvas).polygon(
        [(0, height), *points, (width, height)], fill=mix(SKIES[time][0], (20, 30, 30), 0.6)
    )
    del ground


def _space(canvas: Image.Image, time: str, ground: int, rng: random.Random) -> None:
    """Deep space: stars, and a ringed planet."""
    width, height = canvas.size
    canvas.paste(_vertical((width, height), (4, 6, 20), (22, 18, 52)), (0, 0))
    draw = ImageDraw.Draw(canvas)
    for _ in range(260):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.choice((1, 1, 1, 2))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(236, 238, 255))
    r = height // 6
    px, py = rng.choice((width // 6, width * 5 // 6)), rng.randint(r, height // 2)
    draw.ellipse([px - r, py - r, px + r, py + r], fill=(196, 140, 100))
    draw.ellipse(
        [px - r * 2, py - r // 3, px + r * 2, py + r // 3], outline=(230, 200, 160), width=max(3, r // 12)
    )
    del ground


def _abstract(canvas: Image.Image, time: str, ground: int, rng: random.Random) -> None:
    """No place: a diagonal gradient under large translucent geometric shapes and a grid of dots."""
    width, height = canvas.size
    top, bottom, main, accent = templates.palette(
        rng.choice(("pastel", "blue_tones", "colorful", "warm_tones"))
    )
    line = Image.linear_gradient("L").resize((width, height)).rotate(30, fillcolor=128)
    canvas.paste(
        Image.composite(
            Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), line
        )
    )
    shapes = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(shapes)
    for n in range(6):
        colour = (*(main, accent, bottom)[n % 3], 70)
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randint(height // 6, height // 2)
        if n % 2:
            draw.polygon([(x, y - r), (x + r, y + r), (x - r, y + r)], fill=colour)
        else:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    step = height // 14
    for y in range(step, height, step):
        for x in range(step, width // 4, step):
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(*main, 120))
    canvas.paste(shapes, (0, 0), shapes)
    del time, ground


SETTINGS: dict[str, Callable[[Image.Image, str, int, random.Random], None]] = {
    "table": _table,
    "room": _room,
    "sea": _sea,
    "city": _city,
    "mountain": _mountain,
    "field": _field,
    "space": _space,
    "sky": _open_sky,
    "abstract": _abstract,
}


def _ink(spec: ImageSpec, scene: Scene, behind: Image.Image, rng: random.Random) -> offline_styles.Ink:
    """The scheme asked for (else one for the time of day, else by seed), made to stand out from what
    is behind the subject: a dark glyph on a dark sea would vanish."""
    name = (
        spec.color_scheme
        or SCHEME_FOR_TIME.get(scene.time)
        or rng.choice(("colorful", "blue_tones", "brand_colors", "pastel"))
    )
    _, _, main, accent = templates.palette(name)
    ground = behind.convert("L").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    level = ground if isinstance(ground, int) else 128

    def luma(colour: RGB) -> float:
        return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]

    if abs(luma(main) - level) < 90:
        main = mix(main, (255, 255, 255) if level < 128 else (20, 20, 28), 0.75)
    if abs(luma(accent) - level) < 70:
        accent = mix(accent, (255, 255, 255) if level < 128 else (20, 20, 28), 0.6)
    return offline_styles.Ink(main, accent, behind.resize((1, 1)).convert("RGB").getpixel((0, 0)))  # type: ignore[arg-type]


def _contact(canvas: Image.Image, box: tuple[int, int, int], reflect: Image.Image | None) -> None:
    """Where a placed glyph meets the ground: a soft shadow under it, or on water its faded reflection."""
    x, y, side = box
    base = y + side
    if reflect is not None:
        mirrored = ImageOps.flip(reflect).resize((side, side // 2))
        alpha = mirrored.getchannel("A").point(lambda v: v * 2 // 7)
        canvas.paste(mirrored.convert("RGB"), (x, base), alpha)
        return
    shadow = Image.new("L", (side * 2, side // 3), 0)
    ImageDraw.Draw(shadow).ellipse([side // 2, side // 12, side * 3 // 2, side // 4], fill=120)
    canvas.paste(
        (0, 0, 0), (x - side // 2, base - side // 6), shadow.filter(ImageFilter.GaussianBlur(side / 30))
    )


def render(spec: ImageSpec, subject: subjects.Subject, seed: int) -> Image.Image:
    """The blog image for the spec: the scene first, then the subject and companions on it."""
    scene = plan(spec, subject, random.Random(seed))
    rng = random.Random(seed + 1)  # the drawing's own stream: the plan never depends on drawing
    canvas = Image.new("RGB", (spec.width, spec.height))
    ground = int(spec.height * (scene.ground or 1.0))
    SETTINGS[scene.kind](canvas, scene.time, ground, rng)
    x, y, side = scene.placements[0].box
    ink = _ink(spec, scene, canvas.crop((x, y, x + side, y + side)), rng)
    style = spec.style if spec.style in offline_styles.STYLES else "realistic"
    for placement in scene.placements:
        x, y, side = placement.box
        own = ink if placement.role == "subject" else offline_styles.Ink(ink.accent, ink.main, ink.paper)
        tile = offline_styles.draw(placement.glyph, side, style, own)
        if scene.ground is not None:
            _contact(canvas, placement.box, tile if scene.kind == "sea" else None)
        elif placement.role == "subject":
            _glow_behind(canvas, placement.box, ink.paper)
        canvas.paste(tile, (x, y), tile)
    return canvas


def _glow_behind(canvas: Image.Image, box: tuple[int, int, int], colour: RGB) -> None:
    """A floating subject's halo, so it reads against sky or shapes."""
    x, y, side = box
    _glow(canvas, (x + side // 2, y + side // 2), side, mix(colour, (255, 255, 255), 0.6))
