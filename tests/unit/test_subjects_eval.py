"""Top-1 relevance of the offline renderer's subject on the committed evaluation set.

tests/data/subject_eval.json: categories and blog prompts the catalogue does not name, each with the
glyphs a viewer would accept as showing its subject. The "tuning" split was used to shape the grammar
and its hints; the "held_out" split was written afterwards, and its misses led to general rules and
general vocabulary (kin: words the icon set lacks), never a per-item hint; it has been looked at since.
The "held_out_2" split was written and committed before a round of general rules (compounds, kin,
specific modifiers) and scored once, after them (0.826 / 0.700); the next round (agent nouns, place
heads, names before their parts, sense by kind) looked at its misses, so it is no longer unseen.
The "held_out_3" split (113 categories, 35 prompts) was written by a session that saw neither the rules
nor their results, kept outside the repository while that round ran, and scored once after it:
0.690 / 0.829 (the fair figure). The next round (stems that stop at known words, a category's alias
yielding to the icon named by its word, service and route heads, group words) looked at its misses, so
it is no longer unseen. The "held_out_4" split (113 categories, 36 prompts) was written the same way
during that round and scored once after it: 0.681 / 0.750, the fair figure now; round 5 (precedence:
exact names first) looked at its misses, so it is no longer unseen. The "held_out_5" split (122
categories, 36 prompts), written the same way during round 5 and scored once after it: 0.746 / 0.750,
the same as before that round. Round 6 put a sentence model (all-MiniLM-L6-v2, providers/sentence_model.py)
beside the grammar, by a rule fixed from leave-one-split-out runs on the six splits before the "held_out_6"
split (124 categories, 41 prompts, written the same way) was scored, once: 0.718 / 0.756 (the grammar alone:
0.637 / 0.756). The "held_out_7" split (119 categories, 40 prompts), written the same way during round 6,
was scored once after it: 0.773 / 0.675 (the grammar alone: 0.689 / 0.675). Round 7 let the model overrule a
blog prompt's subject too, by margins set by leave-one-split-out runs on the eight splits (held_out_7's misses
among them) and written down before "held_out_8" (79 categories, 61 prompts, written the same way) was
scored once: 0.620 / 0.639 (round 6's code: 0.620 / 0.541; the grammar alone: 0.557 / 0.541). "held_out_9"
(100 categories, 50 prompts), written the same way after round 7, was scored once with its code: 0.600 /
0.820 (the grammar alone: 0.510 / 0.760). "held_out_10" (102 categories, 51 prompts: inputs a-m) and
"held_out_11" (94 categories, 50 prompts: n-z), written at once by two sessions the same way after held_out_9
was scored, were scored once with that same code: 0.735 / 0.922 and 0.617 / 0.480 (the grammar alone:
0.706 / 0.863 and 0.553 / 0.460). "held_out_12" (79 categories, 60 prompts), written the same way after
them, was scored once with the same code: 0.646 / 0.817 (the grammar alone: 0.570 / 0.700). The README
states all thirteen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imagegen.logic.categories import best_match, catalogue, normalize
from imagegen.logic.prompts import blog_prompt
from imagegen.models.domain import ImageSpec
from imagegen.providers import icon_set, sentence_model, subjects
from imagegen.providers.registry import DEFAULT_MODEL

EVAL: dict[str, list[dict[str, Any]]] = json.loads(
    (Path(__file__).parents[1] / "data" / "subject_eval.json").read_text()
)
ICONS, BLOG = EVAL["icons"], EVAL["blog"]
# Floors at the measured figures (tuning 110/117 and 38/38, held_out 49/55 and 18/18, held_out_2 67/69
# and 20/20, held_out_3 94/113 and 34/35 after a round that looked at it), so that a change that loses
# ground fails. held_out_3 is below issue 14's icon target (0.9): its floor is the measured figure.
# held_out_5 (91/122 and 27/36) is the last split written unseen and scored once: its floor is that.
# held_out_4 (77/113 and 27/36), written unseen like held_out_3 and scored once after round 4: the
# fairest figure, below both targets; round 5 looked at its misses: floors at 88/113 and 31/36.
# Round 6 (the sentence model beside the grammar) measured 113/121, 49/55, 67/69, 96/113, 91/113, 95/122 and
# held_out_6 89/124 on the icons (blog unchanged, 31/41 on held_out_6): the floors are those figures; tuning
# lost one item to the model ("tax advisors": account-supervisor), held_out_3..5 gained 2, 3 and 4.
# Round 7 (the model may overrule a blog prompt's subject) measured blog 36/38, 17/18, 19/20, 35/35, 32/36,
# 30/36, 35/41 and 33/40 on tuning..held_out_7 (it looked at all of them: they lost 2, 1 and 1 on the three
# the grammar was shaped on, and gained 1, 1, 3, 4 and 6 on the rest), then held_out_8 39/61 once.
TARGETS = {
    ("icons", "tuning"): 0.93,
    ("blog", "tuning"): 0.94,
    ("icons", "held_out"): 0.89,
    ("blog", "held_out"): 0.94,
    ("icons", "held_out_2"): 0.97,
    ("blog", "held_out_2"): 0.95,
    ("icons", "held_out_3"): 0.84,
    ("blog", "held_out_3"): 0.97,
    ("icons", "held_out_4"): 0.80,
    ("blog", "held_out_4"): 0.88,
    ("icons", "held_out_5"): 0.77,
    ("blog", "held_out_5"): 0.83,
    ("icons", "held_out_6"): 0.71,
    ("blog", "held_out_6"): 0.85,
    ("icons", "held_out_7"): 0.77,  # 92/119, scored once
    ("blog", "held_out_7"): 0.82,  # 33/40 (27/40 before round 7 looked at it)
    ("icons", "held_out_8"): 0.62,  # 49/79, scored once after round 7
    ("blog", "held_out_8"): 0.63,  # 39/61
    ("icons", "held_out_9"): 0.60,  # 60/100, scored once after round 7
    ("blog", "held_out_9"): 0.82,  # 41/50
    ("icons", "held_out_10"): 0.73,  # 75/102, scored once with round 7's code
    ("blog", "held_out_10"): 0.92,  # 47/51
    ("icons", "held_out_11"): 0.61,  # 58/94, scored once with round 7's code
    ("blog", "held_out_11"): 0.48,  # 24/50
    ("icons", "held_out_12"): 0.64,  # 51/79, scored once with round 7's code
    ("blog", "held_out_12"): 0.81,  # 49/60
}


def _icon_spec(text: str) -> ImageSpec:
    match = best_match(text)  # as logic.specs does: the catalogue's match and its icon
    return ImageSpec(
        kind="icon",
        prompt=text,
        width=512,
        height=512,
        key="k.png",
        category=text,
        category_match=match.category.name if match else None,
        category_score=match.score if match else None,
        catalogue_icon=match.category.icon if match else None,
        model=DEFAULT_MODEL,
    )


def _blog_spec(prompt: str, template: str | None) -> ImageSpec:
    return ImageSpec(
        kind="blog",
        prompt=blog_prompt(prompt, template),
        user_prompt=prompt if template else None,
        width=1792,
        height=1024,
        key="k.png",
        model=DEFAULT_MODEL,
    )


def _right(spec: ImageSpec, acceptable: list[str]) -> bool:
    drawn = subjects.choose(spec).subject.glyph.removesuffix("-outline")
    return drawn in {glyph.removesuffix("-outline") for glyph in acceptable}


def _catalogue_texts() -> set[str]:
    return {normalize(text) for category in catalogue() for text in (category.name, *category.aliases)}


def test_the_set_is_large_unnamed_by_the_catalogue_and_its_glyphs_exist() -> None:
    named = _catalogue_texts()
    verbatim = [item["input"] for item in ICONS if normalize(item["input"]) in named]
    verbatim += [item["prompt"] for item in BLOG if normalize(item["prompt"]) in named]
    # Only issue 14's own examples ("beer", "pet food", "3d printers", "yoga mats") may be catalogue names.
    issue = {item.get("input") or item.get("prompt") for item in [*ICONS, *BLOG] if item.get("issue")}
    assert set(verbatim) <= issue
    assert len(ICONS) - len(verbatim) >= 150
    assert len(BLOG) >= 50
    held_out = sum(item["split"] != "tuning" for item in [*ICONS, *BLOG])
    assert held_out / (len(ICONS) + len(BLOG)) >= 0.25
    # The second unseen split, committed before the rules it judges: at least 40 categories, 15 prompts.
    assert sum(item["split"] == "held_out_2" and item["input"] not in verbatim for item in ICONS) >= 40
    assert sum(item["split"] == "held_out_2" for item in BLOG) >= 15
    missing = {g for item in [*ICONS, *BLOG] for g in item["acceptable"] if not icon_set.has_icon(g)}
    assert not missing
    # Every split is scored against a floor (test_top1_relevance runs over TARGETS' splits).
    assert {item["split"] for item in [*ICONS, *BLOG]} == {split for _, split in TARGETS}


def test_the_issues_examples_show_their_subject() -> None:
    wrong = [
        item["input"]
        for item in ICONS
        if item.get("issue") and not _right(_icon_spec(item["input"]), item["acceptable"])
    ]
    wrong += [
        item["prompt"]
        for item in BLOG
        if item.get("issue") and not _right(_blog_spec(item["prompt"], item["template"]), item["acceptable"])
    ]
    assert len([item for item in [*ICONS, *BLOG] if item.get("issue")]) == 14
    assert wrong == []


@pytest.mark.parametrize("split", list(dict.fromkeys(split for _, split in TARGETS)))
def test_top1_relevance(split: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The figures are the grammar's and the sentence model's together: without the model's files (built
    # by `make`, tools/sentence_model.py) this measures something else, so it fails rather than skips.
    assert sentence_model.available(), "the sentence model is not built: run make"
    named = _catalogue_texts()
    icons = [i for i in ICONS if i["split"] == split and normalize(i["input"]) not in named]
    blog = [i for i in BLOG if i["split"] == split]
    icon_score = sum(_right(_icon_spec(i["input"]), i["acceptable"]) for i in icons) / len(icons)
    blog_score = sum(_right(_blog_spec(i["prompt"], i["template"]), i["acceptable"]) for i in blog) / len(
        blog
    )
    with capsys.disabled():
        figures = f"icons {icon_score:.3f} ({len(icons)}), blog {blog_score:.3f} ({len(blog)})"
        print(f"\noffline subject top-1, {split}: {figures}")
    assert icon_score >= TARGETS[("icons", split)]
    assert blog_score >= TARGETS[("blog", split)]
