"""Browser-test fixtures: the app served on a real port, Debian's Chromium, watched pages.

Playwright never downloads a browser here: it drives /usr/bin/chromium. Without Playwright or
Chromium the browser tests skip with the reason, unless PULSE_REQUIRE_BROWSER is set (CI), when
they fail instead, so they can never skip silently.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.support import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TIMEOUT_MS = 10_000  # generous: CI machines run other tests at the same time
# What Chromium logs for any response with an error status, even one the app sends on purpose.
ERROR_STATUS = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")
# Requests that the next navigation may cut off, which is no problem: Chromium fetches the favicon
# after the load event, a field checked on blur is still being checked when "Save" submits, and a
# page left quickly may still be revalidating its static files. A static file that is really
# missing or broken answers with an error status, which the console watcher reports.
SUPERSEDED = re.compile(r"^/static/|/favicon\.svg$|/leads/fields/\w+$")


def unavailable(reason: str) -> NoReturn:
    """Skip for want of a browser; fail instead when PULSE_REQUIRE_BROWSER is set (CI)."""
    if os.environ.get("PULSE_REQUIRE_BROWSER"):
        pytest.fail(f"PULSE_REQUIRE_BROWSER is set, but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test's app on 127.0.0.1 at a free port, in a daemon thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole module."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as error:
        unavailable(f"Playwright is not installed ({error})")
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"Chromium is not installed at {CHROMIUM}")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Error as error:
        playwright.stop()
        unavailable(f"Chromium does not start: {error.message.splitlines()[0]}")
    yield chromium
    chromium.close()
    playwright.stop()


class Browsing:
    """Pages of one test, each watched for console errors, page errors and failed requests."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.problems: list[str] = []
        self.contexts: list[BrowserContext] = []
        self.allowed: set[tuple[int, str]] = set()

    def new_page(self, *, javascript: bool = True, width: int = 1280, height: int = 900) -> Page:
        context = self.browser.new_context(
            base_url=self.base_url,
            java_script_enabled=javascript,
            viewport={"width": width, "height": height},
        )
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda e: self.problems.append(f"page error on {page.url}: {e}"))
        page.on("requestfailed", self._request_failed)
        return page

    def _request_failed(self, request: Request) -> None:
        if request.failure == "net::ERR_ABORTED" and SUPERSEDED.search(urlsplit(request.url).path):
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def allow_status(self, status: int, path: str) -> None:
        """An error status the test expects from this path (an invalid form comes back 400)."""
        self.allowed.add((status, path))

    def _console(self, page: Page, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        status = ERROR_STATUS.match(message.text)
        resource = urlsplit(message.location.get("url", "")).path
        if status and (int(status[1]), resource) in self.allowed:
            return
        self.problems.append(f"console error on {page.url}: {message.text}")

    def assert_clean(self) -> None:
        """No page of this test logged an error or lost a request."""
        assert not self.problems, "\n".join(self.problems)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsing(browser: Browser, live_server: str) -> Iterator[Browsing]:
    session = Browsing(browser, live_server)
    yield session
    session.close()


def sign_in(page: Page, email: str = "alice@acme.test") -> None:
    """Sign in through the /login form and land on the lead list."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/leads")


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot to test-artifacts/ (git-ignored) for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
