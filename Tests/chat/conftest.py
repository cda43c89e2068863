"""Fixtures of the chat end-to-end tests: a real `duplex chat` process per test.

DUPLEX_BIN (default <repo>/.build/debug/duplex), ARTIFACT_DIR (default /tmp/duplex-artifacts).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
DUPLEX_BIN = os.environ.get("DUPLEX_BIN") or str(REPO / ".build" / "debug" / "duplex")
ARTIFACT_DIR = Path(os.environ.get("ARTIFACT_DIR") or "/tmp/duplex-artifacts") / "chat"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChatProcess:
    def __init__(self, *args: str):
        self.port = free_port()
        ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACT_DIR / f"chat-{self.port}.log"
        self.args = [DUPLEX_BIN, "chat", "--port", str(self.port), "--host", "127.0.0.1", *args]
        self.start()

    def start(self) -> None:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"duplex chat exited early, see {self.log_path}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"duplex chat did not start, see {self.log_path}")

    def url(self, query: str = "") -> str:
        return f"ws://127.0.0.1:{self.port}/{query}"

    def stop(self, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def chat():
    server = ChatProcess("--memory")
    yield server
    server.stop()


@pytest.fixture
def chat_factory():
    started: list[ChatProcess] = []

    def make(*args: str) -> ChatProcess:
        server = ChatProcess(*args)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
