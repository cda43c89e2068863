"""Fixtures for the real-browser tests of the chat page (`duplex chat`).

Needs Debian's chromium + Playwright from PyPI (see shared/browser/install):

    bash ../shared/browser/install          # once
    swift build                             # builds .build/debug/duplex
    pytest -q Tests/browser

Environment:
    DUPLEX_BIN        server binary (default <repo>/.build/debug/duplex)
    CHROMIUM_BIN      browser binary (default /usr/lib/chromium/chromium)
    ARTIFACT_DIR      screenshots and server logs (default /tmp/duplex-artifacts)
    DUPLEX_UPDATE_SCREENSHOT=1   also write docs/chat-screenshot.png (shown by the README)
"""
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import duplex_process  # noqa: E402
from duplex_process import DUPLEX_BIN, REPO, free_port  # noqa: E402

ARTIFACT_DIR = duplex_process.ARTIFACT_ROOT
TIMEOUT_MS = 10_000  # per expect/action: generous for a loaded 2-core CI box


TEST_TIMEOUT_S = float(os.environ.get("BROWSER_TEST_TIMEOUT", "120"))  # whole test, with pytest-timeout


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_chat: the chat_server fixture keeps its store in an SQLite file")


def pytest_collection_modifyitems(config, items):
    """A hard per-test limit for the browser tests when pytest-timeout is installed (CI's venv has it)."""
    if not config.pluginmanager.hasplugin("timeout"):
        return
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))


def find_chromium():
    for candidate in (
        os.environ.get("CHROMIUM_BIN"),
        "/usr/lib/chromium/chromium",  # the real binary of Debian's `chromium` package
        shutil.which("chromium"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("chromium not found: run shared/browser/install (apt-get install chromium) or set CHROMIUM_BIN")


def safe_name(nodeid):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-120:]


class ChatServer:
    """The real `duplex chat` binary on a free 127.0.0.1 port, in-memory store unless
    `storage` says otherwise (e.g. ["--db", path])."""

    def __init__(self, log_path, storage=("--memory",)):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        self.storage = list(storage)
        self.proc = None

    def start(self, timeout=20.0):
        if not os.access(DUPLEX_BIN, os.X_OK):
            pytest.fail(f"server binary {DUPLEX_BIN} not found: run `swift build` or set DUPLEX_BIN")
        cmd = [DUPLEX_BIN, "chat", "--port", str(self.port), "--host", "127.0.0.1", *self.storage]
        try:
            self.proc = duplex_process.start(cmd, "duplex chat", self.log_path,
                                             duplex_process.answers_http(self.url), timeout=timeout, cwd=REPO)
        except duplex_process.ServerStartError as error:
            pytest.fail(str(error))

    def stop(self, timeout=10.0):
        """SIGTERM, then wait; returns the exit code (killed after `timeout`)."""
        return duplex_process.stop(self.proc, timeout)


@pytest.fixture(scope="session")
def playwright_browser():
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def chat_server(request):
    ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACT_DIR / f"server-{safe_name(request.node.name)}.log"
    log_path.write_text("")
    # a test marked `sqlite_chat` gets a server with an SQLite file (identities and
    # history that survive a restart); the file is in the test's tmp_path
    marker = request.node.get_closest_marker("sqlite_chat")
    storage = ("--db", str(request.getfixturevalue("tmp_path") / "chat.sqlite")) if marker else ("--memory",)
    server = ChatServer(log_path, storage)
    server.start()
    try:
        yield server
    finally:
        server.stop(5)


class Users:
    """Opens users (one isolated browser context + page each) and records page errors and dialogs."""

    def __init__(self, browser, server, test_name):
        self.browser, self.server, self.test_name = browser, server, test_name
        self.contexts, self.pages = [], []
        self.errors, self.dialogs = [], []

    def open(self, query="", viewport=(800, 600), locale="en-US", color_scheme="light", timezone=None, context=None):
        """A new user (its own browser context: its own localStorage, so its own identity),
        or another page of the user whose context is given."""
        ctx = context or self.browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, locale=locale, color_scheme=color_scheme,
            timezone_id=timezone,
        )
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        # The page is served with a strict Content-Security-Policy: anything it blocks
        # (an inline script or style, a foreign connection) is an error of the page.
        page.on("console", lambda msg: self.errors.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text else None)

        def on_dialog(dialog):
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        self.contexts.append(ctx)
        self.pages.append(page)
        page.goto(self.server.url + query)
        expect(page.locator("#status")).to_have_attribute("data-state", "open")
        return page

    def close(self, page):
        i = self.pages.index(page)
        self.contexts[i].close()

    def finish(self):
        ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
        for i, page in enumerate(self.pages, 1):
            if page.is_closed():
                continue
            try:
                page.screenshot(path=str(ARTIFACT_DIR / f"{safe_name(self.test_name)}-user{i}-final.png"))
            except Exception as exc:  # a crashed page must not hide the real failure
                print(f"screenshot of user{i} failed: {exc}")
        for ctx in self.contexts:
            try:
                ctx.close()
            except Exception:
                pass


@pytest.fixture
def users(playwright_browser, chat_server, request):
    u = Users(playwright_browser, chat_server, request.node.name)
    try:
        yield u
    finally:
        u.finish()
