"""Fixtures of the abuse suite: real `duplex echo` / `duplex chat` processes on free ports,
one set per test (a test that pushes a server to its limits must not leave a wounded server
to the next one), with what the tests measure about them (VmRSS, VmData, fds, the log).

Environment:
  DUPLEX_BIN     the duplex executable (default <repo>/.build/debug/duplex)
  ARTIFACT_DIR   where server logs go (default /tmp/duplex-artifacts), under abuse/
  ABUSE_TIMEOUT  seconds per test (default 60)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent, HERE.parent / "interop"):  # abuse_*, duplex_process, rawws
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import abuse_proc  # noqa: E402
import duplex_process  # noqa: E402
from duplex_process import DUPLEX_BIN, HOST, free_port  # noqa: E402

ARTIFACT_DIR = duplex_process.ARTIFACT_ROOT / "abuse"
DEFAULT_TIMEOUT = float(os.environ.get("ABUSE_TIMEOUT", "60"))

# Hundreds of sockets per test; the servers inherit the limit.
abuse_proc.raise_nofile(1 << 20)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT))


class DuplexServer:
    """One `duplex echo` or `duplex chat` process."""

    def __init__(self, command: str, args: list[str], name: str, tmp: Path):
        if not os.access(DUPLEX_BIN, os.X_OK):
            pytest.fail(f"duplex binary not found or not executable: {DUPLEX_BIN} "
                        f"(build it with `swift build` or set DUPLEX_BIN)", pytrace=False)
        self.command = command
        self.port = free_port()
        self.host = HOST
        extra = list(args)
        if command == "chat" and "--db" not in extra and "--memory" not in extra:
            extra += ["--db", str(tmp / f"chat-{self.port}.sqlite")]
        self.args = [DUPLEX_BIN, command, "--port", str(self.port), "--host", HOST, *extra]
        self.log_path = ARTIFACT_DIR / f"{name}-{command}-{self.port}.log"
        ready = (duplex_process.answers_http(f"http://{HOST}:{self.port}/healthz") if command == "chat"
                 else duplex_process.accepts_tcp(self.port))
        self.stopped = False
        self.proc = duplex_process.start(self.args, f"duplex {command}", self.log_path, ready, timeout=30)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def memory(self) -> abuse_proc.MemorySample:
        self.assert_alive()
        return abuse_proc.MemorySample.of(self.pid)

    def settled_memory(self, seconds: float = 0.3) -> abuse_proc.MemorySample:
        """Memory after a short pause (lets the server finish what it was doing)."""
        time.sleep(seconds)
        return self.memory()

    def open_fds(self) -> int:
        return abuse_proc.open_fds(self.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, n: int = 40) -> str:
        return duplex_process.log_tail(self.log_path, n)

    def assert_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"duplex {self.command} died (exit status {self.proc.returncode}); "
                                 f"log {self.log_path}:\n{self.log_tail()}")

    def stop(self) -> None:
        if not self.stopped:
            duplex_process.stop(self.proc)
            self.stopped = True


@pytest.fixture
def start_server(request, tmp_path):
    """start_server("echo" | "chat", *flags) → a DuplexServer for this test, stopped at
    its end. A server that died during the test fails it (after the test's own verdict)."""
    mine: list[DuplexServer] = []

    def start(command: str, *flags: str) -> DuplexServer:
        server = DuplexServer(command, list(flags), request.node.name.replace("/", "_"), tmp_path)
        mine.append(server)
        return server

    yield start
    died = [s for s in mine if s.proc.poll() is not None]
    for server in mine:
        server.stop()
    for server in died:
        server.assert_alive()


@pytest.fixture
def echo(start_server) -> DuplexServer:
    """`duplex echo` with its defaults."""
    return start_server("echo")


@pytest.fixture
def chat(start_server) -> DuplexServer:
    """`duplex chat` with its defaults (SQLite history in the test's temporary folder)."""
    return start_server("chat")
