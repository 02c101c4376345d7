"""Browser tests of the web pages: the real API served by uvicorn on a free port (against the
session's TimescaleDB), the alert service in-process, and Debian's Chromium driven headless
by Playwright (never Playwright's own browser downloads)."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from services.api.app import create_app
from services.operations.local.system import free_port
from services.settings import Settings
from tests.e2e.alerting import Running, clean, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import PASSWORD, SITE, UNTHROTTLED

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
HOSPITAL_ID = "web-hosp"
TIMEOUT_MS = 15_000  # the longest any page waits for something to show up


@pytest.fixture(scope="session")
def live_url(settings: Settings) -> Iterator[str]:
    """The API app behind a real HTTP server: the browser needs a socket, and the live stream
    needs a server that streams."""
    # Every browser logs in from 127.0.0.1: no login throttle here (test_auth.py checks it).
    unthrottled = settings.model_copy(update=UNTHROTTLED)
    port = free_port()
    config = uvicorn.Config(
        create_app(unthrottled),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="none",
        # Open event streams would otherwise hold the shutdown for as long as they last.
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="web-test-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive(), "the API server did not stop"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Module scope: the sync API runs its own event loop, which must not outlive these tests.
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is not installed: run scripts/setup")
    launched = playwright.chromium.launch(
        executable_path=chromium,
        headless=True,
        # The board beeps for new alerts; a test cannot tap the page first as a person would.
        args=["--autoplay-policy=no-user-gesture-required"],
    )
    try:
        yield launched
    finally:
        launched.close()


class PageProblems:
    """What must never happen on a page: an uncaught exception, a Content-Security-Policy
    violation, a page asset (module, style, catalogue) that failed to load."""

    def __init__(self, page: Page) -> None:
        self.found: list[str] = []
        page.on("pageerror", lambda exc: self.found.append(f"uncaught: {exc}"))
        page.on("console", self._console)
        page.on(
            "response",
            lambda r: (
                self.found.append(f"{r.status} {r.url}")
                if "/web/" in r.url and r.status >= 400
                else None
            ),
        )

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and re.search("Content.Security.Policy", message.text):
            self.found.append(f"CSP: {message.text}")


@pytest.fixture
def open_page(browser: Browser, live_url: str) -> Iterator[Any]:
    """open_page(locale=..., viewport=...) -> a new page in a fresh browser context (its own
    sessionStorage and localStorage), checked for problems when the test ends."""
    contexts = []
    problems: list[PageProblems] = []

    def make(locale: str = "en-GB", width: int = 1280, height: int = 900) -> Page:
        context = browser.new_context(
            base_url=live_url, locale=locale, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        problems.append(PageProblems(page))
        return page

    yield make
    for context in contexts:
        context.close()
    found = [p for watcher in problems for p in watcher.found]
    assert not found, found


def log_in(page: Page, username: str, path: str = "/board", *, shot: str | None = None) -> None:
    """Through the login page, as a person would: the page sends us there first."""
    page.goto(path)
    page.wait_for_url(re.compile(r"/login\?next="))
    if shot:
        screenshot(page, shot)
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-submit").click()
    page.wait_for_url(re.compile(re.escape(path.split("?")[0])))


# The elements reaching past the viewport's right edge, innermost first: what to fix when a
# page scrolls sideways.
WIDE = """w => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > w + 0.5 && !el.querySelector('*'))
  .slice(0, 5)
  .map(el => `${el.tagName.toLowerCase()}.${el.className}: ${el.outerHTML.slice(0, 160)}`)"""


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None
    if width > viewport["width"]:
        wide = page.evaluate(WIDE, viewport["width"])
        pytest.fail(f"the page is {width} px wide in a {viewport['width']} px viewport: {wide}")


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def receivers() -> Iterator[tuple[HttpReceiver, SmtpReceiver]]:
    http, smtp = HttpReceiver(), SmtpReceiver()
    http.up()
    smtp.up()
    try:
        yield http, smtp
    finally:
        http.down()
        smtp.down()


@pytest.fixture
def alert_service(
    settings: Settings, db_url: str, ward: str, receivers: tuple[HttpReceiver, SmtpReceiver]
) -> Iterator[Running]:
    """Clean alert tables, the test ward's care team (everyone on shift, a partner hospital)
    and the alert service running in this process."""
    http, smtp = receivers
    document = team(http, smtp)
    document["hospitals"] = [
        {
            "id": HOSPITAL_ID,
            "name": "Partner Hospital",
            "sites": [SITE],
            "channels": [http.url("h")],
        }
    ]
    with psycopg.connect(db_url) as conn:
        clean(conn)
        store(conn, document)
    service = Running(settings)
    try:
        yield service
    finally:
        service.stop()
