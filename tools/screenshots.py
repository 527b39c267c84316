"""Screenshots of the web page for the README (docs/web-*.png), taken in Debian's chromium (Playwright)
on a local stack of its own: an ephemeral port on 127.0.0.1, the offline renderer, a clean environment
(the shell's variables cannot reach it, an OpenAI key included), as the tests start theirs.

    .venv/bin/python -m tools.screenshots        (or `make screenshots`; about a minute)

Each picture is a plain 1x screenshot, quantised to 256 colours when that keeps it under SIZE_LIMIT
(a UI of flat colours loses nothing you would see)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

from imagegen.local.stack import LocalStack
from tests.e2e.browser import launch_chromium
from tests.helpers import clean_environ

DOCS = Path(__file__).resolve().parents[1] / "docs"
DESKTOP: ViewportSize = {"width": 1100, "height": 780}
PHONE: ViewportSize = {"width": 390, "height": 844}
SIZE_LIMIT = 200_000  # bytes per picture
DRAWN_MS = 120_000
expect.set_options(timeout=60_000)  # a cold stack's first answers take seconds on a busy machine


def save(page: Page, name: str, *, full_page: bool = False) -> None:
    """The page as it is now into docs/web-<name>.png, as small as it stays readable."""
    png = page.screenshot(full_page=full_page, animations="disabled", caret="initial")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    best = b""
    for candidate in (image, image.quantize(colors=256, method=Image.Quantize.MEDIANCUT)):
        out = io.BytesIO()
        candidate.save(out, "PNG", optimize=True)
        if not best or (len(best) > SIZE_LIMIT and out.tell() < len(best)):
            best = out.getvalue()
    path = DOCS / f"web-{name}.png"
    path.write_bytes(best)
    print(f"{path.relative_to(DOCS.parent)}: {image.width}x{image.height}, {len(best) // 1024} KB")


def generate_icon(page: Page, category: str, style: str, size: str = "512x512") -> None:
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_label("Category", exact=True).fill(category)
    page.locator("#style-picker label", has_text=style).click()
    page.locator("#icon-form").get_by_label("Icon size").select_option(size)
    page.get_by_role("button", name="Generate icon").click()
    card = page.locator("#single-jobs article").first
    expect(card).to_contain_text(category)
    expect(card).to_have_attribute("data-state", "completed", timeout=DRAWN_MS)
    wait_for_images(page, "#single-jobs article img")


def wait_for_images(page: Page, selector: str) -> None:
    page.wait_for_function(
        "selector => [...document.querySelectorAll(selector)].every(i => i.complete && i.naturalWidth > 0)",
        arg=selector,
        timeout=DRAWN_MS,
    )


def desktop_views(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("button", name="Sign in locally")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("ada")
    save(page, "sign-in")

    page.get_by_role("button", name="Sign in locally").click()
    expect(page.get_by_text("Signed in as ada")).to_be_visible()
    generate_icon(page, "bicycles", "flat")
    category = page.get_by_label("Category", exact=True)
    category.fill("")
    category.press_sequentially("offi")
    expect(page.get_by_role("button", name="Office Supplies")).to_be_visible()
    page.locator("#style-picker label", has_text="vintage").click()
    page.locator("#color-picker label", has_text="warm tones").click()
    save(page, "generate", full_page=True)
    generate_icon(page, "coffee", "modern")
    generate_icon(page, "coffee", "modern")  # the same request again: a cache hit, for the stats

    page.set_viewport_size({"width": DESKTOP["width"], "height": 1300})  # the form and both batches
    page.get_by_role("button", name="Batch").click()
    page.get_by_label("Categories").fill("electronics, tools, gardening")
    page.locator("#batch-styles label", has_text="flat").click()  # a second style: a second batch
    page.get_by_label("Variations per category").fill("2")
    page.locator("#batch-form").get_by_label("Icon size").select_option("256x256")
    page.get_by_role("button", name="Start batch").click()
    cards = page.locator("#batch-jobs article")
    expect(cards).to_have_count(2)
    # Caught while it fills in, as far as the renderer's pace allows: some drawn, and every card
    # showing the pictures its counts promise (the results follow the live counts by a moment).
    page.wait_for_function(
        """() => {
          const cards = [...document.querySelectorAll('#batch-jobs article')];
          const images = [...document.querySelectorAll('#batch-jobs article img')];
          return images.length >= 3 && images.every(i => i.complete && i.naturalWidth > 0) &&
            cards.every(card => card.querySelectorAll('img').length ===
              Number(card.querySelector('.counts').textContent.match(/: (\\d+) of/)?.[1]));
        }""",
        timeout=DRAWN_MS,
    )
    save(page, "batch")
    for card in cards.all():
        expect(card).to_have_attribute("data-state", "completed", timeout=DRAWN_MS)
    page.set_viewport_size(DESKTOP)

    page.get_by_role("button", name="Gallery").click()
    page.locator("#job-list button").first.click()  # the latest batch
    expect(page.locator("#gallery-job img")).to_have_count(6)
    wait_for_images(page, "#gallery-job img")
    save(page, "gallery", full_page=True)
    page.locator("#gallery-job figure.tile").first.get_by_role("button", name="Metadata").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    save(page, "metadata")
    page.get_by_role("button", name="Close").click()

    page.get_by_role("button", name="Stats").click()
    expect(page.locator("svg[data-chart='images-per-day'] rect")).to_have_count(30)
    save(page, "stats")


def phone_view(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_label("Name", exact=True).fill("ada")
    page.get_by_role("button", name="Sign in locally").click()
    expect(page.get_by_text("Signed in as ada")).to_be_visible()
    generate_icon(page, "tea", "minimal")
    page.get_by_label("Category", exact=True).fill("")
    page.get_by_label("Category", exact=True).press_sequentially("tea")
    expect(page.locator("#suggestions button").first).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    save(page, "phone")


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    stack = LocalStack(port=0, environ=clean_environ({"RETRY_BASE_DELAY_SECONDS": "0"})).start()
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                desktop = browser.new_context(viewport=DESKTOP)
                desktop_views(desktop.new_page(), stack.url + "/")
                phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
                phone_view(phone.new_page(), stack.url + "/")
            finally:
                browser.close()
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
