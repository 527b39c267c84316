"""What the offline renderer draws: the subject of a category or prompt, its companions and setting.

This module decides *what* (glyph names from Material Design Icons, and the words each was chosen
for); imagegen.providers.offline decides *how* it looks. The choice is recorded in the metadata as
`offline_subject`, so a reader and a test can see why a glyph was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imagegen.models.domain import ImageSpec
from imagegen.providers import icon_set


@dataclass(frozen=True)
class Pick:
    """One glyph and the words of the input it stands for."""

    glyph: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Subject:
    """The subject first, then companions (modifiers, custom elements), then the setting (blog scenes:
    table, sea, office, sky), if any. Glyph names are icon_set names (without `-outline`)."""

    subject: Pick
    companions: tuple[Pick, ...] = ()
    setting: Pick | None = None
    alternatives: tuple[str, ...] = field(default=(), compare=False)  # next-best subject glyphs

    def as_metadata(self) -> dict[str, Any]:
        """The `offline_subject` metadata field."""
        return {
            "subject": {"glyph": self.subject.glyph, "words": list(self.subject.words)},
            "companions": [{"glyph": p.glyph, "words": list(p.words)} for p in self.companions],
            "setting": {"glyph": self.setting.glyph, "words": list(self.setting.words)}
            if self.setting
            else None,
        }


def choose(spec: ImageSpec) -> Subject:
    """The subject of an icon (its category, catalogue icon and custom elements) or a blog image (its
    prompt). First version: the word matching the renderer had (issue 14 replaces it)."""
    text = spec.category or spec.prompt if spec.kind == "icon" else spec.prompt
    found = icon_set.search(text, limit=4)
    names = (
        [spec.catalogue_icon, *(n for n in found if n != spec.catalogue_icon)]
        if spec.kind == "icon" and spec.catalogue_icon
        else found
    )
    elements = [Pick(icon_set.search(element, limit=1)[0], (element,)) for element in spec.custom_elements]
    words = tuple(icon_set.words(text))
    return Subject(
        subject=Pick(names[0], words),
        companions=tuple(p for p in elements if p.glyph != icon_set.FALLBACK),
        alternatives=tuple(names[1:]),
    )
