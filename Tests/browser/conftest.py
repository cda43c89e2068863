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
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DUPLEX_BIN = os.environ.get("DUPLEX_BIN") or str(REPO / ".build" / "debug" / "duplex")
ARTIFACT_DIR = Path(os.environ.get("ARTIFACT_DIR") or "/tmp/duplex-artifacts")
TIMEOUT_MS = 10_000  # per expect/action: generous for a loaded 2-core CI box


TEST_TIMEOUT_S = float(os.environ.get("BROWSER_TEST_TIMEOUT", "120"))  # whole test, with pytest-timeout


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def safe_name(nodeid):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-120:]


class ChatServer:
    """The real `duplex chat` binary on a free 127.0.0.1 port, in-memory store."""

    def __init__(self, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        self.proc = None

    def start(self, timeout=20.0):
        if not os.access(DUPLEX_BIN, os.X_OK):
            pytest.fail(f"server binary {DUPLEX_BIN} not found: run `swift build` or set DUPLEX_BIN")
        cmd = [DUPLEX_BIN, "chat", "--port", str(self.port), "--host", "127.0.0.1", "--memory"]
        # Output goes to a file, never to an unread pipe (a full pipe would freeze the server).
        with open(self.log_path, "a") as log:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(REPO)
            )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore http_proxy
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with opener.open(self.url, timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not answering GET {self.url} with 200 after {timeout}s; see {self.log_path}")
            time.sleep(0.05)

    def stop(self, timeout=10.0):
        """SIGTERM, then wait; returns the exit code (kills after `timeout`)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


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
    server = ChatServer(log_path)
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop(5)
        except subprocess.TimeoutExpired:
            pass


class Users:
    """Opens users (one isolated browser context + page each) and records page errors and dialogs."""

    def __init__(self, browser, server, test_name):
        self.browser, self.server, self.test_name = browser, server, test_name
        self.contexts, self.pages = [], []
        self.errors, self.dialogs = [], []

    def open(self, query="", viewport=(800, 600), locale="en-US", color_scheme="light"):
        ctx = self.browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, locale=locale, color_scheme=color_scheme
        )
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

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
