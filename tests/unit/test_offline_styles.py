"""The offline renderer's styles change the drawing of the glyph, not only its frame, and every custom
element is drawn.

The measure: on the subject glyph's own area (its square from the layout, masked to the glyph's
silhouette grown a little), where each picture has strong edges, as a blurred map of edge presence
relative to the picture's own strongest edges; two pictures differ by the share of edge presence that
the other lacks. Colours and backgrounds change how strong an edge is, hardly where it is, so
backgrounds and colour schemes score low (the controls below) while different drawings score high.
"""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat

from imagegen.models.domain import ImageSpec
from imagegen.providers import offline_styles, subjects
from imagegen.providers.offline import OfflineProvider, icon_layout
from imagegen.providers.registry import DEFAULT_MODEL

PROVIDER = OfflineProvider()
SIDE = 384
# Different drawings measured 0.2-0.8 over six categories (the closest pair 0.2); the same drawing
# on another background or in another light colour scheme measured at most 0.09.
THRESHOLD = 0.12
CROP = 256  # each picture's glyph square is brought to this side, so a smaller subject still compares
Region = tuple[tuple[int, int, int, int], Image.Image]


def _icon(**changes: object) -> ImageSpec:
    base: dict[str, object] = {
        "kind": "icon",
        "prompt": "tools",
        "width": SIDE,
        "height": SIDE,
        "key": "k.png",
        "category": "tools",
        "style": "flat",
        "color_scheme": "blue_tones",
        "variation": 1,
        "model": DEFAULT_MODEL,
    }
    return ImageSpec.model_validate({**base, **changes})


def _render(spec: ImageSpec) -> Image.Image:
    return Image.open(io.BytesIO(PROVIDER.generate(spec).data)).convert("RGBA")


def _glyph_region(spec: ImageSpec) -> Region:
    """The subject's square in the picture, and its silhouette (at CROP pixels) grown by a fortieth."""
    subject = icon_layout(spec)[0]
    assert subject.role == "subject"
    x, y, side = subject.box
    silhouette = offline_styles.mask(subject.glyph, CROP)
    grown = silhouette.filter(ImageFilter.GaussianBlur(CROP / 40)).point(lambda v: 255 if v > 8 else 0)
    return (x, y, x + side, y + side), grown


def _edges(gray: Image.Image) -> Image.Image:
    """Sobel magnitude (either polarity: a light glyph on dark and a dark one on light give the same)."""
    magnitude = Image.new("L", gray.size, 0)
    for kernel in ([-1, 0, 1, -2, 0, 2, -1, 0, 1], [-1, -2, -1, 0, 0, 0, 1, 2, 1]):
        one = gray.filter(ImageFilter.Kernel((3, 3), kernel, scale=8, offset=128))
        magnitude = ImageChops.add(magnitude, one.point(lambda v: min(255, abs(v - 128) * 2)))
    return magnitude.filter(ImageFilter.GaussianBlur(2))


def _presence(image: Image.Image, region: Region) -> Image.Image:
    """Where the picture has an edge at least 40 % as strong as its strongest (97th percentile) ones."""
    box, mask = region
    gray = image.convert("RGB").crop(box).convert("L").resize((CROP, CROP), Image.Resampling.BILINEAR)
    edges = _edges(ImageOps.autocontrast(gray, cutoff=1))
    counts, seen, level = edges.histogram(mask), 0, 0
    for level, count in enumerate(counts):  # noqa: B007 - the loop finds the percentile's level
        seen += count
        if seen >= 0.97 * sum(counts):
            break
    cut = max(8, level * 40 // 100)
    return edges.point(lambda v: 255 if v >= cut else 0).filter(ImageFilter.GaussianBlur(2))


def drawing_difference(
    first: Image.Image, second: Image.Image, region: Region, other: Region | None = None
) -> float:
    """0 for the same drawing; up to 1 when no edge of one is where the other has one. `other` is the
    second picture's region when its subject sits elsewhere (the same glyph, so the same mask)."""
    a, b = _presence(first, region), _presence(second, other or region)
    mask = region[1]
    apart = ImageStat.Stat(ImageChops.difference(a, b), mask).mean[0]
    together = ImageStat.Stat(a, mask).mean[0] + ImageStat.Stat(b, mask).mean[0]
    return apart / max(together, 1e-6)


@pytest.mark.parametrize("category", ["tools", "pet food"])
def test_the_seven_styles_differ_pairwise_in_the_drawing_of_the_glyph(category: str) -> None:
    # Given one category drawn in each of the seven styles
    specs = {style: _icon(category=category, prompt=category, style=style) for style in offline_styles.STYLES}
    assert len({icon_layout(spec)[0].glyph for spec in specs.values()}) == 1  # one glyph, drawn seven ways
    regions = {style: _glyph_region(spec) for style, spec in specs.items()}
    images = {style: _render(spec) for style, spec in specs.items()}
    # Then every pair differs on the glyph's area by more than backgrounds and colours do
    scores = {
        (a, b): drawing_difference(images[a], images[b], regions[a], regions[b])
        for a, b in itertools.combinations(offline_styles.STYLES, 2)
    }
    closest = min(scores, key=scores.__getitem__)
    assert scores[closest] > THRESHOLD, (closest, scores[closest])


def _busy_background(size: tuple[int, int]) -> Image.Image:
    """A diagonal gradient under translucent discs, in the blue scheme's colours: a background as busy
    as the renderer's own."""
    ramp = Image.linear_gradient("L").resize(size).rotate(30, fillcolor=128)
    light, mid = Image.new("RGB", size, (224, 242, 254)), Image.new("RGB", size, (125, 185, 232))
    busy = Image.composite(mid, light, ramp).convert("RGBA")
    discs = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(discs)
    for n in range(8):
        x, y = n * size[0] // 9, (n * 73) % (size[1] * 3 // 4)
        draw.ellipse(
            [x, y, x + size[0] // 3, y + size[0] // 3], fill=((56, 189, 248, 90), (12, 74, 110, 90))[n % 2]
        )
    busy.alpha_composite(discs)
    return busy


@pytest.mark.parametrize("style", offline_styles.STYLES)
def test_the_measure_scores_the_same_drawing_on_another_background_below_the_threshold(style: str) -> None:
    # Given one glyph drawn once (a clear background), laid on white and on a busy background
    spec = _icon(style=style, background="transparent")
    drawn = _render(spec)
    on_white = Image.new("RGBA", drawn.size, (255, 255, 255, 255))
    on_white.alpha_composite(drawn)
    on_busy = _busy_background(drawn.size)
    on_busy.alpha_composite(drawn)
    # Then the measure sees the same drawing: it can fail, backgrounds alone do not pass it
    assert drawing_difference(on_white, on_busy, _glyph_region(spec)) < THRESHOLD


@pytest.mark.parametrize("style", ["flat", "modern", "realistic", "abstract"])
def test_the_measure_scores_another_light_colour_scheme_below_the_threshold(style: str) -> None:
    # Given the same style in two light colour schemes (same drawing, other colours and background)
    blue, warm = _icon(style=style), _icon(style=style, color_scheme="warm_tones")
    # Then the difference stays under the threshold the styles pass
    assert drawing_difference(_render(blue), _render(warm), _glyph_region(blue)) < THRESHOLD


ELEMENTS = ("pen", "paper", "coffee", "laptop", "camera", "music")


@pytest.mark.parametrize("style", offline_styles.STYLES)
@pytest.mark.parametrize("variation", [1, 2, 3, 4, 5])
def test_every_custom_element_is_placed_in_every_style_and_variation(style: str, variation: int) -> None:
    spec = _icon(style=style, variation=variation, custom_elements=ELEMENTS)
    wanted = {pick.glyph for pick in subjects.choose(spec).companions}
    layout = icon_layout(spec)
    placed = [p.glyph for p in layout if p.role == "companion"]
    assert len(wanted) >= 5  # the elements map to distinct glyphs: the check below has teeth
    assert wanted <= set(placed)
    for placement in layout:  # each inside the picture
        x, y, side = placement.box
        assert 0 <= x <= SIDE - side and 0 <= y <= SIDE - side


@pytest.mark.parametrize("style", offline_styles.STYLES)
def test_every_custom_element_is_drawn_where_it_is_placed(style: str) -> None:
    # Given an icon with three custom elements, and the same icon without them
    spec = _icon(style=style, custom_elements=("pen", "paper", "coffee"))
    plain, with_elements = _render(_icon(style=style)), _render(spec)
    companions = [p for p in icon_layout(spec) if p.role == "companion"]
    assert len(companions) == 3
    # Then each element's square shows something the plain icon does not have there
    for placement in companions:
        x, y, side = placement.box
        box = (x, y, x + side, y + side)
        change = ImageChops.difference(plain.convert("RGB").crop(box), with_elements.convert("RGB").crop(box))
        assert sum(ImageStat.Stat(change).mean) > 12, placement.glyph
