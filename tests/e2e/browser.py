"""Debian's chromium under Playwright (sync API), for the web page's tests and tools/screenshots.py.

Never `playwright install`: browser downloads are blocked, and Debian's build is the one CI gets from
its package mirror (`make chromium`)."""

from __future__ import annotations

import shutil

from playwright.sync_api import Browser, Playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, with nothing that reaches out to Google's hosts (the network is closed).
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


def launch_chromium(playwright: Playwright) -> Browser:
    """Playwright gives the browser a fresh --user-data-dir of its own (a temporary folder, removed at
    close): it refuses one in `args`."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
