"""What a verified CMS webhook asks for: the post and its sections' prompts (issue 12, part 2).

Pure: the verified body in, a PostUpdate out. What each source must send (README "CMS webhooks"):
- ghost: Ghost's own post (or page) event, `{"post": {"current": {...}, "previous": {...}}}`. The
  sections come from the post's `html`: a hero from the title and excerpt, then one per <h2> with
  the text that follows it. A post whose status is not `published` (unpublished, a draft, deleted)
  asks for nothing.
- standard: `{"type": ..., "data": {"post_id", "title"?, "sections": [{"section_id", "prompt"}]}}`,
  the blog manifest's shape inside the spec's `data`; or `data.html` (read as Ghost's is).
- sanity: a GROQ projection producing `{"_id", "title"?, "sections": [{"section_id", "prompt"}]}`
  (or `"html"`); the `sanity-operation: delete` header asks for nothing.
- contentful: an entry whose fields include `title` (short text) and `sections` (a JSON object field
  holding `[{"section_id", "prompt"}]`), each in its locale map: the `en-US` value, else the first;
  unpublish and delete topics ask for nothing.

The html is read with the standard library's html.parser: only h2, p and text are needed, the input
is bounded (the API's 64 KiB body), and it tolerates broken markup without raising; a DOM library
(BeautifulSoup, lxml) would add a dependency to the API functions for no gain here.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from imagegen.errors import InvalidRequestError
from imagegen.models.hooks import HookEvent

MAX_SECTIONS = 20  # a post's images per event: a long post beyond that keeps its first sections
MAX_PROMPT_CHARS = 600  # a heading and its first paragraph, cut at a word: enough to draw from
MAX_SECTION_ID_CHARS = 64  # the API's Ident
HERO = "hero"
_IDENT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SPACES = re.compile(r"\s+")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# What a post id may become: the API's Ident (an S3 key segment). CMS ids (Sanity's "drafts.x")
# are mapped onto it, and a very long one is shortened with a hash so two never collide.
_NOT_IDENT = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class SectionPrompt:
    section_id: str
    prompt: str

    @property
    def content_hash(self) -> str:
        """What decides whether a section changed: its prompt, the only input of its image."""
        return hashlib.sha256(self.prompt.encode()).hexdigest()


@dataclass(frozen=True)
class PostUpdate:
    """The post a webhook is about, and the sections it wants images for (none: nothing to do)."""

    post_id: str | None
    sections: list[SectionPrompt] = field(default_factory=list)
    reason: str = ""  # why nothing is asked, when sections is empty


def post_update(event: HookEvent, body: Mapping[str, Any], headers: Mapping[str, str]) -> PostUpdate:
    """The sections a verified event asks images for; InvalidRequestError when its body lacks them."""
    if event.deleted:
        return PostUpdate(_post_id(event.post_id), reason="the post was deleted or unpublished")
    if event.source == "ghost":
        return _ghost(event, body)
    if event.source == "standard":
        data = body.get("data")
        return _listed(event, data if isinstance(data, Mapping) else {})
    if event.source == "sanity":
        return _listed(event, body)
    return _contentful(event, body)


# --- sources ------------------------------------------------------------------------------------


def _ghost(event: HookEvent, body: Mapping[str, Any]) -> PostUpdate:
    resource, change = next(iter(body.items()))
    if resource not in ("post", "page"):
        return PostUpdate(None, reason=f"Ghost {resource} events carry no post")
    current = change.get("current") if isinstance(change, Mapping) else None
    current = current if isinstance(current, Mapping) else {}
    post_id = _post_id(event.post_id)
    if current.get("status", "published") != "published":
        return PostUpdate(post_id, reason="the post is not published")
    excerpt = _text(current.get("custom_excerpt")) or _text(current.get("excerpt"))
    return _with_sections(post_id, html_sections(_text(current.get("html")) or "", event.title, excerpt))


def _listed(event: HookEvent, data: Mapping[str, Any]) -> PostUpdate:
    post_id = _post_id(_text(data.get("post_id")) or event.post_id)
    sections = data.get("sections")
    if sections is None and isinstance(data.get("html"), str):
        excerpt = _text(data.get("excerpt"))
        return _with_sections(post_id, html_sections(data["html"], _text(data.get("title")), excerpt))
    return _with_sections(post_id, listed_sections(sections))


def _localised(value: Any) -> Any:
    """A Contentful field's value: its locale map's en-US entry, else its first."""
    if not isinstance(value, Mapping) or not value:
        return None
    return value.get("en-US", next(iter(value.values())))


def _contentful(event: HookEvent, body: Mapping[str, Any]) -> PostUpdate:
    fields = body.get("fields")
    fields = fields if isinstance(fields, Mapping) else {}
    return _with_sections(_post_id(event.post_id), listed_sections(_localised(fields.get("sections"))))


def _with_sections(post_id: str | None, sections: list[SectionPrompt]) -> PostUpdate:
    if post_id is None:
        raise InvalidRequestError("the webhook names no post id")
    if not sections:
        return PostUpdate(post_id, reason="the post has no text to draw from")
    return PostUpdate(post_id, sections)


# --- sections -----------------------------------------------------------------------------------


def listed_sections(sections: Any) -> list[SectionPrompt]:
    """`[{"section_id", "prompt"}]` as the blog manifest lists them, checked and bounded."""
    if not isinstance(sections, list) or not sections:
        raise InvalidRequestError("'sections' must be a non-empty list of {section_id, prompt}")
    if len(sections) > MAX_SECTIONS:
        raise InvalidRequestError(f"a webhook asks for at most {MAX_SECTIONS} sections")
    found: dict[str, SectionPrompt] = {}
    for index, section in enumerate(sections):
        section_id = section.get("section_id") if isinstance(section, Mapping) else None
        prompt = _clean(section.get("prompt")) if isinstance(section, Mapping) else ""
        if not isinstance(section_id, str) or not _IDENT.fullmatch(section_id):
            raise InvalidRequestError(f"sections[{index}].section_id must be 1-64 letters, digits, _ or -")
        if not prompt:
            raise InvalidRequestError(f"sections[{index}].prompt must be some text")
        if section_id in found:
            raise InvalidRequestError(f"sections[{index}].section_id '{section_id}' is listed twice")
        found[section_id] = SectionPrompt(section_id, _bounded(prompt))
    return list(found.values())


def html_sections(html: str, title: str | None, excerpt: str | None) -> list[SectionPrompt]:
    """A hero from the title and excerpt, then one section per <h2>: its slug, and a prompt from the
    heading and the first paragraph after it."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    sections: list[SectionPrompt] = []
    hero = _join(_clean(title), _clean(excerpt) or (reader.lead and reader.lead[0]) or "")
    if hero:
        sections.append(SectionPrompt(HERO, _bounded(hero)))
    taken = {HERO}
    for heading, paragraphs in reader.headings:
        if len(sections) >= MAX_SECTIONS:
            break
        prompt = _join(heading, paragraphs[0] if paragraphs else "")
        if prompt:
            sections.append(SectionPrompt(_unique(slug(heading), taken), _bounded(prompt)))
    return sections


def slug(text: str) -> str:
    """`Why Cats Purr?` -> `why-cats-purr`: ASCII letters and digits joined by -, at most 64."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return "-".join(words)[:MAX_SECTION_ID_CHARS].strip("-") or "section"


def _unique(base: str, taken: set[str]) -> str:
    """The slug, or slug-2, slug-3 ... when two headings read alike."""
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = base[: MAX_SECTION_ID_CHARS - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


class _Reader(HTMLParser):
    """Collects each <h2>'s text and the paragraphs after it, and the paragraphs before the first."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lead: list[str] = []
        self.headings: list[tuple[str, list[str]]] = []
        self._open: str | None = None  # "h2" or "p" while inside one
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h2", "p"):
            self._end()
            self._open = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._end()

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        self._end()

    def _end(self) -> None:
        text = _clean("".join(self._text))
        tag, self._open, self._text = self._open, None, []
        if not text or tag is None:
            return
        if tag == "h2":
            self.headings.append((text, []))
        elif self.headings:
            self.headings[-1][1].append(text)
        else:
            self.lead.append(text)


# --- text ---------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _clean(value: Any) -> str:
    """One line of text: control characters dropped, runs of spaces made one."""
    if not isinstance(value, str):
        return ""
    return _SPACES.sub(" ", _CONTROLS.sub("", value)).strip()


def _join(heading: str, text: str) -> str:
    if heading and text:
        return f"{heading}: {text}" if heading[-1] not in ".:!?" else f"{heading} {text}"
    return heading or text


def _bounded(text: str) -> str:
    if len(text) <= MAX_PROMPT_CHARS:
        return text
    cut = text[:MAX_PROMPT_CHARS].rsplit(" ", 1)[0]
    return cut or text[:MAX_PROMPT_CHARS]


def _post_id(post_id: str | None) -> str | None:
    """The CMS's post id as the API's Ident (an S3 key segment)."""
    if not post_id:
        return None
    ident = _NOT_IDENT.sub("-", post_id).strip("-")
    if ident != post_id or len(ident) > MAX_SECTION_ID_CHARS:
        digest = hashlib.sha256(post_id.encode()).hexdigest()[:12]
        ident = f"{ident[: MAX_SECTION_ID_CHARS - 13]}-{digest}".strip("-")
    return ident
