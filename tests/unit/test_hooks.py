"""CMS webhooks in: sections read from posts, per-source bodies, hook secrets, and what a verified
webhook makes (dedup on owner, post, section and content), on in-memory fakes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from imagegen.errors import HookNotFoundError, InvalidRequestError, QuotaExceededError, WebhookRejectedError
from imagegen.logic.hook_posts import (
    MAX_PROMPT_CHARS,
    MAX_SECTIONS,
    SectionPrompt,
    html_sections,
    listed_sections,
    post_update,
    slug,
)
from imagegen.logic.hooks import ROTATION_GRACE, current_hook, receive_hook, rotate_hook
from imagegen.logic.hooks_in import HookRequest
from imagegen.models.domain import Caller
from imagegen.models.hooks import HookEvent
from tests.unit.fakes import FakeHooks, FakeServices, make_services

BASE = "https://api.example.com"
EDITOR = Caller(sub="editor")


# --- sections from html ---------------------------------------------------------------------------


def test_a_post_becomes_a_hero_and_one_section_per_h2() -> None:
    html = (
        "<p>Lead paragraph.</p><h2>Why <strong>bees</strong> matter</h2><p>They pollinate.</p><p>More.</p>"
        "<h3>A sub heading</h3><h2>Inside the hive</h2><figure><img src=x></figure><p>50,000 bees.</p>"
    )
    sections = html_sections(html, "The orchard's bees", "How bees and apples need each other")
    assert sections == [
        SectionPrompt("hero", "The orchard's bees: How bees and apples need each other"),
        SectionPrompt("why-bees-matter", "Why bees matter: They pollinate."),
        SectionPrompt("inside-the-hive", "Inside the hive: 50,000 bees."),
    ]


def test_the_hero_falls_back_on_the_lead_paragraph_and_headings_alike_get_numbered() -> None:
    html = "<p>First words.</p><h2>Tips</h2><p>One.</p><h2>Tips!</h2><h2>Déjà vu?</h2><p>Again.</p>"
    sections = html_sections(html, "Title.", None)
    assert [(s.section_id, s.prompt) for s in sections] == [
        ("hero", "Title. First words."),
        ("tips", "Tips: One."),
        ("tips-2", "Tips!"),
        ("deja-vu", "Déjà vu? Again."),
    ]


def test_broken_markup_control_characters_and_long_text_stay_bounded() -> None:
    long_text = "word " * 400
    html = f"<h2>Unclosed <em>heading\x00<p>{long_text}<h2>\t\tSecond</h2><p>ok</p></div></span>"
    sections = html_sections(html, None, None)
    assert [s.section_id for s in sections] == ["unclosed-heading", "second"]
    assert all(len(s.prompt) <= MAX_PROMPT_CHARS and "\x00" not in s.prompt for s in sections)
    assert sections[0].prompt.endswith("word")  # cut at a word


def test_a_long_post_keeps_its_first_sections() -> None:
    html = "".join(f"<h2>Part {n}</h2><p>Text {n}.</p>" for n in range(50))
    sections = html_sections(html, "Title", None)
    assert len(sections) == MAX_SECTIONS
    assert sections[-1].section_id == f"part-{MAX_SECTIONS - 2}"


def test_slugs_are_idents() -> None:
    assert slug("  Why Cats Purr?  ") == "why-cats-purr"
    assert slug("¿¡!") == "section"
    assert len(slug("x" * 200)) == 64


def test_the_content_hash_follows_the_prompt() -> None:
    assert SectionPrompt("a", "one").content_hash == SectionPrompt("b", "one").content_hash
    assert SectionPrompt("a", "one").content_hash != SectionPrompt("a", "two").content_hash


# --- listed sections and the sources' bodies --------------------------------------------------


@pytest.mark.parametrize(
    ("sections", "problem"),
    [
        ([], "non-empty list"),
        ([{"section_id": "a b", "prompt": "x"}], "section_id"),
        ([{"section_id": "a", "prompt": "  "}], "prompt"),
        ([{"section_id": "a", "prompt": "x"}, {"section_id": "a", "prompt": "y"}], "twice"),
        ([{"section_id": f"s{n}", "prompt": "x"} for n in range(MAX_SECTIONS + 1)], "at most"),
        (["a"], "section_id"),
    ],
)
def test_listed_sections_are_checked(sections: object, problem: str) -> None:
    with pytest.raises(InvalidRequestError, match=problem):
        listed_sections(sections)


def _event(source: str, **fields: object) -> HookEvent:
    return HookEvent.model_validate({"source": source, "event_type": "x", **fields})


def test_each_source_says_its_sections_its_own_way() -> None:
    listed = [{"section_id": "intro", "prompt": "A harbour at dawn"}]
    standard = post_update(_event("standard", post_id="p1"), {"data": {"sections": listed}}, {})
    sanity = post_update(_event("sanity", post_id="drafts.p1"), {"_id": "drafts.p1", "sections": listed}, {})
    contentful = post_update(
        _event("contentful", post_id="5KsDBWseXY6QegucYAoacS"),
        {"sys": {"id": "5KsDBWseXY6QegucYAoacS"}, "fields": {"sections": {"de-DE": [], "en-US": listed}}},
        {},
    )
    assert standard.post_id == "p1" and standard.sections == [SectionPrompt("intro", "A harbour at dawn")]
    assert contentful.sections == standard.sections and contentful.post_id == "5KsDBWseXY6QegucYAoacS"
    # Sanity's draft ids hold a dot, which no S3 key segment of this API takes: mapped, never colliding.
    assert sanity.post_id is not None and sanity.post_id.startswith("drafts-p1-") and sanity.sections
    html = post_update(
        _event("standard", post_id="p2"), {"data": {"title": "T", "html": "<h2>H</h2><p>x</p>"}}, {}
    )
    assert [s.section_id for s in html.sections] == ["hero", "h"]


def test_deleted_drafts_and_empty_posts_ask_for_nothing() -> None:
    draft = {"post": {"current": {"id": "p", "status": "draft", "html": "<h2>H</h2>"}, "previous": {}}}
    tag = {"tag": {"current": {"id": "t", "name": "News"}, "previous": {}}}
    empty = {"post": {"current": {"id": "p", "status": "published", "html": ""}, "previous": {}}}
    assert post_update(_event("ghost", post_id="p"), draft, {}).sections == []
    assert post_update(_event("ghost", post_id="t"), tag, {}).post_id is None
    assert post_update(_event("ghost", post_id="p"), empty, {}).reason == "the post has no text to draw from"
    assert post_update(_event("sanity", post_id="p", deleted=True), {}, {}).sections == []
    with pytest.raises(InvalidRequestError, match="no post id"):
        post_update(_event("standard"), {"data": {"sections": [{"section_id": "a", "prompt": "x"}]}}, {})


# --- hook secrets -------------------------------------------------------------------------------


def test_an_owner_makes_reads_and_rotates_a_hook_whose_url_stays() -> None:
    hooks, now = FakeHooks(), datetime(2026, 11, 21, 12, 0).astimezone()
    with pytest.raises(HookNotFoundError):
        current_hook("ghost", EDITOR, hooks, BASE)
    made = rotate_hook("ghost", EDITOR, hooks, BASE, now)
    assert made.url.startswith(f"{BASE}/api/hooks/ghost?hook=") and "editor" not in made.url
    assert current_hook("ghost", EDITOR, hooks, BASE) == made
    rotated = rotate_hook("ghost", EDITOR, hooks, BASE, now)
    assert rotated.url == made.url and rotated.secret != made.secret
    assert rotated.previous_secret_valid_until == now + ROTATION_GRACE
    assert rotate_hook("standard", EDITOR, hooks, BASE, now).secret.startswith("whsec_")
    assert rotate_hook("ghost", Caller(sub="other"), hooks, BASE, now).url != made.url


# --- receiving ----------------------------------------------------------------------------------


def ghost_body(second: str = "A hive holds 50,000 bees.") -> bytes:
    html = f"<h2>Why bees matter</h2><p>They pollinate.</p><h2>Inside the hive</h2><p>{second}</p>"
    current = {"id": "post1", "title": "Bees", "status": "published", "html": html}
    return json.dumps({"post": {"current": current, "previous": {}}}).encode()


def ghost_request(secret: str, body: bytes, at: datetime) -> HookRequest:
    ts = str(int(at.timestamp() * 1000))
    digest = hmac.new(secret.encode(), body + ts.encode(), hashlib.sha256).hexdigest()
    return HookRequest(headers={"X-Ghost-Signature": f"sha256={digest}, t={ts}"}, body=body)


def _setup() -> tuple[FakeServices, FakeHooks, str, str]:
    services, hooks = make_services(), FakeHooks()
    made = rotate_hook("ghost", EDITOR, hooks, BASE, services.clock())
    return services, hooks, made.url.rpartition("hook=")[2], made.secret


def test_a_post_makes_one_blog_job_and_only_changed_sections_after() -> None:
    services, hooks, hook_id, secret = _setup()
    first = receive_hook(
        "ghost", hook_id, ghost_request(secret, ghost_body(), services.clock()), services, hooks
    )
    assert first.outcome == "created" and first.sections == ["hero", "why-bees-matter", "inside-the-hive"]
    job = services.jobs.get_job(first.batch_id or "")
    assert job is not None and job.kind == "blog" and job.owner == "editor" and job.counts.total == 3
    items = services.jobs.iter_items(job.job_id)
    assert [item.spec.key.split("/")[:4] for item in items][1] == [
        "posts",
        "post1",
        "sections",
        "why-bees-matter",
    ]
    assert len(services.queue.sent) == 3

    same = receive_hook(
        "ghost", hook_id, ghost_request(secret, ghost_body(), services.clock()), services, hooks
    )
    assert same.outcome == "unchanged" and same.batch_id is None and len(services.jobs.jobs) == 1

    changed_body = ghost_body("Now 60,000.")
    changed = receive_hook(
        "ghost", hook_id, ghost_request(secret, changed_body, services.clock()), services, hooks
    )
    assert changed.sections == ["inside-the-hive"] and changed.unchanged == ["hero", "why-bees-matter"]
    assert len(services.jobs.jobs) == 2


def test_a_job_refused_leaves_the_sections_and_the_replay_key_for_the_retry() -> None:
    services, hooks, hook_id, secret = _setup()
    services.settings = services.settings.model_copy(update={"quota_images_per_day": 1})
    request = ghost_request(secret, ghost_body(), services.clock())
    with pytest.raises(QuotaExceededError):
        receive_hook("ghost", hook_id, request, services, hooks)
    assert hooks.sections == {} and hooks.replays == {} and services.jobs.jobs == {}
    services.settings = services.settings.model_copy(update={"quota_images_per_day": 0})
    assert receive_hook("ghost", hook_id, request, services, hooks).outcome == "created"


def test_unknown_hooks_other_sources_replays_and_old_secrets_are_refused() -> None:
    services, hooks, hook_id, secret = _setup()
    body = ghost_body()
    with pytest.raises(WebhookRejectedError, match="unknown hook"):
        receive_hook("ghost", "A" * 32, ghost_request(secret, body, services.clock()), services, hooks)
    with pytest.raises(WebhookRejectedError, match="unknown hook"):
        receive_hook("sanity", hook_id, ghost_request(secret, body, services.clock()), services, hooks)
    request = ghost_request(secret, body, services.clock())
    receive_hook("ghost", hook_id, request, services, hooks)
    with pytest.raises(WebhookRejectedError, match="replay"):
        receive_hook("ghost", hook_id, request, services, hooks)
    # After a rotation the old secret works for the grace period, then no more.
    rotate_hook("ghost", EDITOR, hooks, BASE, services.clock())
    old = receive_hook(
        "ghost", hook_id, ghost_request(secret, ghost_body("x"), services.clock()), services, hooks
    )
    assert old.outcome == "created"
    later = services.clock() + ROTATION_GRACE + timedelta(seconds=1)
    services.clock = lambda: later
    with pytest.raises(WebhookRejectedError, match="does not match"):
        receive_hook(
            "ghost", hook_id, ghost_request(secret, ghost_body("y"), services.clock()), services, hooks
        )


def test_a_standard_webhook_with_listed_sections() -> None:
    services, hooks = make_services(), FakeHooks()
    made = rotate_hook("standard", EDITOR, hooks, BASE, services.clock())
    body = json.dumps(
        {
            "type": "post.published",
            "data": {"post_id": "p9", "sections": [{"section_id": "s1", "prompt": "A fox"}]},
        }
    )
    now = services.clock()
    signature = Webhook(made.secret).sign(msg_id="msg_1", timestamp=now, data=body)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    answer = receive_hook(
        "standard", made.url.rpartition("hook=")[2], HookRequest(headers, body.encode()), services, hooks
    )
    assert answer.outcome == "created" and answer.post_id == "p9" and answer.sections == ["s1"]
    assert base64.b64decode(signature.partition(",")[2])  # a real Standard Webhooks signature was sent
