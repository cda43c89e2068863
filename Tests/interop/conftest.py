"""Fixtures of the interop tests: real `duplex echo` processes on free ports.

Environment:
  DUPLEX_BIN    the duplex executable (default <repo>/.build/debug/duplex)
  ARTIFACT_DIR  where server logs go (default /tmp/duplex-artifacts)
  INTEROP_TIMEOUT  seconds per test (default 60)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

REPO = HERE.parent.parent
DUPLEX_BIN = os.environ.get("DUPLEX_BIN") or str(REPO / ".build" / "debug" / "duplex")
ARTIFACT_DIR = Path(os.environ.get("ARTIFACT_DIR") or "/tmp/duplex-artifacts") / "interop"
HOST = "127.0.0.1"
DEFAULT_TIMEOUT = float(os.environ.get("INTEROP_TIMEOUT", "60"))  # s per test (pytest-timeout)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


_help_text: str | None = None


def echo_help() -> str:
    """`duplex echo --help` output (cached), used to find out which flags exist."""
    global _help_text
    if _help_text is None:
        if not os.access(DUPLEX_BIN, os.X_OK):
            pytest.fail(f"duplex binary not found or not executable: {DUPLEX_BIN} "
                        f"(build it with `swift build` or set DUPLEX_BIN)", pytrace=False)
        proc = subprocess.run([DUPLEX_BIN, "echo", "--help"], capture_output=True, text=True, timeout=30)
        _help_text = proc.stdout + proc.stderr
    return _help_text


def require_flag(flag: str) -> None:
    if flag not in echo_help():
        pytest.skip(f"`duplex echo` has no {flag} flag yet (not in `duplex echo --help`)")


class EchoServer:
    def __init__(self, name: str, extra_args: list[str]):
        self.name = name
        self.port = free_port()
        self.host = HOST
        self.args = [DUPLEX_BIN, "echo", "--port", str(self.port), "--host", HOST, *extra_args]
        ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACT_DIR / f"server-{name}-{self.port}.log"
        self.log = open(self.log_path, "wb")
        self.log.write(("$ " + " ".join(self.args) + "\n").encode())
        self.log.flush()
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_listening()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def log_tail(self, n: int = 40) -> str:
        self.log.flush()
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def _wait_listening(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server {self.name} exited with status {self.proc.returncode} before listening; "
                            f"log {self.log_path}:\n{self.log_tail()}", pytrace=False)
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"server {self.name} did not accept on port {self.port} within {timeout}s; "
                    f"log {self.log_path}:\n{self.log_tail()}", pytrace=False)

    def assert_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"server {self.name} died (exit status {self.proc.returncode}); "
                                 f"log {self.log_path}:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


_servers: list[EchoServer] = []


def _start(name: str, extra: list[str]) -> EchoServer:
    echo_help()  # fails clearly when the binary is missing
    srv = EchoServer(name, extra)
    _servers.append(srv)
    return srv


@pytest.fixture(scope="session")
def server():
    """`duplex echo` with default settings."""
    srv = _start("default", [])
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def small_server():
    """`duplex echo --max-message-size 1024`."""
    require_flag("--max-message-size")
    srv = _start("max1024", ["--max-message-size", "1024"])
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def hs_server():
    """`duplex echo --handshake-timeout 1`."""
    require_flag("--handshake-timeout")
    srv = _start("hs1", ["--handshake-timeout", "1"])
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def suffix_server():
    """`duplex echo --suffix '!!!'` (the classic example)."""
    require_flag("--suffix")
    srv = _start("suffix", ["--suffix", "!!!"])
    yield srv
    srv.stop()


@pytest.fixture
def start_server():
    """Factory for a dedicated server of one test: start_server(name, [flags])
    (skips when a flag is missing from `duplex echo --help`); stopped at the end."""
    mine: list[EchoServer] = []

    def start(name: str, extra: list[str]) -> EchoServer:
        for arg in extra:
            if arg.startswith("--"):
                require_flag(arg)
        srv = _start(name, extra)
        mine.append(srv)
        return srv

    yield start
    for srv in mine:
        srv.stop()
        _servers.remove(srv)


@pytest.fixture(autouse=True)
def _servers_survive():
    """Every test ends with every started server still running: a protocol
    violation or an abrupt client must never take the process down."""
    yield
    for srv in _servers:
        if not srv.log.closed:  # not stopped yet
            srv.assert_alive()
