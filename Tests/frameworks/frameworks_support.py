"""The real example apps of the framework integrations (Sources/Examples): a Hummingbird 2
app and a Vapor 4 app, each with its own GET /hello, a Duplex echo WebSocket route on /echo
(messages up to 64 KiB, permessage-deflate on) and a Socket.IO server on /socket.io/ (events
`echo`, answered through the ack, and `join`, which joins a room and tells it `joined`).

HUMMINGBIRD_APP_BIN, VAPOR_APP_BIN (default <repo>/.build/debug/{HummingbirdApp,VaporApp}),
ARTIFACT_DIR (default /tmp/duplex-artifacts).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duplex_process  # noqa: E402
from duplex_process import REPO, free_port  # noqa: E402

ARTIFACT_DIR = duplex_process.ARTIFACT_ROOT / "frameworks"
BINARIES = {
    "hummingbird": os.environ.get("HUMMINGBIRD_APP_BIN") or str(REPO / ".build" / "debug" / "HummingbirdApp"),
    "vapor": os.environ.get("VAPOR_APP_BIN") or str(REPO / ".build" / "debug" / "VaporApp"),
}
# What the apps' /hello answers: proves the app's own routing kept working.
HELLO = {"hummingbird": "Hello from Hummingbird\n", "vapor": "Hello from Vapor\n"}
# The echo route's maxMessageSize (Sources/Examples/*/main.swift).
ECHO_MAX_MESSAGE = 64 * 1024
# Engine.IO's maxHttpBufferSize default, the polling body limit of the mounted servers.
MAX_HTTP_BUFFER = 1_000_000
# WebSocketServer's maxRequestBodySize default (1 MiB), the mounted servers' HTTP body limit.
MAX_REQUEST_BODY = 1024 * 1024


class AppProcess:
    def __init__(self, framework: str) -> None:
        self.framework = framework
        self.port = free_port()
        self.log_path = ARTIFACT_DIR / f"{framework}-{self.port}.log"
        binary = BINARIES[framework]
        if not os.access(binary, os.X_OK):
            pytest.fail(f"{binary} not built (swift build --product {Path(binary).name})", pytrace=False)
        args = [binary] + (["serve", "--hostname", "127.0.0.1", "--port", str(self.port)] if framework == "vapor" else [])
        self.proc = duplex_process.start(args, framework, self.log_path, duplex_process.answers_http(f"{self.url}/hello"),
                                         timeout=30, env={"PORT": str(self.port)})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        duplex_process.stop(self.proc)


@pytest.fixture(scope="module", params=["hummingbird", "vapor"])
def app(request):
    process = AppProcess(request.param)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def vapor_app():
    process = AppProcess("vapor")
    yield process
    process.stop()
