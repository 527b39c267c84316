"""The category catalogue, and matching what catalogue owners type to it.

"Office_Supplies", "electrnics", "auto parts", "ofice suplies": inputs are normalised (case,
separators, British spelling, plurals), then ranked against every category's name and aliases: whole
names, then names with a word starting as typed (`3d` -> `3D Printing`), then text inside a word, then
rapidfuzz's likeness. Unknown categories still work: callers keep the user's words and record the
(absent) match.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rapidfuzz import fuzz, process

from imagegen.models.responses import SuggestionOut, SuggestionsOut

MATCH_THRESHOLD = 80.0  # below this, the input is treated as a category of its own
FUZZY_FLOOR = 60.0  # a suggestion only alike below this is noise ("3d" ~ "dj" scores 50)
BRITISH_TO_AMERICAN = {
    "colour": "color",
    "colours": "colors",
    "jewellery": "jewelry",
    "jewelery": "jewelry",
    "organiser": "organizer",
    "organisers": "organizers",
    "organisation": "organization",
    "tyre": "tire",
    "tyres": "tires",
    "theatre": "theater",
    "centre": "center",
    "catalogue": "catalog",
    "grey": "gray",
    "favour": "favor",
    "favours": "favors",
    "aluminium": "aluminum",
    "moisturiser": "moisturizer",
    "moisturisers": "moisturizers",
    "nappy": "nappy",
    "pyjamas": "pajamas",
    "storey": "story",
    "licence": "license",
    "fibre": "fiber",
    "cheque": "check",
    "harbour": "harbor",
    "flavour": "flavor",
    "practise": "practice",
    "stationary": "stationery",
}
_STOP = frozenset({"and", "the", "of", "for", "a", "an", "&"})


@dataclass(frozen=True)
class Category:
    name: str
    parent: str | None
    aliases: tuple[str, ...]
    icon: str
    elements: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Match:
    category: Category
    score: float  # 0..100
    matched: str  # the name or alias that matched


def _singular(word: str) -> str:
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if len(word) == 4 and word.endswith("ies"):  # "ties", "pies": not "ty", "py"
        return word[:-1]
    rules = (
        ("sses", "ss"),
        ("ies", "y"),
        ("ves", "f"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("xes", "x"),
        ("s", ""),
    )
    for suffix, replacement in rules:
        if word.endswith(suffix):
            return word[: -len(suffix)] + replacement
    return word


def normalize(text: str) -> str:
    """`Office_Supplies`, `office-supplies`, `OFFICE SUPPLY` -> `office supply`."""
    words = re.findall(r"[a-z0-9]+", text.lower().replace("'", ""))
    return " ".join(_singular(BRITISH_TO_AMERICAN.get(w, w)) for w in words if w not in _STOP)


@cache
def catalogue() -> tuple[Category, ...]:
    data = json.loads(resources.files("imagegen").joinpath("data/categories.json").read_text())
    return tuple(
        Category(
            c["name"], c["parent"], tuple(c["aliases"]), c["icon"], tuple(c["elements"]), c["description"]
        )
        for c in data["categories"]
    )


# Suggestion tiers, best first: what was typed is a whole name or alias; it starts one; every typed word
# starts a word of one, further in; it appears inside a word; it only looks alike (rapidfuzz).
EXACT, STARTS, WORD_PREFIX, INSIDE, FUZZY = range(5)


@dataclass(frozen=True)
class _Choice:
    text: str  # the normalised name or alias
    owner: Category
    is_name: bool
    lines: tuple[str, str]  # " word word " as written (lowercase) and normalised, to find word starts


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("'", ""))


@cache
def _choices() -> tuple[_Choice, ...]:
    """Every normalised name and alias, with the category each belongs to."""
    choices: dict[str, _Choice] = {}
    for category in catalogue():
        for text in (category.name, *category.aliases):
            normal = normalize(text)
            if normal and normal not in choices:
                written = [w for w in _words(text) if w not in _STOP]
                lines = (f" {' '.join(written)} ", f" {normal} ")
                choices[normal] = _Choice(normal, category, text == category.name, lines)
    return tuple(choices.values())


@cache
def _word_starts() -> dict[str, frozenset[int]]:
    """Every start of every word (as written and singular) -> the choices holding such a word."""
    index: dict[str, set[int]] = {}
    for position, choice in enumerate(_choices()):
        for word in {*choice.lines[0].split(), *choice.lines[1].split()}:
            for end in range(1, len(word) + 1):
                index.setdefault(word[:end], set()).add(position)
    return {start: frozenset(positions) for start, positions in index.items()}


def _prefix_tier(line: str, typed: list[str]) -> int | None:
    """STARTS or WORD_PREFIX when each typed word starts a word of `line`, in order; else None."""
    position = first = -1
    for word in typed:
        found = line.find(" " + word, position + 1)
        if found < 0:
            return None
        first = found if first < 0 else first
        position = line.index(" ", found + 1) - 1
    return STARTS if first == 0 else WORD_PREFIX


def _prefix_matches(text: str) -> dict[int, int]:
    """Choices where every typed word starts a word (`3d` -> `3d printing`), and their tier."""
    written = [w for w in _words(text) if w not in _STOP] or _words(text)  # "a" alone still suggests
    if not written:
        return {}
    singular = [_singular(BRITISH_TO_AMERICAN.get(w, w)) for w in written]
    index = _word_starts()
    found = frozenset.intersection(
        *(
            index.get(w, frozenset()) | index.get(s, frozenset())
            for w, s in zip(written, singular, strict=True)
        )
    )
    choices = _choices()
    tiers = {}
    for position in found:
        lines = choices[position].lines
        candidates = (_prefix_tier(lines[0], written), _prefix_tier(lines[1], singular))
        tier = min((t for t in candidates if t is not None), default=None)
        if tier is not None:
            tiers[position] = tier
    return tiers


def _score(query: str, choice: str, **_: object) -> float:
    if query == choice:
        return 100.0
    if min(len(query), len(choice)) <= 3:  # "ar", "tv": partial matching would find them inside any word
        return float(fuzz.ratio(query, choice))
    # WRatio tolerates typos and word order; a small length penalty prefers "tool" over "tool kit".
    return float(fuzz.WRatio(query, choice)) - 0.3 * abs(len(choice) - len(query)) / max(len(query), 1)


@cache
def _texts() -> tuple[str, ...]:
    return tuple(choice.text for choice in _choices())


@cache
def _positions() -> dict[str, int]:
    return {text: position for position, text in enumerate(_texts())}


def _alike(query: str, limit: int) -> list[int]:
    """The `limit` choices most alike by `_score`, above FUZZY_FLOOR."""
    # _score in Python on every choice costs milliseconds a keystroke: rapidfuzz's C scorers pick the
    # candidates (ratio for short texts, WRatio for the rest, as _score does; _score is never above
    # them, so the cutoff loses nothing), and _score orders only those.
    texts = _texts()
    scorers = (fuzz.ratio,) if len(query) <= 3 else (fuzz.ratio, fuzz.WRatio)
    picked = {
        position
        for scorer in scorers
        for _, _, position in process.extract(
            query, texts, scorer=scorer, limit=limit * 2, score_cutoff=FUZZY_FLOOR
        )
    }
    scored = [(_score(query, texts[position]), position) for position in picked]
    return [position for score, position in sorted(scored, reverse=True)[:limit] if score >= FUZZY_FLOOR]


def _tiers(text: str, query: str, limit: int) -> dict[int, int]:
    """Choice positions and their tier; the slower tiers only run while fewer than `limit` categories."""
    tiers = _prefix_matches(text)
    choices = _choices()
    if query in _positions():
        tiers[_positions()[query]] = EXACT
    if len({choices[p].owner.name for p in tiers}) < limit and len(query) >= 3:
        for position, choice_text in enumerate(_texts()):
            if query in choice_text:
                tiers.setdefault(position, INSIDE)
    if len({choices[p].owner.name for p in tiers}) < limit and len(query) >= 2:  # one letter: no typo
        for position in _alike(query, limit * 10):
            tiers.setdefault(position, FUZZY)
    return tiers


def rank(text: str, limit: int = 5) -> list[Match]:
    """The best categories for `text`, best first, one entry per category.

    By tier (exact, starts with, word prefix, inside a word, fuzzy); within a tier a category's own
    name before an alias, a top-level category before a narrower one, then the shortest name.
    """
    query = normalize(text)
    choices = _choices()
    tiers = _tiers(text, query, limit)

    def order(position: int) -> tuple[int, float, bool, bool, int, str]:
        choice = choices[position]
        similarity = _score(query, choice.text) if tiers[position] == FUZZY else 0.0
        owner = choice.owner
        return (
            tiers[position],
            -similarity,
            not choice.is_name,
            owner.parent is not None,
            len(choice.text),
            owner.name,
        )

    best: dict[str, Match] = {}
    for position in sorted(tiers, key=order):
        choice = choices[position]
        if choice.owner.name not in best:
            score = round(max(0.0, min(100.0, _score(query or text.lower(), choice.text))), 1)
            best[choice.owner.name] = Match(choice.owner, score, choice.text)
            if len(best) == limit:
                break
    return list(best.values())


def best_match(text: str) -> Match | None:
    """The category `text` means, or None when nothing scores above the threshold."""
    ranked = rank(text, limit=1)
    return ranked[0] if ranked and ranked[0].score >= MATCH_THRESHOLD else None


def suggestions(query: str, limit: int) -> SuggestionsOut:
    """Ranked categories for what a user has typed so far."""
    ranked = rank(query, limit=limit)
    return SuggestionsOut(
        query=query,
        suggestions=[
            SuggestionOut(
                category=m.category.name,
                parent=m.category.parent,
                score=m.score,
                matched=m.matched,
                icon=m.category.icon,
            )
            for m in ranked
        ],
    )
