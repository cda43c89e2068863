"""Duplex's chat mounted in the Hummingbird app (its page at /, the page's WebSocket on the
app's port, beside /hello): two users in Chromium talk through it, and the app's own route
keeps answering. Chromium is Debian's (../shared/browser/README), driven by Playwright."""

from __future__ import annotations

import os
import shutil
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect, sync_playwright

from frameworks_support import HELLO, AppProcess

TIMEOUT_MS = 10_000


def chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM_BIN"), "/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("chromium not found: run ../shared/browser/install (apt-get install chromium) or set CHROMIUM_BIN",
                pytrace=False)


def test_two_users_chat_through_the_hummingbird_app():
    # In a thread of its own: Tests/browser's session-wide Playwright keeps its event loop
    # on the main thread for the whole run, and the sync API refuses to start inside it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(two_users_chat).result()


def two_users_chat():
    app = AppProcess("hummingbird")
    errors: list[str] = []
    try:
        expect.set_options(timeout=TIMEOUT_MS)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), headless=True, args=["--no-sandbox"])
            pages = []
            for name in ("alice", "bob"):
                page = browser.new_context().new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("console", lambda msg: errors.append(msg.text)
                        if msg.type == "error" and "Content Security Policy" in msg.text else None)
                page.goto(f"{app.url}/?room=frameworks&name={name}")
                expect(page.locator("#status")).to_have_attribute("data-state", "open")
                pages.append(page)
            alice, bob = pages
            for page in pages:
                expect(page.locator("#online li")).to_have_text(["alice", "bob"])
            alice.locator("#msg").fill("hello from a Hummingbird app 你好")
            alice.locator("#send").click()
            for page in pages:
                expect(page.locator("#messages .msg-chat").last.locator(".text")).to_have_text(
                    "hello from a Hummingbird app 你好")
            bob.locator("#msg").fill("hi alice")
            bob.locator("#msg").press("Enter")
            expect(alice.locator("#messages .msg-chat").last.locator(".text")).to_have_text("hi alice")
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(f"{app.url}/hello", timeout=5) as response:
                assert response.read().decode() == HELLO["hummingbird"]
            browser.close()
        assert errors == [], f"errors on the page: {errors}"
    finally:
        app.stop()
