"""Fixtures of the Socket.IO interop tests: a real `duplex-socketio-conformance --interop`
process per test module, and python-socketio clients.

SOCKETIO_CONFORMANCE_BIN (default <repo>/.build/debug/duplex-socketio-conformance),
ARTIFACT_DIR (default /tmp/duplex-artifacts).
"""

from __future__ import annotations

import os
import queue
import sys
import time
from pathlib import Path

import pytest
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duplex_process  # noqa: E402
from duplex_process import REPO, free_port  # noqa: E402

BIN = os.environ.get("SOCKETIO_CONFORMANCE_BIN") or str(REPO / ".build" / "debug" / "duplex-socketio-conformance")
ARTIFACT_DIR = duplex_process.ARTIFACT_ROOT / "socketio"

# The interop server's heartbeat (ms): short, so that a silent client dies quickly.
PING_INTERVAL = 1000
PING_TIMEOUT = 1000


class ServerProcess:
    def __init__(self, *extra: str) -> None:
        self.port = free_port()
        self.log_path = ARTIFACT_DIR / f"socketio-{self.port}.log"
        self.proc = duplex_process.start(
            [BIN, "--interop", "--port", str(self.port), "--ping-interval", str(PING_INTERVAL),
             "--ping-timeout", str(PING_TIMEOUT), "--connect-timeout", "3000", *extra],
            "duplex-socketio-conformance", self.log_path, duplex_process.answers_http(f"{self.url}/healthz"),
            timeout=20)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        duplex_process.stop(self.proc)


@pytest.fixture(scope="module")
def server():
    if not os.path.exists(BIN):
        pytest.fail(f"{BIN} not built (swift build --product duplex-socketio-conformance)")
    process = ServerProcess()
    yield process
    process.stop()


class Recorder:
    """A python-socketio client that queues every event it receives, per name."""

    def __init__(self, url: str, namespaces=None, transports=None, auth=None, connect=True) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.queues: dict[str, queue.Queue] = {}
        self.disconnect_reasons: queue.Queue = queue.Queue()
        self.connect_errors: queue.Queue = queue.Queue()
        # per namespace: a handler a test adds for one event then takes precedence over
        # the catch-all of its namespace only
        for ns in namespaces or ["/"]:
            self.sio.on("*", lambda event, *args, ns=ns: self._any(event, ns, *args), namespace=ns)
            self.sio.on("disconnect", lambda reason=None, ns=ns: self._disconnect(ns, reason), namespace=ns)
            self.sio.on("connect_error", lambda data=None, ns=ns: self._connect_error(ns, data), namespace=ns)
        self.url = url
        if connect:
            self.sio.connect(url, namespaces=namespaces or ["/"], transports=transports, auth=auth,
                             wait_timeout=5)

    def _any(self, event, namespace, *args):
        self.q(event, namespace).put(args)

    def _disconnect(self, namespace, reason=None):
        self.disconnect_reasons.put((namespace, reason))

    def _connect_error(self, namespace, data=None):
        self.connect_errors.put((namespace, data))

    def q(self, event: str, namespace: str = "/") -> queue.Queue:
        return self.queues.setdefault(f"{namespace}#{event}", queue.Queue())

    def next(self, event: str, namespace: str = "/", timeout: float = 5):
        try:
            return self.q(event, namespace).get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {event!r} on {namespace} within {timeout}s") from None

    def nothing(self, event: str, namespace: str = "/", wait: float = 0.5) -> bool:
        try:
            got = self.q(event, namespace).get(timeout=wait)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected {event!r}: {got!r}")

    @property
    def sid(self) -> str:
        return self.sio.get_sid("/")

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()
        self.sio.shutdown() if hasattr(self.sio, "shutdown") else None


@pytest.fixture
def clients(server):
    made: list[Recorder] = []

    def make(**kwargs) -> Recorder:
        client = Recorder(server.url, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        try:
            client.close()
        except Exception:
            pass


def wait_until(predicate, timeout=5.0, step=0.05):
    """Polls `predicate` until it holds or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
