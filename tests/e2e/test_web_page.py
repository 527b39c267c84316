"""The web page in Debian's chromium (Playwright, sync API), against the shared local stack: sign in
with the local button, generate, watch a batch fill in live, cancel, metadata, stats, a phone's width.
Every wait is on something the page shows; none is a sleep."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.conftest import Client

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Debian's chromium, headless, with nothing that reaches out to Google's hosts (the network is closed).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DRAWN_SECONDS = 60_000  # ms: a batch of six offline icons takes a few seconds on two busy cores


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium for the module. Playwright starts it with a fresh --user-data-dir of its own (a
    temporary folder, removed at close): it refuses one in `args`."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def open_page(
    browser: Browser, client: Client, width: int = 1280, height: int = 900, sockets: list[str] | None = None
) -> Page:
    """A new tab with its own sessionStorage, signed in with the local button; the WebSockets it opens
    are listed in `sockets`."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    if sockets is not None:
        page.on("websocket", lambda socket: sockets.append(socket.url))
    page.goto(client.stack.url + "/")
    page.get_by_label("Name", exact=True).fill("web-tester")
    page.get_by_role("button", name="Sign in locally").click()
    expect(page.get_by_text("Signed in as web-tester")).to_be_visible()
    return page


def images_loaded(page: Page, selector: str) -> int:
    """How many images under `selector` the browser has decoded (not merely put in the DOM)."""
    return int(
        page.eval_on_selector_all(
            selector, "images => images.filter(i => i.complete && i.naturalWidth > 0).length"
        )
    )


def test_sign_in_suggest_and_generate_an_icon(browser: Browser, client: Client) -> None:
    page = open_page(browser, client)
    # The token is the tab's: kept in sessionStorage, so a reload stays signed in.
    assert page.evaluate("sessionStorage.getItem('imagegen.token')").count(".") == 2
    page.get_by_label("Category", exact=True).press_sequentially("offi")
    page.get_by_role("button", name="Office Supplies").click()
    expect(page.get_by_label("Category", exact=True)).to_have_value("Office Supplies")
    page.locator("#style-picker label", has_text="flat").click()
    # Every style and colour scheme has its sample picture.
    assert images_loaded(page, "#style-picker img") == 7
    assert images_loaded(page, "#color-picker img") == 7
    page.locator("#icon-form").get_by_label("Icon size").select_option(
        "256x256"
    )  # small: the offline renderer is quick
    page.get_by_label("Category", exact=True).press("Enter")  # Enter submits the form
    card = page.locator("#single-jobs article").first
    expect(card).to_have_attribute("data-state", "completed", timeout=DRAWN_SECONDS)
    expect(card.locator("img")).to_have_count(1)
    page.wait_for_function("() => document.querySelector('#single-jobs img').naturalWidth > 0")
    page.close()


def test_a_batch_of_six_fills_in_live(browser: Browser, client: Client) -> None:
    sockets: list[str] = []
    page = open_page(browser, client, sockets=sockets)
    page.get_by_role("button", name="Batch").click()
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Categories").fill("electronics, tools, automotive")
    page.get_by_label("Variations per category").fill("2")
    page.locator("#batch-form").get_by_label("Icon size").select_option("256x256")
    page.get_by_role("button", name="Start batch").click()
    card = page.locator("#batch-jobs article").first
    expect(card.locator("figure.tile")).to_have_count(6)  # six placeholders at once
    expect(card).to_have_attribute("data-state", "completed", timeout=DRAWN_SECONDS)
    expect(card.locator("img")).to_have_count(6)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#batch-jobs article img')].every(i => i.naturalWidth > 0)"
    )
    expect(card.locator(".counts")).to_have_text("completed: 6 of 6 done")
    assert page.evaluate("window.notReloaded") is True
    assert sockets and sockets[0].startswith("ws://127.0.0.1:"), "the page followed the batch over WebSocket"
    page.close()


def test_cancel_a_batch(browser: Browser, client: Client) -> None:
    page = open_page(browser, client)
    page.get_by_role("button", name="Batch").click()
    page.get_by_label("Categories").fill("garden, kitchen, toys, books, music")
    page.get_by_label("Variations per category").fill("10")
    page.get_by_role("button", name="Start batch").click()
    card = page.locator("#batch-jobs article").first
    card.get_by_role("button", name="Cancel").click()
    expect(card).to_have_attribute("data-state", "cancelled", timeout=DRAWN_SECONDS)
    expect(card.locator(".counts")).to_contain_text("cancelled")
    assert card.locator("figure.tile[data-state='cancelled']").count() > 0
    page.close()


def test_gallery_opens_an_images_metadata(browser: Browser, client: Client) -> None:
    answer = client.post(
        "/api/icons/generate", {"category": "bicycles", "size": "256x256"}, sub="web-tester", Prefer="wait=25"
    ).json()
    key = answer["items"][0]["key"]
    page = open_page(browser, client)
    page.get_by_role("button", name="Gallery").click()
    page.locator("#job-list button").first.click()
    tile = page.locator("#gallery-job figure.tile").first
    tile.get_by_role("button", name="Metadata").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("pre")).to_contain_text(f'"image_path": "{key}"')
    expect(dialog.locator("pre")).to_contain_text('"category": "bicycles"')
    stored = answer["items"][0]["download_url"].split("?")[0]  # presigned anew: the same object
    expect(tile.get_by_role("link", name="Download")).to_have_attribute("href", re.compile(re.escape(stored)))
    page.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    page.close()


def test_stats_charts_show_the_days_models_and_cache(browser: Browser, client: Client) -> None:
    client.post(
        "/api/icons/generate", {"category": "lamps", "size": "256x256"}, sub="web-tester", Prefer="wait=25"
    )
    page = open_page(browser, client)
    page.get_by_role("button", name="Stats").click()
    days = page.locator("svg[data-chart='images-per-day'] rect")
    expect(days).to_have_count(30)
    today = float(days.last.get_attribute("height") or 0)
    assert today > 0, "today's bar shows the images just drawn"
    expect(page.locator("svg[data-chart='cost-by-model'] text").first).to_contain_text("offline")
    expect(page.locator("svg[data-chart='cache-hit-rate']")).to_have_attribute(
        "aria-label", "Cache hit rate 0 %"
    )
    page.close()


def test_errors_are_shown_as_the_api_words_them(browser: Browser, client: Client) -> None:
    body = {
        "prompt": "A quiet harbour",
        "post_id": "web",
        "section_id": "1",
        "filename": "taken",
        "size": "512x512",
    }
    client.post("/api/images/generate", body, sub="web-tester", Prefer="wait=25")
    refused = client.post("/api/images/generate", body, sub="web-tester").json()
    assert refused["error"] == "image_exists"
    page = open_page(browser, client)
    page.get_by_label("Prompt").fill(body["prompt"])
    page.get_by_label("Post id").fill(body["post_id"])
    page.get_by_label("Section id").fill(body["section_id"])
    page.get_by_label("File name").fill(body["filename"])
    page.get_by_label("Size", exact=True).select_option(body["size"])
    page.get_by_role("button", name="Generate blog image").click()
    expect(page.get_by_role("alert")).to_have_text(refused["message"])
    page.close()


def test_a_phone_width_page_generates_without_sideways_scrolling(browser: Browser, client: Client) -> None:
    page = open_page(browser, client, width=390, height=844)
    page.get_by_label("Category", exact=True).fill("coffee")
    page.locator("#icon-form").get_by_label("Icon size").select_option("256x256")
    page.get_by_role("button", name="Generate icon").click()
    card = page.locator("#single-jobs article").first
    expect(card).to_have_attribute("data-state", "completed", timeout=DRAWN_SECONDS)
    page.wait_for_function("() => document.querySelector('#single-jobs img').naturalWidth > 0")
    for view in ("Generate", "Batch", "Gallery", "Stats"):
        page.get_by_role("button", name=view, exact=True).click()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, f"{view} scrolls sideways"
    page.close()
