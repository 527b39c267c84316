"""The offline renderer: right sizes, deterministic, and visibly different where asked."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageStat

from imagegen.errors import PermanentGenerationError
from imagegen.models.domain import ImageSpec
from imagegen.providers import icon_set
from imagegen.providers.offline import OfflineProvider
from imagegen.providers.registry import DEFAULT_MODEL
from imagegen.providers.validation import validate_image
from tests.helpers import png_size

PROVIDER = OfflineProvider()


def _icon(**changes: object) -> ImageSpec:
    base: dict[str, object] = {
        "kind": "icon",
        "prompt": "tools",
        "width": 1024,
        "height": 1024,
        "key": "k.png",
        "category": "tools",
        "style": "flat",
        "color_scheme": "blue_tones",
        "variation": 1,
        "model": DEFAULT_MODEL,
    }
    return ImageSpec.model_validate({**base, **changes})


def _difference(a: bytes, b: bytes) -> float:
    first, second = (Image.open(io.BytesIO(x)).convert("RGB") for x in (a, b))
    return sum(ImageStat.Stat(ImageChops.difference(first, second)).mean)


def test_icon_is_a_1024_square_png_and_deterministic() -> None:
    first, again = PROVIDER.generate(_icon()), PROVIDER.generate(_icon())
    assert png_size(first.data) == (1024, 1024)
    assert first.data == again.data


def test_blog_image_has_the_requested_size() -> None:
    spec = ImageSpec(
        kind="blog",
        prompt="a laptop on a desk at sunset",
        width=1792,
        height=1024,
        key="k.png",
        model=DEFAULT_MODEL,
    )
    assert png_size(PROVIDER.generate(spec).data) == (1792, 1024)


@pytest.mark.parametrize(
    "changes",
    [
        {"variation": 2},
        {"variation": 3},
        {"variation": 4},
        {"variation": 5},
        {"style": "vintage"},
        {"color_scheme": "warm_tones"},
        {"category": "automotive", "prompt": "automotive"},
    ],
)
def test_variations_styles_colours_and_categories_change_the_picture(changes: dict[str, object]) -> None:
    assert _difference(PROVIDER.generate(_icon()).data, PROVIDER.generate(_icon(**changes)).data) > 3


@pytest.mark.parametrize(
    ("category", "icon"),
    [
        ("Office Supplies", "pencil"),
        ("electronics", "laptop"),
        ("automotive", "car"),
        ("tools", "tools"),
        ("gardening", "sprout"),
        ("pet food", "paw"),
        ("A lighthouse over a stormy sea", "lighthouse"),
        ("bicycles", "bicycle"),
        ("fountain pen", "fountain-pen"),
    ],
)
def test_categories_pick_a_matching_icon(category: str, icon: str) -> None:
    assert icon_set.search(category)[0] == icon


def test_unknown_category_still_gets_an_icon() -> None:
    assert icon_set.search("zzyzx") == ["tag"]


def test_custom_elements_appear_in_the_icon() -> None:
    plain = PROVIDER.generate(_icon(width=256, height=256)).data
    with_pen = PROVIDER.generate(_icon(width=256, height=256, custom_elements=("pen",))).data
    assert _difference(plain, with_pen) > 1


def test_validation_rejects_truncated_wrong_size_and_non_png_bytes() -> None:
    data = PROVIDER.generate(_icon(width=256, height=256)).data
    validate_image(data, "png", 256, 256, 5_000_000)
    for bad, width, height in ((data[:-200], 256, 256), (data, 512, 512), (b"GIF89a" + data, 256, 256)):
        with pytest.raises(PermanentGenerationError):
            validate_image(bad, "png", width, height, 5_000_000)
    with pytest.raises(PermanentGenerationError):
        validate_image(data, "png", 256, 256, 100)


def test_validation_rejects_a_decompression_bomb_before_decoding_it() -> None:
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, format="PNG")  # tiny file, 400 Mpixels
    with pytest.raises(PermanentGenerationError):
        validate_image(bomb.getvalue(), "png", 1024, 1024, 5_000_000)


def test_all_ten_variations_of_one_request_are_distinct() -> None:
    images = [PROVIDER.generate(_icon(width=256, height=256, variation=n)).data for n in range(1, 11)]
    for i, first in enumerate(images):
        for second in images[i + 1 :]:
            assert _difference(first, second) > 3


@pytest.mark.parametrize("fmt", ["webp", "jpeg"])
def test_each_format_validates_as_itself_only(fmt: str) -> None:
    from imagegen.providers.validation import validate_image

    data = PROVIDER.generate(_icon(width=256, height=256, output_format=fmt)).data
    validate_image(data, fmt, 256, 256, 5_000_000)
    with pytest.raises(PermanentGenerationError):
        validate_image(data, "png", 256, 256, 5_000_000)
    with pytest.raises(PermanentGenerationError):
        validate_image(data[: len(data) // 2], fmt, 256, 256, 5_000_000)


def test_transparent_icons_have_a_clear_background() -> None:
    data = PROVIDER.generate(_icon(width=256, height=256, background="transparent")).data
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "RGBA"
        corner, centre = image.getpixel((0, 0)), image.getpixel((128, 128))
        assert isinstance(corner, tuple) and isinstance(centre, tuple)  # RGBA: one value per band
        assert corner[3] == 0  # a corner is fully transparent
        assert centre[3] == 255  # the symbol is opaque


def _badge_luminance(data: bytes) -> float:
    """Mean luminance of a strip inside the badge, above the symbol (the badge spans 8%-92% of the side)."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        strip = image.convert("L").crop(
            (int(width * 0.4), int(height * 0.095), int(width * 0.6), int(height * 0.13))
        )
        return float(ImageStat.Stat(strip).mean[0])


@pytest.mark.parametrize("style", ["modern", "detailed", "realistic"])
def test_a_dark_scheme_icon_has_a_dark_badge_under_its_light_symbol(style: str) -> None:
    # Given the same icon in the dark scheme and in a light one
    dark = PROVIDER.generate(_icon(width=256, height=256, style=style, color_scheme="dark")).data
    light = PROVIDER.generate(_icon(width=256, height=256, style=style, color_scheme="blue_tones")).data
    # Then the dark scheme's badge is dark (its symbol is drawn light), the light scheme's is light
    assert _badge_luminance(dark) < 60
    assert _badge_luminance(light) > 200
