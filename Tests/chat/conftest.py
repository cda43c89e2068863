"""Fixtures of the chat end-to-end tests: a real `duplex chat` process per test.

DUPLEX_BIN (default <repo>/.build/debug/duplex), ARTIFACT_DIR (default /tmp/duplex-artifacts).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duplex_process  # noqa: E402
from duplex_process import DUPLEX_BIN, free_port  # noqa: E402

ARTIFACT_DIR = duplex_process.ARTIFACT_ROOT / "chat"


class ChatProcess:
    def __init__(self, *args: str):
        self.port = free_port()
        self.log_path = ARTIFACT_DIR / f"chat-{self.port}.log"
        self.args = [DUPLEX_BIN, "chat", "--port", str(self.port), "--host", "127.0.0.1", *args]
        self.start()

    def start(self) -> None:
        self.proc = duplex_process.start(self.args, "duplex chat", self.log_path,
                                         duplex_process.answers_http(f"http://127.0.0.1:{self.port}/healthz"),
                                         timeout=20)

    def url(self, query: str = "") -> str:
        return f"ws://127.0.0.1:{self.port}/{query}"

    def stop(self, timeout: float = 10) -> int:
        return duplex_process.stop(self.proc, timeout)


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
