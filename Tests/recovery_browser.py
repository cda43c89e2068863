"""The official Socket.IO JavaScript client (v4.8.1, put in .venv/share/socket.io by
scripts/install-test-deps) in Debian's Chromium, driven by Playwright: what the connection
state recovery tests connect with (python-socketio's client does not recover).

Playwright's sync API is bound to the thread that started it, and Tests/browser keeps one
for its whole session; these clients run theirs in a worker thread of their own, so both
can live in one pytest process.

    with BrowserClients() as browser:
        client = browser.client("http://127.0.0.1:3000", reconnectionDelay=1500)
        client.wait_for("connect")
        client.emit_with_ack("join", "room")
        client.events()            # [{"name", "args"}...] in arrival order
        client.log()               # every connect / disconnect / event record
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import sync_playwright

from duplex_process import REPO

CLIENT_JS = REPO / ".venv" / "share" / "socket.io" / "socket.io.min.js"
CALL_TIMEOUT_S = 60

# The page's side: one socket, every connect / disconnect / event recorded in order; a
# binary argument (an ArrayBuffer) is recorded as {"binary": [its bytes]}.
_CONNECT_JS = """({url, options}) => {
  window.duplexLog = [];
  const socket = io(url, Object.assign({transports: ["websocket"]}, options));
  window.duplexSocket = socket;
  socket.on("connect", () => window.duplexLog.push({type: "connect", id: socket.id, recovered: socket.recovered}));
  socket.on("disconnect", (reason) => window.duplexLog.push({type: "disconnect", reason}));
  socket.on("connect_error", (error) => window.duplexLog.push({type: "connect_error", message: String(error && error.message)}));
  const plain = (arg) => arg instanceof ArrayBuffer ? {binary: Array.from(new Uint8Array(arg))} : arg;
  socket.onAny((name, ...args) => window.duplexLog.push({type: "event", name, args: args.map(plain)}));
}"""


def find_chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM_BIN"), "/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("chromium not found: run scripts/install-test-deps (Debian's chromium) or set CHROMIUM_BIN")


class BrowserClients:
    """One headless Chromium; each client is a page of its own context."""

    def __init__(self) -> None:
        if not CLIENT_JS.exists():
            raise FileNotFoundError(f"{CLIENT_JS} missing: run scripts/install-test-deps")
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="recovery-playwright")
        self._call(self._start)

    def _call(self, function, *args):
        return self._worker.submit(function, *args).result(timeout=CALL_TIMEOUT_S)

    def _start(self) -> None:
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=find_chromium())

    def client(self, url: str, **options) -> "BrowserClient":
        """A page with the official client connecting to `url` (WebSocket only), with
        these Manager/Socket options (reconnectionDelay, randomizationFactor...)."""
        return BrowserClient(self, self._call(self._open, url, options))

    def _open(self, url, options):
        page = self._browser.new_context().new_page()
        page.add_script_tag(path=str(CLIENT_JS))
        page.evaluate(_CONNECT_JS, {"url": url, "options": options})
        return page

    def close(self) -> None:
        def stop():
            self._browser.close()
            self._playwright.stop()
        self._call(stop)
        self._worker.shutdown()

    def __enter__(self) -> "BrowserClients":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BrowserClient:
    def __init__(self, owner: BrowserClients, page) -> None:
        self._owner = owner
        self._page = page

    def _evaluate(self, script: str, argument=None):
        return self._owner._call(lambda: self._page.evaluate(script, argument))

    def log(self) -> list[dict]:
        return self._evaluate("() => window.duplexLog")

    def events(self, after: int = 0) -> list[dict]:
        """The events received, in order; `after`: only those after the first `after` log records."""
        return [record for record in self.log()[after:] if record["type"] == "event"]

    def connects(self) -> list[dict]:
        return [record for record in self.log() if record["type"] == "connect"]

    def wait_for(self, record_type: str, count: int = 1, timeout_ms: int = 15_000) -> None:
        """Until the log has `count` records of this type."""
        self._owner._call(lambda: self._page.wait_for_function(
            "([type, count]) => window.duplexLog.filter(r => r.type === type).length >= count",
            arg=[record_type, count], timeout=timeout_ms))

    def wait_for_event(self, name: str, count: int = 1, timeout_ms: int = 15_000) -> None:
        self._owner._call(lambda: self._page.wait_for_function(
            "([name, count]) => window.duplexLog.filter(r => r.type === 'event' && r.name === name).length >= count",
            arg=[name, count], timeout=timeout_ms))

    def emit(self, name: str, *args) -> None:
        self._evaluate("([name, args]) => window.duplexSocket.emit(name, ...args)", [name, list(args)])

    def emit_with_ack(self, name: str, *args):
        return self._evaluate("([name, args]) => window.duplexSocket.timeout(5000).emitWithAck(name, ...args)",
                              [name, list(args)])

    def socket_state(self) -> dict:
        return self._evaluate("() => ({id: window.duplexSocket.id, connected: window.duplexSocket.connected,"
                              " recovered: window.duplexSocket.recovered})")

    def disconnect(self) -> None:
        self._evaluate("() => window.duplexSocket.disconnect()")

    def connect(self) -> None:
        self._evaluate("() => window.duplexSocket.connect()")
