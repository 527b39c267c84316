"""Category matching: normalisation, and accuracy on the committed evaluation set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagegen.logic.categories import best_match, normalize, rank

EVAL = json.loads((Path(__file__).parents[1] / "data" / "category_eval.json").read_text())


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Office_Supplies", "office supply"),
        ("office-supplies", "office supply"),
        ("OFFICE SUPPLIES", "office supply"),
        ("Jewellery", "jewelry"),
        ("Women's Clothing", "women clothing"),
        ("Tables & Desks", "table desk"),
        ("glasses", "glass"),
        ("boxes", "box"),
    ],
)
def test_normalisation_folds_case_separators_spelling_and_plurals(raw: str, normal: str) -> None:
    assert normalize(raw) == normal


def test_the_original_systems_examples_match() -> None:
    for typed, expected in (
        ("Office_Supplies", "Office Supplies"),
        ("electrnics", "Electronics"),
        ("auto parts", "Car Parts"),
        ("ofice suplies", "Office Supplies"),
    ):
        match = best_match(typed)
        assert match is not None and match.category.name == expected, typed


def test_unknown_categories_have_no_match() -> None:
    assert best_match("zzyzx qwerty") is None
    assert rank("") == []


def test_accuracy_on_the_evaluation_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(EVAL) >= 100
    top1 = top3 = 0
    for case in EVAL:
        ranked = [match.category.name for match in rank(case["input"], limit=3)]
        top1 += ranked[:1] == [case["expected"]]
        top3 += case["expected"] in ranked
    with capsys.disabled():
        share = len(EVAL)
        print(f"\ncategory matching on {share} inputs: top-1 {top1 / share:.3f}, top-3 {top3 / share:.3f}")
    assert top3 / len(EVAL) >= 0.9
    assert top1 / len(EVAL) >= 0.85
