"""A real Chromium driven by Playwright, for the web UI tests.

Chromium is Debian's (``scripts/test.sh`` installs the ``chromium`` package); Playwright's own
browser download is never used (``playwright install`` needs the internet). A test that needs the
browser fails, not skips, when Chromium is missing.

Use it with ``from tests.browser import browser  # noqa: F401`` and sign in with ``sign_in``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# We run as root (no sandbox) on a host with a closed network: without the background-networking
# flags Chromium keeps trying Google's services and its refused connections clutter everything.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}

# Each page notes when its live stream (the <body>'s sse-connect) is open: a test that changes the
# store waits for that first, or the change could land before the page listens and never show.
_NOTE_LIVE = """
document.addEventListener("htmx:sseOpen", (event) => {
  if (event.target === document.body) { window.__gitferryLive = true; }
});
"""


# Module-scoped: Playwright's sync API keeps an event loop running in this thread while it is open,
# and every asyncio.run() in a later test module would fail ("cannot be called from a running event loop").
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test.sh, which installs Debian's chromium package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def new_context(browser: Browser, base_url: str) -> BrowserContext:
    """A fresh profile (no cookies) at 1280x800, that notes when a page's live stream is open."""
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    context.add_init_script(_NOTE_LIVE)
    return context


def sign_in(browser: Browser, base_url: str, token: str) -> BrowserContext:
    """A new context signed in with ``token`` through the login form, as a person would."""
    context = new_context(browser, base_url)
    page = context.new_page()
    page.goto("/ui/login")
    page.fill('input[name="token"]', token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/")
    expect(page.locator("header .who")).to_be_visible()
    page.close()
    return context


def wait_live(page: Page, timeout: float = 10_000) -> None:
    """Until the page's server-sent event stream is open (so later changes reach it)."""
    page.wait_for_function("window.__gitferryLive === true", timeout=timeout)
