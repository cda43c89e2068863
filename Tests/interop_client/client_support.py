"""Fixtures of the Duplex *client* interop tests: the client (`duplex connect`, spawned as
a process) against reference servers of other ecosystems (Python `websockets`, Node `ws`)
and against `duplex echo`.

Environment:
  DUPLEX_BIN        the duplex executable (default <repo>/.build/debug/duplex)
  NODE_PATH         where Node finds `ws` (default /usr/share/nodejs, the Debian node-ws package)
  ARTIFACT_DIR      where server logs go (default /tmp/duplex-artifacts)
  INTEROP_TIMEOUT   seconds per test (default 60)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import duplex_process  # noqa: E402
from duplex_process import DUPLEX_BIN, HOST, free_port  # noqa: E402

ARTIFACT_DIR = duplex_process.ARTIFACT_ROOT / "interop_client"
NODE_PATH = os.environ.get("NODE_PATH") or "/usr/share/nodejs"
DEFAULT_TIMEOUT = float(os.environ.get("INTEROP_TIMEOUT", "60"))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT))


def require_duplex():
    if not os.access(DUPLEX_BIN, os.X_OK):
        pytest.fail(f"duplex binary not found: {DUPLEX_BIN} (build with `swift build` or set DUPLEX_BIN)", pytrace=False)


class Process:
    """A spawned server that prints a line with its URL or READY <port> when listening."""

    def __init__(self, name: str, args: list[str], ready_prefix: str, env: dict | None = None):
        ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACT_DIR / f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(self.log_path, "wb"),
                                     stdin=subprocess.DEVNULL, text=True, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith(ready_prefix):
                break
        if not line.startswith(ready_prefix):
            self.stop()
            raise RuntimeError(f"{name} did not start: {self.log_path.read_text(errors='replace')}")
        self.first_line = line.strip()
        # Keep draining stdout so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for _ in self.proc.stdout:
            pass

    def stop(self):
        duplex_process.stop(self.proc)


class ReferenceServer(Process):
    def __init__(self, kind: str, deflate: bool, tls: tuple[str, str] | None):
        extra = [] if deflate else ["--no-deflate"]
        if tls:
            extra += ["--tls", tls[0], tls[1]]
        if kind == "websockets":
            args = [sys.executable, str(HERE / "servers" / "websockets_server.py"), "--port", "0", *extra]
            env = None
        else:
            if not shutil.which("node"):
                pytest.skip("node is not installed")
            args = ["node", str(HERE / "servers" / "ws_server.js"), "--port", "0", *extra]
            env = {"NODE_PATH": NODE_PATH}
        super().__init__(f"{kind}-server", args, "READY ", env)
        self.port = int(self.first_line.split()[1])
        self.scheme = "wss" if tls else "ws"

    def url(self, path: str, host: str = HOST) -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


class DuplexEcho(Process):
    def __init__(self, extra: list[str]):
        require_duplex()
        port = free_port()
        super().__init__("duplex-echo", [DUPLEX_BIN, "echo", "--port", str(port), "--host", HOST, *extra],
                         "duplex echo listening on ")
        self.port = port
        self.scheme = "wss" if "--tls-cert" in extra else "ws"

    def url(self, path: str = "/", host: str = HOST) -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


class Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        # Received messages, in order, without the "< " prefix.
        self.messages = [line[2:] for line in proc.stdout.splitlines() if line.startswith("< ")]

    def __repr__(self):
        return f"exit {self.code}\nstdout: {self.stdout[:2000]}\nstderr: {self.stderr[:2000]}"


def connect(*args: str, stdin: str | None = None, timeout: float = 30) -> Result:
    """Runs `duplex connect ARGS...` to completion."""
    require_duplex()
    proc = subprocess.run([DUPLEX_BIN, "connect", *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, stdin=None if stdin is not None else subprocess.DEVNULL)
    return Result(proc)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """A throwaway self-signed certificate for 127.0.0.1 and localhost (openssl CLI)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not installed")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def spawn():
    started = []

    def start(factory, *args, **kwargs):
        server = factory(*args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class CountingProxy:
    """A TCP relay that counts the bytes each way: shows whether messages were compressed."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.up = 0    # client -> server
        self.down = 0  # server -> client
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)

        async def relay(reader, writer, count):
            try:
                while data := await reader.read(65536):
                    count(len(data))
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        async def handle(client_reader, client_writer):
            server_reader, server_writer = await asyncio.open_connection(HOST, self.target_port)

            def add_up(n):
                self.up += n

            def add_down(n):
                self.down += n

            await asyncio.gather(relay(client_reader, server_writer, add_up), relay(server_reader, client_writer, add_down))

        async def start():
            self.server = await asyncio.start_server(handle, HOST, 0)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def proxy():
    proxies = []

    def make(port):
        p = CountingProxy(port)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.stop()
