"""Material Design Icons: names, aliases and tags to choose a glyph, and resvg to draw it.

The index (names, aliases, tags) is built from @mdi/svg's meta.json by tools/build_mdi_index.py;
the SVGs come from the `material-design-icons-pack` wheel of the same version (Apache-2.0).
"""

from __future__ import annotations

import collections
import gzip
import io
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import resvg_py
from material_design_icons_pack import get_icon
from PIL import Image

# Curated first choices for common catalogue and blog words: higher confidence than the index's
# token match (which, for example, finds "car-esp" for "electronics").
HINTS: dict[str, tuple[str, ...]] = {
    "laptop": ("electronic", "computer", "laptop", "tech", "software", "digital", "gadget", "coding"),
    "cellphone": ("phone", "mobile", "smartphone", "telecom", "cell"),
    "tablet": ("tablet",),
    "car": ("auto", "automotive", "car", "vehicle", "motor", "transport"),
    "car-cog": ("parts",),
    "tools": ("tool", "tools", "hardware", "diy", "repair", "industrial", "construction"),
    "pencil": ("office", "stationery", "pencil", "school", "writing"),
    "paperclip": ("supplies",),
    "food-apple": ("food", "grocery", "groceries", "fruit", "produce", "nutrition", "organic", "snack"),
    "book-open-variant": ("book", "books", "education", "learning", "library", "reading", "study", "course"),
    "tshirt-crew": ("clothing", "clothes", "fashion", "apparel", "wear", "shirt", "garment", "textile"),
    "home": ("home", "house", "real", "estate", "living"),
    "sofa": ("furniture", "decor", "interior"),
    "basketball": ("sport", "sports", "athletic", "ball"),
    "dumbbell": ("fitness", "gym", "workout"),
    "heart-pulse": ("health", "medical", "hospital", "wellness", "care"),
    "pill": ("pharmacy", "medicine", "drug"),
    "lipstick": ("beauty", "cosmetic", "makeup"),
    "dice-5": ("toy", "toys", "games", "board", "hobby", "play"),
    "puzzle": ("puzzle", "kids"),
    "sprout": ("garden", "plant", "plants", "nature", "green", "eco", "agriculture"),
    "flower": ("flower", "florist"),
    "paw": ("pet", "pets", "dog", "cat", "animal", "animals", "veterinary"),
    "music": ("music", "audio", "song", "sound", "concert"),
    "guitar-acoustic": ("instrument", "guitar"),
    "airplane": ("travel", "flight", "airline", "trip", "tourism", "vacation"),
    "bag-suitcase": ("luggage", "suitcase"),
    "diamond-stone": ("jewelry", "jewellery", "jewel", "luxury", "diamond", "gem"),
    "watch": ("watch", "accessories"),
    "camera": ("camera", "photo", "photography", "film"),
    "video": ("video",),
    "coffee": ("coffee", "tea", "drink", "beverage", "cafe"),
    "silverware-fork-knife": ("kitchen", "restaurant", "cooking", "dining"),
    "lighthouse": ("lighthouse", "harbour", "harbor", "coast", "coastal", "maritime", "port"),
    "waves": ("sea", "ocean", "beach"),
    "baby-carriage": ("baby", "infant", "nursery"),
    "shoe-sneaker": ("shoe", "shoes", "footwear", "sneaker"),
    "bicycle": ("bicycle", "bike", "cycling"),
    "cart": ("shop", "shopping", "store", "retail", "ecommerce"),
}
FALLBACK = "tag"
# Name words that mark a variant (a badge, a state) rather than the thing itself.
_VARIANT_WORDS = frozenset(
    [
        "outline",
        "off",
        "remove",
        "minus",
        "plus",
        "check",
        "alert",
        "cancel",
        "lock",
        "sync",
        "edit",
        "multiple",
        "box",
        "circle",
        "variant",
        "network",
        "star",
        "settings",
        "clock",
        "marker",
        "search",
        "arrow",
        "down",
        "up",
        "left",
        "right",
        "open",
        "sharp",
        "question",
        "refresh",
        "cog",
        "account",
        "import",
        "export",
        "eye",
        "key",
        "percent",
        "play",
        "pause",
        "stop",
    ]
)
# Variant words that only ever mark a state: a name with one never names a thing of its own.
_STATE_WORDS = frozenset(["outline", "off"])
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "for",
        "with",
        "in",
        "on",
        "at",
        "to",
        "by",
        "from",
        "over",
        "under",
        "this",
        "that",
        "is",
        "are",
    ]
)


def _stem(word: str) -> str:
    for suffix, replacement in (("ies", "y"), ("ves", "f"), ("ses", "s"), ("s", "")):
        if len(word) > 3 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)] + replacement
    return word


def words(*texts: str) -> list[str]:
    return [_stem(w) for text in texts for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP_WORDS]


@cache
def _icons() -> dict[str, tuple[list[str], list[str]]]:
    """Icon name -> (aliases, tags), as @mdi/svg's meta.json has them."""
    raw = resources.files("imagegen.providers").joinpath("data/mdi_index.json.gz").read_bytes()
    return {
        name: (aliases, tags) for name, (aliases, tags) in json.loads(gzip.decompress(raw))["icons"].items()
    }


@cache
def _index() -> tuple[dict[str, dict[str, float]], frozenset[str]]:
    """Token -> {icon name: weight} over names, aliases and tags; and the set of all names."""
    icons = _icons()
    inverted: dict[str, dict[str, float]] = collections.defaultdict(dict)

    def add(token: str, name: str, weight: float) -> None:
        token = _stem(token)
        if inverted[token].get(name, 0) < weight:
            inverted[token][name] = weight

    for name, (aliases, tags) in icons.items():
        parts = name.split("-")
        for part in parts:
            add(part, name, 3.0 if len(parts) == 1 else 2.0)
        for alias in aliases:
            alias_parts = alias.split("-")
            for part in alias_parts:
                add(part, name, 2.5 if len(alias_parts) == 1 else 1.5)
        for tag in tags:
            for part in re.findall(r"[a-z]+", tag.lower()):
                add(part, name, 0.6)
    return dict(inverted), frozenset(icons)


@cache
def _stemmed_hints() -> dict[str, frozenset[str]]:
    return {name: frozenset(_stem(key) for key in keys) for name, keys in HINTS.items()}


# What may follow a hint's key for a word to be a form of it ("gardening", "gardener"); anything else
# makes another word ("cello" is no "cell", "cargo" no "car").
_HINT_SUFFIXES = ("", "s", "es", "ing", "er", "ers", "ed", "ist", "ists", "y")


def _hinted(tokens: list[str]) -> list[str]:
    """Curated icons for the tokens; a key of four letters or more may also start a word when the rest
    is a suffix (gardening, gardeners), never another word's letters (cello is no cell)."""
    found = []
    for token in tokens:
        for name, keys in _stemmed_hints().items():
            forms = any(
                len(k) >= 4 and token.startswith(k) and token[len(k) :] in _HINT_SUFFIXES for k in keys
            )
            if (token in keys or forms) and name not in found:
                found.append(name)
    return found


def search(*texts: str, limit: int = 5) -> list[str]:
    """Icon names for the texts, best first: curated hints, then names, aliases and tags; never empty."""
    tokens = words(*texts)
    inverted, _ = _index()
    scores: dict[str, float] = collections.defaultdict(float)
    for token in tokens:
        for name, weight in inverted.get(token, {}).items():
            scores[name] += weight

    def rank(name: str) -> tuple[float, str]:
        parts = name.split("-")
        variant = 1.0 if _VARIANT_WORDS.intersection(parts) - set(tokens) else 0.0
        return (-scores[name] + 0.35 * len(parts) + variant, name)

    ranked = _hinted(tokens) + [n for n in sorted(scores, key=rank) if n not in _hinted(tokens)]
    return ranked[:limit] or [FALLBACK]


# Tags of user-interface symbols (a grid of cells, an arrow, a text format), not things a picture shows:
# a noun never resolves to one of these by a bare word ("table" is a spreadsheet there).
_SYMBOL_TAGS = frozenset(
    [
        "Text / Content / Format",
        "Arrow",
        "Alpha / Numeric",
        "Math",
        "Form",
        "Edit / Modify",
        "View",
        "Arrange",
        "Tooltip",
        "Settings",
        "Alert / Error",
        "Shape",
        "Vector",
        "Notification",
        "Files / Folders",
        "Database",
    ]
)
_IRREGULAR = {
    "children": "child",
    "people": "person",
    "men": "man",
    "women": "woman",
    "feet": "foot",
    "teeth": "tooth",
    "mice": "mouse",
    "geese": "goose",
    "knives": "knife",
    "leaves": "leaf",
    "loaves": "loaf",
    "shelves": "shelf",
    "wolves": "wolf",
    "calves": "calf",
    "halves": "half",
    "wives": "wife",
    "lives": "life",
    "shoes": "shoe",
    "toes": "toe",
    "canoes": "canoe",
    "dice": "dice",
    "series": "series",
    "species": "species",
    "news": "news",
    "goods": "goods",
    "clothes": "clothes",
    "sunglasses": "sunglasses",
    "headphones": "headphones",
    "earbuds": "earbuds",
    "headphone": "headphones",  # the singular a user may write of a plural-only name
    "earbud": "earbuds",
}
# Nouns in -ie, whose plural is -ies but not a -y word's: "cookies" are cookies, not "cooky".
_IE_NOUNS = frozenset(
    [
        "cookie",
        "movie",
        "zombie",
        "brownie",
        "selfie",
        "hoodie",
        "smoothie",
        "rookie",
        "calorie",
        "prairie",
        "veggie",
        "goalie",
        "beanie",
        "collie",
        "budgie",
        "birdie",
        "pixie",
        "genie",
        "necktie",
        "bowtie",
        "auntie",
        "hippie",
        "foodie",
        "techie",
        "newbie",
        "freebie",
        "cutie",
        "bootie",
    ]
)


_MEN_NOUNS = frozenset(["specimen", "abdomen", "regimen", "acumen", "stamen", "omen", "semen", "hymen"])


def singular(word: str) -> str:
    """The singular of an English noun, by rule and a short list of exceptions ("knives" -> "knife")."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith("ies") and word[:-1] in _IE_NOUNS:
        return word[:-1]
    if word.endswith("men") and len(word) > 5 and word not in _MEN_NOUNS:  # fishermen, firemen
        return word[:-3] + "man"
    if len(word) <= 3 or word.endswith(("ss", "us", "is", "ics")) or not word.endswith("s"):
        return word
    for suffix, replacement in (
        ("sses", "ss"),
        ("ies", "y"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("xes", "x"),
        ("oes", "o"),
    ):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            return word[: -len(suffix)] + replacement
    return word[:-1]


def _key(text: str) -> frozenset[str]:
    return frozenset(singular(part) for part in re.findall(r"[a-z0-9]+", text.lower()))


@dataclass(frozen=True)
class Vocabulary:
    """The icon set as a noun lexicon: a set of (singular) words -> the icon it names."""

    names: dict[frozenset[str], str]  # "3d printer" -> printer-3d; "airballoon" -> airballoon
    aliases: dict[frozenset[str], str]  # "stroller" -> baby-buggy
    tails: dict[frozenset[str], str]  # a name without its kind: "hot dog" -> food-hot-dog, "grape"
    parts: dict[str, tuple[str, ...]]  # "apple" -> food-apple, ...: things whose name holds the word
    alias_parts: dict[str, tuple[str, ...]]  # "playground" -> seesaw, slide: things an alias holds it for


@cache
def vocabulary() -> Vocabulary:
    """Names, aliases and name parts of every icon but variants (-outline, -off, badges)."""
    icons = _icons()
    things = frozenset(name for name, (_, tags) in icons.items() if not _SYMBOL_TAGS.intersection(tags))

    def plain(name: str) -> bool:
        parts = name.split("-")
        return not _VARIANT_WORDS.intersection(parts[1:]) or len(parts) == 1

    # Shorter names first: the first icon to claim a key keeps it. Symbols are never a picture's subject.
    ordered = sorted(icons, key=lambda n: (len(n.split("-")), len(n), n))
    names: dict[frozenset[str], str] = {}
    aliases: dict[frozenset[str], str] = {}
    parts: dict[str, list[str]] = collections.defaultdict(list)
    for name in ordered:
        if not plain(name):
            continue
        if name not in things:
            _claim_symbol(name, names, aliases)
            continue
        names.setdefault(_key(name), name)
        names.setdefault(frozenset([name.replace("-", "")]), name)  # "sail boat" -> "sailboat" -> sail-boat
        for alias in icons[name][0]:
            aliases.setdefault(_key(alias), name)
        for part in name.split("-"):  # as written: "stick" is not one of hockey-sticks
            parts[part].append(name)
    _claim_badges(ordered, things, names)
    # A name less its first part (the kind: food-, fruit-, home-) names the thing, for words no icon's
    # name or alias claims: "hot dog" -> food-hot-dog, "grape" -> fruit-grapes, "roof" -> home-roof.
    # Not a word that is itself a kind ("bag": bag-personal, ... not iv-bag).
    kinds = frozenset(singular(name.split("-")[0]) for name in icons)
    tails: dict[frozenset[str], str] = {}
    for name in ordered:
        rest = name.split("-")[1:]
        if rest and plain(name) and name in things and not rest[-1].isdigit():
            key = _key("-".join(rest))
            nouns = all(len(w) > 2 and w.isalpha() and not w.endswith(("ing", "ed")) for w in key)
            if nouns and key not in names and key not in aliases and not (len(key) == 1 and key <= kinds):
                tails.setdefault(key, name)
    # MDI names put the kind first and the thing last (food-apple, flower-tulip; glass-tulip is a glass):
    # names that end with the word come first.
    ending = {
        part: tuple(sorted(found, key=lambda n: n.split("-")[-1] != part)) for part, found in parts.items()
    }
    return Vocabulary(names, aliases, tails, ending, _alias_parts(ordered, things))


def _claim_badges(ordered: list[str], things: frozenset[str], names: dict[frozenset[str], str]) -> None:
    """A name with a badge word (car-key, bus-stop, food-takeout-box) still names a thing by all its words:
    "car keys", "bus stops"; plain names claimed their keys first and keep them, and an -outline or -off
    variant never claims one."""
    for name in ordered:
        parts = name.split("-")
        badged = len(parts) > 1 and _VARIANT_WORDS.intersection(parts[1:])
        if badged and name in things and not _STATE_WORDS.intersection(parts):
            names.setdefault(_key(name), name)


def _claim_symbol(name: str, names: dict[frozenset[str], str], aliases: dict[frozenset[str], str]) -> None:
    """A symbol's name or alias of two words or more still names a thing: "file cabinet", "filing
    cabinet" (Files / Folders); one word does not ("table" is a spreadsheet)."""
    for text in (name, *_icons()[name][0]):
        if "-" in text:
            (names if text == name else aliases).setdefault(_key(text), name)


def _alias_parts(ordered: list[str], things: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """Word -> the things whose alias holds it beside other words ("playground" -> slide, seesaw, of
    playground-slide); a variant's alias counts for its base ("dairy-free" of cow-off: the cow)."""
    icons = _icons()
    found: dict[str, list[str]] = collections.defaultdict(list)
    for name in ordered:
        base = _base(name, icons)
        if base not in things:
            continue
        for alias in icons[name][0]:
            for part in _key(alias) - _key(name) - _VARIANT_WORDS - {"free", "emoji", "emoticon"}:
                if base not in found[part]:
                    found[part].append(base)
    return {part: tuple(names) for part, names in found.items()}


def _base(name: str, icons: dict[str, tuple[list[str], list[str]]]) -> str:
    """The icon a variant draws a state of (cow-off -> cow, beer-outline -> beer); else the name itself."""
    parts = name.split("-")
    while len(parts) > 1 and parts[-1] in _VARIANT_WORDS and "-".join(parts[:-1]) in icons:
        parts = parts[:-1]
    return "-".join(parts)


def is_variant(name: str) -> bool:
    """True when a word after the name's first part marks a variant ("toy-brick-plus", "car-search")."""
    return bool(_VARIANT_WORDS.intersection(name.split("-")[1:]))


@cache
def families() -> dict[str, frozenset[str]]:
    """Word -> the families (first name parts) of the icons whose name or alias holds it: how specific
    a word is ("watermelon": fruit; "sun": weather, shield, theme, awning, ...)."""
    found: dict[str, set[str]] = collections.defaultdict(set)
    for name, (aliases, _) in _icons().items():
        for text in (name, *aliases):
            for part in text.split("-"):
                found[singular(part)].add(name.split("-")[0])
    return {word: frozenset(names) for word, names in found.items()}


def tags(name: str) -> frozenset[str]:
    """The icon's MDI tags (its kinds of thing: "Food / Drink", "Animal"); empty for an unknown name."""
    return frozenset(_icons().get(name, ((), ()))[1])


def has_icon(name: str) -> bool:
    return name in _index()[1]


@cache
def _svg(name: str) -> str:
    icon = get_icon(name)
    if icon is None:
        raise KeyError(f"no icon '{name}' in material-design-icons-pack")
    return icon.svg


def glyph(name: str, pixels: int, colour: tuple[int, int, int]) -> Image.Image:
    """The icon as an RGBA image of pixels x pixels, filled with `colour`."""
    fill = "#{:02x}{:02x}{:02x}".format(*colour)
    svg = _svg(name).replace("<path ", f'<path fill="{fill}" ', 1)
    png = resvg_py.svg_to_bytes(svg_string=svg, width=pixels, height=pixels, skip_system_fonts=True)
    with Image.open(io.BytesIO(bytes(png)), formats=["PNG"]) as image:
        return image.convert("RGBA")
