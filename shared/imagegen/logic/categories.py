"""The category catalogue, and matching what catalogue owners type to it.

"Office_Supplies", "electrnics", "auto parts", "ofice suplies": inputs are normalised (case,
separators, British spelling, plurals), then ranked against every category's name and aliases with
rapidfuzz. Unknown categories still work: callers keep the user's words and record the (absent) match.
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


@cache
def _choices() -> tuple[tuple[str, ...], tuple[Category, ...]]:
    """Every normalised name and alias, and the category each belongs to."""
    texts: list[str] = []
    owners: list[Category] = []
    for category in catalogue():
        for text in (category.name, *category.aliases):
            normal = normalize(text)
            if normal and normal not in texts:
                texts.append(normal)
                owners.append(category)
    return tuple(texts), tuple(owners)


def _score(query: str, choice: str, **_: object) -> float:
    if query == choice:
        return 100.0
    if min(len(query), len(choice)) <= 3:  # "ar", "tv": partial matching would find them inside any word
        return float(fuzz.ratio(query, choice))
    # WRatio tolerates typos and word order; a small length penalty prefers "tool" over "tool kit".
    return float(fuzz.WRatio(query, choice)) - 0.3 * abs(len(choice) - len(query)) / max(len(query), 1)


def rank(text: str, limit: int = 5) -> list[Match]:
    """The best categories for `text`, best first, one entry per category."""
    query = normalize(text)
    if not query:
        return []
    texts, owners = _choices()
    best: dict[str, Match] = {}
    for choice, score, position in process.extract(query, texts, scorer=_score, limit=limit * 10):
        owner = owners[position]
        if owner.name not in best or score > best[owner.name].score:
            best[owner.name] = Match(owner, round(max(0.0, min(100.0, score)), 1), choice)
    ordered = sorted(best.values(), key=lambda m: (-m.score, len(m.category.name)))
    return ordered[:limit]


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
