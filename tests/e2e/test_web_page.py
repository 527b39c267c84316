"""The web page in Debian's chromium (Playwright, sync API), against the shared local stack: sign in
with the local button, generate, watch a batch fill in live, cancel, metadata, stats, a phone's width.

One browser and one signed-in tab for the module (the tests run in file order and leave the tab where
the next one can take it); icons are 256 px, the offline renderer's quickest. Every wait is on
something the page shows (Playwright's auto-waiting `expect`); none is a sleep."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from imagegen.cli import serve_banner
from tests.e2e.browser import launch_chromium
from tests.e2e.conftest import Client, worker_disabled

USER = "web-tester"
DRAWN_MS = 60_000  # a batch of six offline icons takes seconds, more on two busy cores
# Playwright's 5 s default is short for a page whose stack shares two busy cores with the other tests.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def sockets() -> list[str]:
    """The URLs of the WebSockets the tab opened."""
    return []


@pytest.fixture(scope="module")
def page(browser: Browser, client: Client, sockets: list[str]) -> Iterator[Page]:
    """The module's tab, signed in with the local button (offered because the local stack's front
    answers POST /local/token)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("websocket", lambda socket: sockets.append(socket.url))
    # The address `imagegen serve` prints is the page's.
    (line,) = [line for line in serve_banner(client.stack).splitlines() if line.startswith("  page:")]
    assert line.split()[1] == client.stack.url + "/"
    page.goto(line.split()[1])
    page.get_by_label("Name", exact=True).fill(USER)
    page.get_by_role("button", name="Sign in locally").click()
    expect(page.get_by_text(f"Signed in as {USER}")).to_be_visible()
    yield page
    context.close()


def images_loaded(page: Page, selector: str) -> int:
    """How many images under `selector` the browser has decoded (not merely put in the DOM)."""
    return int(
        page.eval_on_selector_all(
            selector, "images => images.filter(i => i.complete && i.naturalWidth > 0).length"
        )
    )


def expect_images_decoded(page: Page, selector: str) -> None:
    page.wait_for_function(
        "selector => [...document.querySelectorAll(selector)].every(i => i.complete && i.naturalWidth > 0)",
        arg=selector,
    )


def test_the_local_sign_in_answers_only_requests_addressed_to_the_loopback(client: Client) -> None:
    assert client.http.post("/local/token", json={"sub": "ann"}).json()["sub"] == "ann"
    # A page that rebinds its own name to 127.0.0.1 sends that name as Host: no token for it.
    rebound = client.http.post("/local/token", json={"sub": "ann"}, headers={"Host": "rebound.example:3560"})
    assert rebound.status_code == 403 and "token" not in rebound.json()


def test_the_token_is_the_tabs_and_survives_a_reload(page: Page) -> None:
    # Kept in sessionStorage (never a cookie): a reload of the tab stays signed in.
    assert page.evaluate("sessionStorage.getItem('imagegen.token')").count(".") == 2
    page.reload()
    expect(page.get_by_text(f"Signed in as {USER}")).to_be_visible()
    expect(page.get_by_role("navigation", name="Views")).to_be_visible()
    expect(page.locator("#sign-in")).to_be_hidden()


def test_generate_an_icon_then_open_its_metadata_in_the_gallery(page: Page, client: Client) -> None:
    page.get_by_role("button", name="Generate", exact=True).click()
    category = page.get_by_label("Category", exact=True)
    category.press_sequentially("offi")
    page.get_by_role("button", name="Office Supplies").click()  # a suggestion, as typed
    expect(category).to_have_value("Office Supplies")
    page.locator("#style-picker label", has_text="flat").click()
    # Every style and colour scheme has its sample picture (waited for: a busy machine decodes slowly).
    for picker in ("#style-picker img", "#color-picker img"):
        expect(page.locator(picker)).to_have_count(7)
        expect_images_decoded(page, picker)
        assert images_loaded(page, picker) == 7
    page.locator("#icon-form").get_by_label("Icon size").select_option("256x256")
    category.press("Enter")  # Enter submits the form
    card = page.locator("#single-jobs article").first
    expect(card).to_have_attribute("data-state", "completed", timeout=DRAWN_MS)
    expect(card.locator("img")).to_have_count(1)
    expect_images_decoded(page, "#single-jobs article img")
    job_id = card.get_attribute("data-job")
    item = client.get(f"/api/jobs/{job_id}/result", sub=USER).json()["items"][0]
    assert (item["category"], item["size"]) == ("Office Supplies", "256x256"), "the form sent what was picked"

    # The gallery lists the jobs newest first: this icon's comes first.
    page.get_by_role("button", name="Gallery", exact=True).click()
    page.locator("#job-list button").first.click()
    tile = page.locator("#gallery-job figure.tile").first
    tile.get_by_role("button", name="Metadata").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("pre")).to_contain_text(f'"image_path": "{item["key"]}"')
    expect(dialog.locator("pre")).to_contain_text('"category": "Office Supplies"')
    expect(dialog.locator("pre")).to_contain_text('"style": "flat"')
    stored = item["download_url"].split("?")[0]  # presigned anew: the same object
    expect(tile.get_by_role("link", name="Download")).to_have_attribute("href", re.compile(re.escape(stored)))
    page.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_a_batch_of_six_fills_in_live_and_shows_in_the_stats(
    page: Page, client: Client, sockets: list[str]
) -> None:
    page.get_by_role("button", name="Batch", exact=True).click()
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Categories").fill("electronics, tools, automotive")
    page.get_by_label("Variations per category").fill("2")
    page.locator("#batch-form").get_by_label("Icon size").select_option("256x256")
    page.get_by_role("button", name="Start batch").click()
    card = page.locator("#batch-jobs article").first
    expect(card.locator("figure.tile")).to_have_count(6)  # six places at once
    expect(card).to_have_attribute("data-state", "completed", timeout=DRAWN_MS)
    expect(card.locator("img")).to_have_count(6)
    expect_images_decoded(page, "#batch-jobs article img")
    expect(card.locator(".counts")).to_have_text("completed: 6 of 6 done")
    assert page.evaluate("window.notReloaded") is True
    assert any(url.startswith("ws://127.0.0.1:") for url in sockets), "the page followed it over WebSocket"

    # The stats: today's bar says what the API counts (this batch and the icon before it).
    today = client.get("/api/icons/stats", sub=USER).json()["by_day"][-1]
    assert today["images"] >= 7
    page.get_by_role("button", name="Stats", exact=True).click()
    days = page.locator("svg[data-chart='images-per-day'] rect")
    expect(days).to_have_count(30)
    expect(days.last.locator("title")).to_have_text(
        re.compile(rf"^{today['date']}: {today['images']} images,")
    )
    assert float(days.last.get_attribute("height") or 0) > 0
    expect(page.locator("svg[data-chart='cost-by-model'] text").first).to_contain_text("offline")
    expect(page.locator("svg[data-chart='cache-hit-rate']")).to_have_attribute(
        "aria-label", "Cache hit rate 0 %"
    )


def test_cancel_a_batch(page: Page, client: Client) -> None:
    # The worker is held, so the batch is still waiting when Cancel is pressed.
    with worker_disabled(client.stack):
        page.get_by_role("button", name="Batch", exact=True).click()
        page.get_by_label("Categories").fill("garden, kitchen")
        page.get_by_label("Variations per category").fill("1")
        page.get_by_role("button", name="Start batch").click()
        card = page.locator("#batch-jobs article").first
        expect(card).to_contain_text("garden, kitchen")
        expect(card.locator("figure.tile")).to_have_count(2)
        card.get_by_role("button", name="Cancel").click()
        expect(card).to_have_attribute("data-state", "cancelled")
    expect(card.locator(".counts")).to_have_text("cancelled: 0 of 2 done, 2 cancelled")
    expect(card.locator("figure.tile[data-state='cancelled']")).to_have_count(2)
    expect(card.get_by_role("button", name="Cancel")).to_be_hidden()


def test_errors_are_shown_as_the_api_words_them(page: Page, client: Client) -> None:
    body = {
        "prompt": "A quiet harbour",
        "post_id": "web",
        "section_id": "1",
        "filename": "taken",
        "size": "512x512",
    }
    client.post("/api/images/generate", body, sub=USER, Prefer="wait=25")
    refused = client.post("/api/images/generate", body, sub=USER).json()
    assert refused["error"] == "image_exists"
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_label("Prompt").fill(body["prompt"])
    page.get_by_label("Post id").fill(body["post_id"])
    page.get_by_label("Section id").fill(body["section_id"])
    page.get_by_label("File name").fill(body["filename"])
    page.get_by_label("Size", exact=True).select_option(body["size"])
    page.get_by_role("button", name="Generate blog image").click()
    expect(page.get_by_role("alert")).to_have_text(refused["message"])


def test_a_phone_width_page_generates_without_sideways_scrolling(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_label("Category", exact=True).fill("coffee")
    page.locator("#icon-form").get_by_label("Icon size").select_option("256x256")
    page.get_by_role("button", name="Generate icon").click()
    card = page.locator("#single-jobs article").first
    expect(card).to_contain_text("coffee")
    expect(card).to_have_attribute("data-state", "completed", timeout=DRAWN_MS)
    expect_images_decoded(page, "#single-jobs article img")
    for view in ("Generate", "Batch", "Gallery", "Stats"):
        page.get_by_role("button", name=view, exact=True).click()
        expect(page.get_by_role("heading", name=view, level=2)).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, f"{view} scrolls sideways"
