"""Category suggestions as a user types: the tiers, and the committed keystroke evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagegen.logic.categories import normalize, suggestions

EVAL = json.loads((Path(__file__).parents[1] / "data" / "suggestions_eval.json").read_text())


def top(typed: str, limit: int = 3) -> list[str]:
    return [s.category for s in suggestions(typed, limit).suggestions]


def test_the_issues_examples_suggest_what_was_meant() -> None:
    # "3d" used to suggest DJ equipment (Event Services), "sushi" squash (Racket Sports).
    assert top("3d", 1) == ["3D Printing"]
    assert "Event Services" not in top("3d")
    assert top("sushi", 1) == ["Restaurants"]  # an alias now: the catalogue had no sushi at all


def test_a_word_prefix_outranks_a_closer_looking_fuzzy_match() -> None:
    # "bic" is closer to "brick" and "fabric" by similarity than to "bicycle", but only "bicycle" starts so.
    assert top("bic", 1) == ["Cycling"]
    assert top("kitch", 1) == ["Kitchen & Dining"]


def test_a_prefix_at_the_start_outranks_one_inside_a_name() -> None:
    # "Kitchen & Dining" starts with "kitch"; "Small Kitchen Appliances" only has the word inside.
    ranked = top("kitch", 8)
    assert ranked.index("Kitchen & Dining") < ranked.index("Small Kitchen Appliances")


def test_an_exact_alias_comes_first() -> None:
    assert top("pets", 1) == ["Animals & Pet Supplies"]
    assert top("tv", 1) == ["Televisions"]


def test_noise_is_left_out() -> None:
    # One letter is no typo of anything; a two-letter input merely alike ("3d" ~ "dj") is noise.
    assert all(s.matched.split()[0].startswith("y") for s in suggestions("y", 8).suggestions)
    assert top("3d", 8) == ["3D Printing"]


def test_single_letters_suggest_only_names_or_aliases_with_a_word_starting_so() -> None:
    for letter in "bjsy":
        answer = suggestions(letter, 8).suggestions
        assert len(answer) == 8 or letter in "jy"  # few words start with j or y; no fuzzy filler
        for suggestion in answer:
            assert any(word.startswith(letter) for word in suggestion.matched.split()), (letter, suggestion)


def test_typos_still_find_their_category() -> None:
    assert top("ofice suplies", 1) == ["Office Supplies"]
    assert top("elektronics", 1) == ["Electronics"]


def test_the_response_keeps_its_shape_and_limit() -> None:
    answer = suggestions("Gard", 5)
    assert answer.query == "Gard"
    assert len(answer.suggestions) == 5
    first = answer.suggestions[0]
    assert (first.category, first.parent, first.icon) == ("Garden & Outdoor", "Home & Garden", first.icon)
    assert first.matched == normalize("Garden & Outdoor")  # its own name before its alias "garden"
    assert 0 < first.score <= 100
    assert len({s.category for s in answer.suggestions}) == 5  # one entry per category


def test_every_typed_prefix_of_the_evaluation_has_its_category_in_the_top_3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert len(EVAL) >= 60
    misses = [(case["typed"], case["expected"], top(case["typed"])) for case in EVAL]
    misses = [miss for miss in misses if miss[1] not in miss[2]]
    top1 = sum(top(case["typed"], 1) == [case["expected"]] for case in EVAL)
    with capsys.disabled():
        print(f"\nsuggestions on {len(EVAL)} typed prefixes: top-1 {top1 / len(EVAL):.3f}, ", end="")
        print(f"top-3 {1 - len(misses) / len(EVAL):.3f}")
        for typed, expected, got in misses:
            print(f"  miss: {typed!r} expected {expected!r}, got {got}")
    assert misses == []
