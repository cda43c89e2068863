"""Fixtures of the interop tests: real `duplex echo` processes on free ports.

Environment:
  DUPLEX_BIN    the duplex executable (default <repo>/.build/debug/duplex)
  ARTIFACT_DIR  where server logs go (default /tmp/duplex-artifacts)
  INTEROP_TIMEOUT  seconds per test (default 60)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import duplex_process  # noqa: E402
from duplex_process import DUPLEX_BIN, HOST, free_port  # noqa: E402

ARTIFACT_DIR = duplex_process.ARTIFACT_ROOT / "interop"
DEFAULT_TIMEOUT = float(os.environ.get("INTEROP_TIMEOUT", "60"))  # s per test (pytest-timeout)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT))


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
        self.log_path = ARTIFACT_DIR / f"server-{name}-{self.port}.log"
        self.stopped = False
        try:
            self.proc = duplex_process.start(self.args, f"server {name}", self.log_path,
                                             duplex_process.accepts_tcp(self.port))
        except duplex_process.ServerStartError as error:
            pytest.fail(str(error), pytrace=False)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def log_tail(self, n: int = 40) -> str:
        return duplex_process.log_tail(self.log_path, n)

    def assert_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"server {self.name} died (exit status {self.proc.returncode}); "
                                 f"log {self.log_path}:\n{self.log_tail()}")

    def stop(self) -> None:
        duplex_process.stop(self.proc)
        self.stopped = True


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
        if not srv.stopped:
            srv.assert_alive()
