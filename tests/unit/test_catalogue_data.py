"""The category catalogue is well-formed data: enough categories, unique names and aliases, real icons."""

from __future__ import annotations

import json
from importlib import resources

from imagegen.providers.icon_set import has_icon

CATALOGUE = json.loads(resources.files("imagegen").joinpath("data/categories.json").read_text())["categories"]


def test_there_are_at_least_300_categories_with_parents_that_exist() -> None:
    names = {category["name"] for category in CATALOGUE}
    assert len(CATALOGUE) >= 300 and len(names) == len(CATALOGUE)
    assert all(category["parent"] in names for category in CATALOGUE if category["parent"])
    assert sum(1 for category in CATALOGUE if category["parent"] is None) >= 20


def test_every_alias_points_to_exactly_one_category() -> None:
    seen: dict[str, str] = {category["name"].lower(): category["name"] for category in CATALOGUE}
    for category in CATALOGUE:
        for alias in category["aliases"]:
            assert alias == alias.lower()
            assert seen.setdefault(alias, category["name"]) == category["name"], alias


def test_every_category_has_an_icon_elements_and_a_description() -> None:
    for category in CATALOGUE:
        assert has_icon(category["icon"]), category["name"]
        assert len(category["elements"]) >= 2 and category["description"], category["name"]
