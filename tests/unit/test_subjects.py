"""The offline renderer's subject grammar: heads, compound names, light heads, settings, plurals.

These tests pin the grammar alone: the sentence model that may overrule it (subjects._by_model) is switched
off here, and tested in test_subjects_model.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imagegen.config import settings_from
from imagegen.logic.blog_files import generate_to_disk
from imagegen.logic.prompts import blog_prompt
from imagegen.models.domain import ImageSpec
from imagegen.models.requests import BlogImageRequest
from imagegen.providers import icon_set, sentence_model, subjects
from imagegen.providers.icon_set import singular
from imagegen.providers.offline import OfflineProvider
from imagegen.providers.registry import DEFAULT_MODEL


@pytest.fixture(autouse=True)
def _grammar_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sentence_model, "icon_scores", lambda text: {})


def _blog(prompt: str, template: str | None = None) -> ImageSpec:
    return ImageSpec(
        kind="blog",
        prompt=blog_prompt(prompt, template),
        user_prompt=prompt if template else None,
        width=1792,
        height=1024,
        key="k.png",
        model=DEFAULT_MODEL,
    )


def _icon(category: str, **fields: object) -> ImageSpec:
    base = {"kind": "icon", "prompt": category, "width": 512, "height": 512, "key": "k.png"}
    return ImageSpec.model_validate({**base, "category": category, "model": DEFAULT_MODEL, **fields})


@pytest.mark.parametrize(
    ("word", "one"),
    [
        ("knives", "knife"),
        ("strawberries", "strawberry"),
        ("glasses", "glass"),
        ("boxes", "box"),
        ("benches", "bench"),
        ("shoes", "shoe"),
        ("tomatoes", "tomato"),
        ("children", "child"),
        ("bus", "bus"),
        ("electronics", "electronics"),
        ("mats", "mat"),
    ],
)
def test_plurals_are_made_singular(word: str, one: str) -> None:
    assert singular(word) == one


@pytest.mark.parametrize(
    ("category", "glyph", "words"),
    [
        ("craft beer", "beer", ("beer",)),  # the head, not the modifier "craft" (scissors before)
        ("fresh vegetables", "carrot", ("vegetable",)),  # adjectives are skipped
        ("gold necklaces", "necklace", ("necklace",)),
    ],
)
def test_the_head_of_the_phrase_is_the_subject(category: str, glyph: str, words: tuple[str, ...]) -> None:
    chosen = subjects.choose(_icon(category)).subject
    assert (chosen.glyph, chosen.words) == (glyph, words)


@pytest.mark.parametrize(
    ("text", "glyph"),
    [
        ("3D printers", "printer-3d"),  # an icon's name, in any word order
        ("garden furniture", "table-chair"),  # a catalogue alias, before "furniture" alone (a sofa)
        ("hot air balloon rides", "airballoon"),  # words joined into one name
        ("wine glasses", "glass-wine"),
        ("a rocket launching at dawn", "rocket-launch"),  # a participle that completes a name
    ],
)
def test_multi_word_names_come_first(text: str, glyph: str) -> None:
    assert subjects.choose(_icon(text)).subject.glyph == glyph


@pytest.mark.parametrize(
    ("category", "glyph", "companion"),
    [
        ("kayak rentals", "kayaking", None),  # "kayak" finds the icon of its activity
        ("sushi restaurants", "fish", None),
        ("bicycle repair shops", "bicycle", None),  # "repair" is light too: skipped as a modifier
        ("dog grooming", "dog", None),  # an activity (razor before) hands the subject to what it is for
        ("cybersecurity consulting", "shield-lock", None),
        ("soccer balls", "soccer", None),  # an icon's own name beats the catalogue's "balls"
        ("tea kettles", "kettle", None),  # ... but not an icon's own name as the head
        ("train tickets", "train", "ticket"),  # the light head stays, as a companion
    ],
)
def test_a_light_head_passes_the_subject_to_its_modifier(
    category: str, glyph: str, companion: str | None
) -> None:
    chosen = subjects.choose(_icon(category))
    assert chosen.subject.glyph == glyph
    assert companion is None or companion in [pick.glyph for pick in chosen.companions]


@pytest.mark.parametrize(
    ("category", "glyph"),
    [
        ("guitar strings", "guitar-acoustic"),  # the head's glyph is only a guess (code-string)
        ("watermelon juice", "fruit-watermelon"),  # "juice" is only an alias (a soda bottle)
        ("chili sauces", "chili-hot"),  # "sauce" is only the catalogue's (a shaker)
        ("baby strollers", "baby-buggy"),  # the alias's glyph is named by the modifier: the same sense
        ("sun hats", "hat-fedora"),  # "sun" names icons of many families: not specific enough
        ("dog beds", "bed"),  # an icon's own name as the head stays
    ],
)
def test_a_specific_modifier_beats_a_head_known_only_by_alias_or_guess(category: str, glyph: str) -> None:
    assert subjects.choose(_icon(category)).subject.glyph == glyph


@pytest.mark.parametrize(
    ("text", "glyph"),
    [
        ("surfboard rentals", "surfing"),  # no icon says "surfboard": surf -> surfing
        ("A firefighter at work", "fire"),  # the longest first part: fire, not fir (kin of pine-tree)
        ("pony rides", "horse"),  # kin: a word the icon set lacks, drawn as its kind
        ("honey jars", "bee"),
        ("strawberry jam", "fruit-cherries"),  # not printer-alert ("paper jam", another sense)
    ],
)
def test_compounds_split_and_kin_fill_the_icon_sets_gaps(text: str, glyph: str) -> None:
    spec = _icon(text) if text.islower() else _blog(text)
    assert subjects.choose(spec).subject.glyph == glyph


@pytest.mark.parametrize(
    ("prompt", "glyph", "setting"),
    [
        ("Fresh vegetables on a wooden table", "carrot", "table-furniture"),  # not the spreadsheet table
        ("A rocket launching at dawn", "rocket-launch", "weather-sunset-up"),
        ("A team meeting in a modern office", "account-group", "office-building"),
        ("A lighthouse over a stormy sea", "lighthouse", "waves"),
        ("A fisherman on a boat at sunrise", "fish", "sail-boat"),  # fisherman -> fishing
        ("Somebody on a sailboat", "sail-boat", None),  # no subject icon: the place is the subject
    ],
)
def test_a_locative_phrase_is_the_setting(prompt: str, glyph: str, setting: str | None) -> None:
    chosen = subjects.choose(_blog(prompt))
    assert chosen.subject.glyph == glyph
    assert (chosen.setting.glyph if chosen.setting else None) == setting


def test_a_measure_hands_the_subject_to_what_it_holds_and_with_adds_companions() -> None:
    chosen = subjects.choose(_blog("A cup of coffee with croissants on a desk"))
    assert chosen.subject.glyph == "coffee"
    assert {"cup", "food-croissant"} <= {pick.glyph for pick in chosen.companions}
    assert chosen.setting is not None and chosen.setting.glyph == "desk"


def test_a_person_doing_something_draws_what_they_do() -> None:
    assert subjects.choose(_blog("A person meditating by a river")).subject.glyph == "meditation"
    assert subjects.choose(_blog("A hiker on a mountain trail")).subject.glyph == "hiking"  # hiker -> hiking


def test_a_templates_words_do_not_choose_the_subject() -> None:
    # The photo template adds "photograph", "daylight", "depth of field": the user's words decide.
    chosen = subjects.choose(_blog("A lighthouse", template="photo"))
    assert chosen.subject.glyph == "lighthouse"
    assert chosen.subject.words == ("lighthouse",)


def test_the_catalogues_own_name_keeps_its_icon_and_a_typo_falls_back_to_the_match() -> None:
    named = _icon("Pet Food", category_match="Pet Food", catalogue_icon="bone", category_score=100.0)
    assert subjects.choose(named).subject.glyph == "bone"
    typo = _icon("electrnics", category_match="Electronics", catalogue_icon="laptop", category_score=91.0)
    assert subjects.choose(typo).subject.glyph == "laptop"


def test_custom_elements_are_companions_first() -> None:
    chosen = subjects.choose(_icon("craft beer", custom_elements=("hops", "a bottle of beer")))
    assert chosen.companions[0].glyph == "hops"
    assert chosen.companions[0].words == ("hops",)


def test_the_offline_metadata_says_what_was_drawn_and_why(tmp_path: Path) -> None:
    # Given the blog CLI's path (generate_to_disk) with the offline renderer
    request = BlogImageRequest.model_validate(
        {
            "prompt": "Fresh vegetables on a wooden table",
            "post_id": "7",
            "section_id": "2",
            "size": "1024x1024",
        }
    )
    now = datetime(2026, 3, 1, tzinfo=UTC)
    saved = generate_to_disk(request, tmp_path, OfflineProvider(), settings_from({}), lambda: now)
    # Then its metadata names the glyphs and the words each was chosen for
    metadata = json.loads(saved.metadata_path.read_text())
    assert metadata["offline_subject"] == {
        "subject": {"glyph": "carrot", "words": ["vegetable"]},
        "companions": [],
        "setting": {"glyph": "table-furniture", "words": ["table"]},
        "chosen_by": "grammar",
    }


@pytest.mark.parametrize(
    ("category", "glyph"),
    [
        ("motorcyclist gear", "motorbike"),  # -ist: motorcycl + e (was car: motor + cyclist's rest)
        ("violinists", "violin"),  # -ist: the instrument's own name
        ("librarians", "library"),  # -ian: librar + y
        ("roofers", "home-roof"),  # -er: roof, an icon's name less its kind (home-)
        ("sailors", "sail-boat"),  # -or: sail
        ("fishermen", "fish"),  # -men is plural: fisherman -> fishing
        ("carpenters", "hand-saw"),  # a trade (subject_hints.json "trades"), no compound of car
        ("drone pilots", "drone"),  # a trade of a specific thing draws the thing
        ("emergency plumbers", "pipe-wrench"),  # ... by its icon name only: no car-emergency
    ],
)
def test_agent_nouns_draw_their_trade(category: str, glyph: str) -> None:
    assert subjects.choose(_icon(category)).subject.glyph == glyph


def test_a_closed_compound_splits_only_into_two_words() -> None:
    assert subjects._compound_word("carpenter") is None  # "penter" is no word
    assert subjects._compound_word("firefighter") == ("fire", subjects.PART)  # fighter -> fight


@pytest.mark.parametrize(
    ("category", "glyph", "companion"),
    [
        ("karaoke bars", "microphone-variant", None),  # a place of a trade: not a cocktail glass
        ("turtle tanks", "turtle", "tank"),  # a container
        ("taco trucks", "taco", "truck"),  # a vehicle
        ("truck rentals", "truck", None),  # ... unless it is all there is before a light head
        ("truck drivers", "truck", None),  # a person who works with the thing; no glyph for "driver"
        ("archery ranges", "bow-arrow", None),
        ("pet insurance", "paw", None),
        ("concert halls", "music", None),
        ("skate parks", "skate", "tree"),  # kin: a park is trees, not the parking sign
        ("web designers", "web", None),
        ("boat builders", "sail-boat", None),
    ],
)
def test_a_place_container_or_agent_head_hands_the_subject_to_its_modifier(
    category: str, glyph: str, companion: str | None
) -> None:
    chosen = subjects.choose(_icon(category))
    assert chosen.subject.glyph == glyph
    companions = [pick.glyph for pick in chosen.companions]
    assert companion in companions if companion else companions == []


@pytest.mark.parametrize(
    ("category", "glyph"),
    [
        ("hot dog stands", "food-hot-dog"),  # "hot" is kept: it starts a name (food-hot-dog less food-)
        ("grape vineyards", "fruit-grapes"),  # fruit-grapes less its kind names a grape
        ("ping pong tables", "table-tennis"),  # a modifier's multi-word name beats a one-word head
        ("first aid kits", "medical-bag"),  # an alias of three words, before its parts
        ("personal trainers", "weight-lifter"),  # an adjective that starts a trade's name
    ],
)
def test_the_longest_known_phrase_wins_over_its_parts(category: str, glyph: str) -> None:
    assert subjects.choose(_icon(category)).subject.glyph == glyph


@pytest.mark.parametrize(
    ("prompt", "glyph", "setting"),
    [
        ("Children building a sandcastle on the beach", "castle", "beach"),  # what they act on
        ("A woman reading a book by the window", "book", "curtains"),
        ("A couple walking on the beach at sunset", "walk", "beach"),  # no object: what they do
        ("A pharmacist handing out medicine", "pill", None),  # a trade is a subject of its own
        ("A baker pulling croissants from the oven", "baguette", None),
    ],
)
def test_a_person_yields_to_what_they_act_on_and_a_trade_does_not(
    prompt: str, glyph: str, setting: str | None
) -> None:
    chosen = subjects.choose(_blog(prompt))
    assert chosen.subject.glyph == glyph
    assert (chosen.setting.glyph if chosen.setting else None) == setting


def test_a_companion_takes_the_sense_nearest_the_subject() -> None:
    chosen = subjects.choose(_icon("craft beer", custom_elements=("bottle", "glass", "dog")))
    # A bottle beside a beer is a drink's bottle, not baby-bottle; a glass a mug, not spectacles; an icon's
    # own name ("dog") keeps its sense, though food-hot-dog shares the beer's kind.
    assert [pick.glyph for pick in chosen.companions] == ["bottle-soda", "glass-mug", "dog"]
    assert (
        subjects.choose(_icon("baby shower", custom_elements=("bottle",))).companions[0].glyph
        == "baby-bottle"
    )
    assert subjects.choose(_icon("beer bottles")).subject.glyph == "bottle-soda"  # the head's sense too


@pytest.mark.parametrize(
    ("category", "glyph", "before"),
    [
        # A word an icon's name ends with is never stemmed: containers are no "contain".
        ("freight containers", "train-car-container", "contain"),
        # A word only an icon's alias holds is that icon, a guess that yields to a modifier's name.
        ("playground equipment", "slide", "play"),  # playground-slide, not play + ground
        ("hearing aids", "ear-hearing", "bandage"),  # not first-aid's bandage
        # A verb's stem only by an icon's own name: "driving" is no tape-drive (kin: a car).
        ("driving lessons", "car", "tape-drive"),
        # Service and route nouns are light heads: the change, the crossing is of the thing.
        ("tyre changes", "tire", "key-change"),
        ("level crossings", "oil-level", "cross"),
        # A category's alias (heels of Shoes, chess of Board Games) yields to the icon named by the word.
        ("stiletto heels", "shoe-heel", "shoe-sneaker"),
        ("chess sets", "chess-king", "puzzle"),
        # A symbol's multi-word name still names a thing; a closed compound joins by alias too.
        ("file cabinets", "file-cabinet", "bookshelf"),
        ("camper van rentals", "rv-truck", "tent"),
        # A participle's stem may need its e back: ice skating is the ice skate.
        ("ice skating lessons", "skate", "ice-pop"),
    ],
)
def test_stems_stop_at_known_words_and_a_named_icon_beats_a_broad_match(
    category: str, glyph: str, before: str | None
) -> None:
    chosen = subjects.choose(_icon(category)).subject.glyph
    assert chosen == glyph
    assert chosen != before  # what the rules before this round drew


@pytest.mark.parametrize(
    ("prompt", "glyph"),
    [
        ("A family of pigs in the mud", "pig"),  # a group word hands the subject to what follows "of"
        ("A team of horses pulling a plough", "horse"),
        ("A teapot on a stove", "kettle"),  # kin: words the icon set lacks
        ("A cargo ship in a storm", "ferry"),
    ],
)
def test_a_group_of_things_draws_the_things(prompt: str, glyph: str) -> None:
    assert subjects.choose(_blog(prompt)).subject.glyph == glyph


@pytest.mark.parametrize(
    ("text", "kind", "glyph"),
    [
        # a word with an adjective's suffix that is an icon's own name is a noun
        ("Jellyfish drifting through dark water", "blog", "jellyfish"),
        # a guessed subject (sky + diver) or a trade known by a broader class yields to an exact thing
        ("A skydiver gliding under an open parachute", "blog", "parachute"),
        ("A chemist pouring a blue liquid into a flask", "blog", "flask"),
        # ... but never to a place: the fisherman stays, the pier is where
        ("A fisherman casting a line from a pier", "blog", "fish"),
        # an icon named with a badge word that is a thing names that thing
        ("replacement car keys", "icon", "car-key"),
        # a category's last activity drawn by its tool; a catalogue's two-word name yields to its head
        ("lawn mowing", "icon", "mower"),
        ("lawn mowers", "icon", "mower"),
        # a verb and its object that name one closed compound, object first
        ("Two business partners shaking hands after closing a deal", "blog", "handshake"),
        ("bus stops", "icon", "bus-stop"),  # a name with a badge word ("stop") names a thing by all its words
        ("chocolate chip cookies", "icon", "cookie"),  # "cookies" are cookies, no "cooky" (the catalogue's)
    ],
)
def test_an_exact_name_comes_before_settings_and_guesses(text: str, kind: str, glyph: str) -> None:
    spec = _blog(text) if kind == "blog" else _icon(text)
    assert subjects.choose(spec).subject.glyph == glyph


def test_a_hint_is_never_a_prefix_of_another_word() -> None:
    # "cello" is no "cell" (cellphone), while "gardening" is a form of the hint "garden"
    assert "cellphone" not in icon_set.search("cello lessons", limit=3)
    assert icon_set.search("gardening")[0] == "sprout"
    assert subjects.choose(_icon("cello lessons")).subject.glyph == "violin"


def test_a_compound_whose_head_is_an_agent_is_not_the_agents_other_sense() -> None:
    # "bricklayer" is brick + layer (one who lays): the bricks' glyph, never the GIS layers icon
    assert subjects.choose(_icon("bricklayers")).subject.glyph != "layers"
