"""Offline blog images: a scene chosen from the prompt (or the subject's setting), the setting drawn as
a place rather than as glyphs, the subject first and large, and the same spec giving the same bytes."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from imagegen.models.domain import ImageSpec
from imagegen.providers import offline_scenes
from imagegen.providers.offline import OfflineProvider, blog_layout
from imagegen.providers.registry import DEFAULT_MODEL
from imagegen.providers.subjects import Pick, Subject

PROVIDER = OfflineProvider()


def _blog(prompt: str, **changes: object) -> ImageSpec:
    base: dict[str, object] = {
        "kind": "blog",
        "prompt": prompt,
        "width": 448,
        "height": 256,
        "key": "k.png",
        "model": DEFAULT_MODEL,
    }
    return ImageSpec.model_validate({**base, **changes})


def _render(spec: ImageSpec) -> Image.Image:
    return Image.open(io.BytesIO(PROVIDER.generate(spec).data)).convert("RGB")


@pytest.mark.parametrize(
    ("prompt", "kind", "time"),
    [
        ("A lighthouse over a stormy sea", "sea", "storm"),
        ("Fresh vegetables on a wooden table", "table", "day"),
        ("A team meeting in a modern office", "room", "day"),
        ("A rocket launching at dawn", "sky", "dawn"),
        ("A bicycle in a city street at night", "city", "night"),
        ("Hiking boots on a snowy mountain at sunset", "mountain", "dusk"),
        ("An astronaut far from home, among planets", "space", "night"),
        ("Cybersecurity consulting for small firms", "abstract", "day"),
    ],
)
def test_the_scene_and_time_of_day_follow_the_prompt(prompt: str, kind: str, time: str) -> None:
    scene = blog_layout(_blog(prompt))
    assert (scene.kind, scene.time) == (kind, time)


@pytest.mark.parametrize(
    ("setting", "kind"),
    [
        (Pick("table", ("wooden", "table")), "table"),
        (Pick("waves", ()), "sea"),
        (Pick("office-building", ("office",)), "room"),
        (Pick("weather-cloudy", ()), "sky"),
    ],
)
def test_the_subjects_setting_decides_the_scene_before_the_prompts_words(setting: Pick, kind: str) -> None:
    # Given a subject whose setting the subject choice found, in a prompt whose words name a city
    subject = Subject(subject=Pick("food-apple", ("apples",)), setting=setting)
    spec = _blog("Red apples from the city market")
    # Then the setting decides the scene, and it is drawn as a place, not as a glyph in the picture
    scene = offline_scenes.plan(spec, subject, random.Random(1))
    assert scene.kind == kind
    assert [p.glyph for p in scene.placements] == ["food-apple"]


def test_prompts_that_name_no_place_get_varied_scenes() -> None:
    kinds = {blog_layout(_blog("A quiet afternoon", variation=n)).kind for n in range(1, 9)}
    assert len(kinds) >= 3, kinds


def test_the_subject_is_first_and_largest_and_companions_stand_beside_it() -> None:
    subject = Subject(
        subject=Pick("coffee", ("coffee",)),
        companions=(Pick("croissant", ("croissant",)), Pick("book-open-variant", ("book",))),
    )
    spec = _blog("Coffee and a croissant on a cafe table", width=1792, height=1024)
    scene = offline_scenes.plan(spec, subject, random.Random(7))
    first, *others = scene.placements
    assert first.role == "subject" and first.glyph == "coffee"
    assert first.box[2] >= spec.height * 0.4  # large
    assert [p.glyph for p in others] == ["croissant", "book-open-variant"]
    for placement in others:
        assert placement.box[2] < first.box[2]
        assert 0 <= placement.box[0] <= spec.width - placement.box[2]
        # on the same ground as the subject
        assert placement.box[1] + placement.box[2] == first.box[1] + first.box[2]


def _outside(image: Image.Image, box: tuple[int, int, int]) -> Image.Image:
    """The picture with the subject's square blanked: what the scene alone looks like."""
    x, y, side = box
    blank = image.copy()
    ImageDraw.Draw(blank).rectangle([x, y, x + side, y + side], fill=(0, 0, 0))
    return blank


def test_the_same_subject_in_two_settings_gets_two_different_scenes() -> None:
    # Given one subject at sea and on a table
    sea, table = _blog("A cat at sea"), _blog("A cat on a wooden table")
    at_sea, on_table = blog_layout(sea), blog_layout(table)
    assert (at_sea.kind, on_table.kind) == ("sea", "table")
    assert at_sea.placements[0].glyph == on_table.placements[0].glyph
    # Then the pictures differ around the subject, not only in it
    box = at_sea.placements[0].box
    change = ImageChops.difference(_outside(_render(sea), box), _outside(_render(table), box))
    assert sum(ImageStat.Stat(change).mean) > 60


@pytest.mark.parametrize("prompt", ["A lighthouse over a stormy sea", "A team meeting in a modern office"])
def test_a_blog_image_is_deterministic(prompt: str) -> None:
    assert PROVIDER.generate(_blog(prompt)).data == PROVIDER.generate(_blog(prompt)).data
