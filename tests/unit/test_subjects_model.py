"""When the sentence model overrules the subject grammar (subjects._by_model), with injected scores, and a
few choices of the real model (all-MiniLM-L6-v2, built by `make`)."""

from __future__ import annotations

import pytest

from imagegen.models.domain import ImageSpec
from imagegen.providers import sentence_model, subjects
from imagegen.providers.registry import DEFAULT_MODEL


def _icon(category: str, **fields: object) -> ImageSpec:
    base = {"kind": "icon", "prompt": category, "width": 512, "height": 512, "key": "k.png"}
    return ImageSpec.model_validate({**base, "category": category, "model": DEFAULT_MODEL, **fields})


def _blog(prompt: str) -> ImageSpec:
    return ImageSpec(kind="blog", prompt=prompt, width=1792, height=1024, key="k.png", model=DEFAULT_MODEL)


@pytest.fixture
def scores(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """The model's cosine per icon, as the test sets it; every other icon scores 0."""
    given: dict[str, float] = {}
    monkeypatch.setattr(sentence_model, "icon_scores", lambda text: {"tag": 0.0, "account": 0.0, **given})
    return given


def test_an_icons_own_name_is_never_overruled(scores: dict[str, float]) -> None:
    scores.update({"motorbike": 0.1, "racing-helmet": 0.95})
    chosen = subjects.choose(_icon("motorbike helmets"))  # the grammar: motorbike, an icon's own name
    assert (chosen.subject.glyph, chosen.chooser) == ("motorbike", "grammar")


def test_a_catalogues_or_aliass_pick_yields_only_by_a_clear_margin(scores: dict[str, float]) -> None:
    # "gas bottles": the grammar's bottle is the catalogue's (CATALOGUE): the model must beat it by > 0.3
    scores.update({"baby-bottle": 0.40, "gas-cylinder": 0.69})
    assert subjects.choose(_icon("gas bottles")).subject.glyph == "baby-bottle"
    scores.update({"gas-cylinder": 0.71})
    chosen = subjects.choose(_icon("gas bottles"))
    assert (chosen.subject.glyph, chosen.chooser) == ("gas-cylinder", "model")
    assert chosen.subject.words == ("gas", "bottles")
    assert chosen.as_metadata()["chosen_by"] == "model"


def test_a_guess_yields_by_a_small_margin(scores: dict[str, float]) -> None:
    # "bricklayers": brick + layer, a guess (PART) at toy-brick: a margin of 0.1 is enough
    scores.update({"toy-brick": 0.50, "wall": 0.59})
    assert subjects.choose(_icon("bricklayers")).subject.glyph == "toy-brick"
    scores.update({"wall": 0.61})
    assert subjects.choose(_icon("bricklayers")).subject.glyph == "wall"


def test_words_the_grammar_finds_nothing_in_take_the_models_nearest(scores: dict[str, float]) -> None:
    scores.update({"horseshoe": 0.40, "horse": 0.35})
    chosen = subjects.choose(_icon("farriers"))
    assert (chosen.subject.glyph, chosen.chooser, chosen.subject.words) == (
        "horseshoe",
        "model",
        ("farriers",),
    )


def test_a_variants_name_is_lowered(scores: dict[str, float]) -> None:
    scores.update({"toy-brick-plus": 0.63, "toy-brick": 0.60})  # "plus" marks a variant: 0.58 < 0.60
    assert subjects.choose(_icon("farriers")).subject.glyph == "toy-brick"
    scores.update({"toy-brick-plus": 0.70})
    assert subjects.choose(_icon("farriers")).subject.glyph == "toy-brick-plus"


def test_a_misspelt_catalogue_name_keeps_the_catalogues_icon(scores: dict[str, float]) -> None:
    scores.update({"guitar-electric": 0.6})
    typo = _icon("electrnics", category_match="Electronics", catalogue_icon="laptop", category_score=91.0)
    assert subjects.choose(typo).subject.glyph == "laptop"
    far = _icon("electrnics", category_match="Electronics", catalogue_icon="laptop", category_score=82.0)
    assert subjects.choose(far).subject.glyph == "guitar-electric"  # not close enough to be a spelling


def test_a_blog_prompts_named_subject_yields_only_by_a_wide_margin(scores: dict[str, float]) -> None:
    # "lighthouse" is an icon's own name: in a blog prompt the model must beat it by > 0.3
    scores.update({"lighthouse": 0.50, "waves": 0.79})
    chosen = subjects.choose(_blog("A lighthouse on a rocky coast"))
    assert (chosen.subject.glyph, chosen.chooser) == ("lighthouse", "grammar")
    scores.update({"waves": 0.81})
    assert subjects.choose(_blog("A lighthouse on a rocky coast")).subject.glyph == "waves"
    scores.clear()
    scores.update({"horseshoe": 0.5})
    assert subjects.choose(_blog("Farriers")).subject.glyph == "horseshoe"  # nothing named: the model


def test_the_overruled_subject_is_not_drawn_as_a_companion(scores: dict[str, float]) -> None:
    scores.update({"baby-bottle": 0.2, "gas-cylinder": 0.9})
    chosen = subjects.choose(_icon("gas bottles"))
    assert chosen.subject.glyph == "gas-cylinder"
    assert "baby-bottle" not in [pick.glyph for pick in chosen.companions]


def test_without_the_model_the_grammar_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sentence_model, "icon_scores", lambda text: {})
    assert subjects.choose(_icon("gas bottles")).subject.glyph == "baby-bottle"
    assert subjects.choose(_icon("farriers")).chooser == "grammar"


@pytest.mark.parametrize(
    ("category", "glyph"),
    [
        ("blood donation", "blood-bag"),  # the grammar: a hand with a coin, the catalogue's donation
        ("toy blocks", "toy-brick"),  # the grammar: "block" is the cancel sign's alias
        ("windscreen replacement", "car-windshield"),  # the grammar: wind + screen, a guess
        ("genealogy research", "family-tree"),  # the grammar: a flask for "research"
        ("road signs", "road"),  # an icon's own name: the model's sign-direction does not overrule it
    ],
)
def test_the_real_model(category: str, glyph: str) -> None:
    assert sentence_model.available(), "the sentence model is not built: run make"
    assert subjects.choose(_icon(category)).subject.glyph == glyph
