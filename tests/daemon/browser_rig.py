"""A real browser for the dashboard tests: Debian's Chromium, driven by Playwright.

Owns launching ``/usr/bin/chromium`` headless with no outside traffic of its
own (no component updates, sync or background networking), and one tab per
test that records the page's console errors and every URL it asks for, and
refuses (aborts) any request that would leave loopback, so a test can
assert that none was attempted.

Playwright's own browser download needs the internet; Debian's package does
not: ``apt-get install -y chromium`` (``.ci/run`` does it when it is missing).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, Playwright, Route

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # as root Chromium refuses to start with its sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DASHBOARD = "/admin/big-red-button/"


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "about", "blob") or parts.hostname in LOOPBACK


@dataclass
class Tab:
    """One page in a fresh browser context (its own sessionStorage)."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    @property
    def outside_requests(self) -> list[str]:
        return [u for u in self.urls if not is_loopback(u)]

    def open(self, base_url: str) -> Page:
        self.page.goto(base_url + DASHBOARD)
        return self.page


@contextmanager
def tab(browser: Browser, *, width: int = 1280, height: int = 900) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    t = Tab(page)

    def route(r: Route) -> None:
        t.urls.append(r.request.url)
        if is_loopback(r.request.url):
            r.continue_()
        else:
            r.abort()

    context.route("**/*", route)
    page.on("console", lambda m: t.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: t.console_errors.append(f"uncaught: {exc}"))
    try:
        yield t
    finally:
        context.close()
