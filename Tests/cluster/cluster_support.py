"""Fixtures of the cluster tests: a throwaway PostgreSQL server per module (pg_server.py),
a fresh database per test, and `duplex-socketio-conformance --interop --postgres URL` nodes
on it, with python-socketio clients (the Recorder of Tests/socketio).

SOCKETIO_CONFORMANCE_BIN (default <repo>/.build/debug/duplex-socketio-conformance),
ARTIFACT_DIR (default /tmp/duplex-artifacts).
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "socketio"))

import duplex_process  # noqa: E402
from duplex_process import REPO, free_port  # noqa: E402
from pg_server import PostgresServer, pg  # noqa: E402
from socketio_support import Recorder, wait_until  # noqa: E402,F401

BIN = os.environ.get("SOCKETIO_CONFORMANCE_BIN") or str(REPO / ".build" / "debug" / "duplex-socketio-conformance")
ARTIFACT_DIR = duplex_process.ARTIFACT_ROOT / "cluster"
_databases = itertools.count(1)


class Node:
    """One Duplex Socket.IO process of the cluster."""

    def __init__(self, name: str, database_url: str, extra: list[str] | None = None, port: int | None = None) -> None:
        self.name = name
        self.port = port or free_port()
        self.log_path = ARTIFACT_DIR / f"{name}-{self.port}.log"
        self.proc = duplex_process.start(
            [BIN, "--interop", "--port", str(self.port), "--postgres", database_url, "--node-name", name,
             "--ping-interval", "1000", "--ping-timeout", "1000", "--connect-timeout", "3000", *(extra or [])],
            f"cluster node {name}", self.log_path, duplex_process.answers_http(f"{self.url}/healthz"), timeout=20)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no goodbye to the others."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(5)

    def stop(self) -> int | None:
        return duplex_process.stop(self.proc)


class Cluster:
    def __init__(self, pg: PostgresServer) -> None:
        self.pg = pg
        self.database = f"cluster{next(_databases)}"
        self.database_url = pg.create_database(self.database)
        self.nodes: list[Node] = []
        self.clients: list[Recorder] = []

    def start(self, count: int, extra: list[str] | None = None, ports: list[int] | None = None) -> list[Node]:
        """`count` more nodes (on `ports` when given, e.g. ports a load balancer knew first)."""
        started = [Node(f"node{len(self.nodes) + i + 1}", self.database_url, extra, (ports or [None] * count)[i])
                   for i in range(count)]
        self.nodes += started
        # Every node knows every other (INITIAL_HEARTBEAT answered at once).
        for node in started:
            self.wait_server_count(node, len(self.nodes))
        return started

    def client(self, node: Node, **kwargs) -> Recorder:
        kwargs.setdefault("transports", ["websocket"])
        client = Recorder(node.url, **kwargs)
        client.node = node
        self.clients.append(client)
        return client

    def server_count(self, node: Node) -> int:
        probe = Recorder(node.url, transports=["websocket"])
        try:
            return probe.sio.call("server-count", timeout=5)
        finally:
            probe.close()

    def wait_server_count(self, node: Node, expected: int, timeout: float = 10.0) -> None:
        assert wait_until(lambda: self.server_count(node) == expected, timeout=timeout, step=0.2), \
            f"{node.name} sees {self.server_count(node)} servers, expected {expected}"

    def close(self) -> None:
        for client in self.clients:
            try:
                client.close()
            except Exception:
                pass
        for node in self.nodes:
            if node.proc.poll() is None:
                node.stop()


@pytest.fixture
def cluster(pg):
    if not os.path.exists(BIN):
        pytest.fail(f"{BIN} not built (swift build --product duplex-socketio-conformance)")
    made = Cluster(pg)
    yield made
    made.close()
