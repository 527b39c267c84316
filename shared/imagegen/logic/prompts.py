"""Build prompts from the templates: icons always, blog images only when a template is asked for."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from imagegen import templates
from imagegen.logic.categories import Category

logger = Logger(child=True)


def icon_prompt(
    words: str,
    match: Category | None,
    style: str,
    color_scheme: str,
    elements: list[str],
    variation: int,
    background: str = "auto",
    brand_colors: list[str] | None = None,
) -> str:
    """The user's words (with the matched category's description), style, colours and this variation's
    composition. Variations differ by composition and by which element they put forward."""
    data = templates.templates()
    icon = data["icon"]
    subject = (
        icon["subject_with_description"].format(words=words, description=match.description)
        if match
        else words
    )
    featuring = icon["featuring"].format(elements=", ".join(elements)) if elements else ""
    candidates = elements or (list(match.elements) if match else [])
    emphasis = candidates[(variation - 1) % len(candidates)] if candidates else "its most recognisable detail"
    compositions = icon["compositions"]
    scheme = data["color_schemes"][color_scheme]
    brand = ", ".join(brand_colors or scheme.get("default_brand", []))
    return str(
        icon["template"].format(
            style=data["styles"][style]["prompt"],
            subject=subject,
            featuring=featuring,
            colours=scheme["prompt"].format(brand=brand),
            composition=compositions[(variation - 1) % len(compositions)].format(element=emphasis),
            guidance=icon["guidance"].format(background=icon["backgrounds"][background]),
        )
    )


def fit_prompt(prompt: str, limit: int) -> str:
    """A built prompt cut at a word boundary to the model's limit (user text is refused, never cut)."""
    if len(prompt) <= limit:
        return prompt
    logger.warning("prompt trimmed to the model's limit", length=len(prompt), limit=limit)
    return prompt[:limit].rsplit(" ", 1)[0]


def blog_prompt(prompt: str, template: str | None) -> str:
    """The author's prompt, untouched unless a blog template was asked for."""
    return str(templates.templates()["blog"][template].format(prompt=prompt)) if template else prompt
