"""A real deployment of `duplex chat` on several nodes: one throwaway PostgreSQL
(Tests/pg_server.py), `duplex chat --postgres URL` nodes, and nginx in front
(Tests/nginx_server.py): round-robin for WebSockets, ip_hash (sticky) for Socket.IO's
long-polling. Clients: Python websockets, python-socketio, the page in Chromium (Playwright's
async API, in the test's own thread: Tests/browser holds a sync Playwright for the session).

DUPLEX_BIN (default <repo>/.build/debug/duplex, built with `--traits Postgres`).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duplex_process  # noqa: E402
from duplex_process import DUPLEX_BIN, free_port  # noqa: E402
from nginx_server import NginxServer  # noqa: E402
from pg_server import PostgresServer, pg  # noqa: E402

ARTIFACT_DIR = duplex_process.ARTIFACT_ROOT / "chat_cluster"
PRESENCE_TIMEOUT = 3.0  # seconds: a killed node's people leave after this (+ one heartbeat)
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ChatNode:
    """One `duplex chat --postgres URL` process on a free port."""

    def __init__(self, database_url: str, name: str, *extra: str):
        self.name = name
        self.port = free_port()
        self.log_path = ARTIFACT_DIR / f"{name}-{self.port}.log"
        self.args = [DUPLEX_BIN, "chat", "--port", str(self.port), "--host", "127.0.0.1", "--postgres", database_url,
                     "--node-name", name, "--presence-timeout", str(PRESENCE_TIMEOUT), "--metrics", "--history", "500",
                     *extra]
        self.proc = duplex_process.start(self.args, f"duplex chat {name}", self.log_path,
                                         duplex_process.answers_http(f"http://127.0.0.1:{self.port}/healthz"),
                                         timeout=30)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def members(self) -> int:
        """Members connected to this node (its /metrics)."""
        with _opener.open(f"http://{self.address}/metrics", timeout=5) as response:
            text = response.read().decode()
        found = re.search(r"^duplex_chat_members(?:\{[^}]*\})? ([0-9.e+]+)$", text, re.M)
        return int(float(found.group(1))) if found else 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> int | None:
        return duplex_process.stop(self.proc, 10)


class ChatCluster:
    def __init__(self, pg: PostgresServer, database: str, nodes: list[ChatNode], lb: NginxServer, sticky: NginxServer):
        self.pg, self.database, self.nodes, self.lb, self.sticky = pg, database, nodes, lb, sticky

    def db_messages(self, room: str) -> list[tuple[int, str, str]]:
        with self.pg.connect(self.database) as conn:
            return [tuple(r) for r in conn.execute(
                "SELECT id, user_name, body FROM duplex_chat_messages WHERE room = %s ORDER BY id", (room,))]


@pytest.fixture
def cluster(pg):
    database = "chat_" + uuid.uuid4().hex[:8]
    url = pg.create_database(database)
    nodes: list[ChatNode] = []
    lb = sticky = None
    try:
        # nginx passes the client's `Host` with its port ($http_host): the page's origin is
        # the nodes' own, with no --allow-origin (the README's configuration as it is).
        lb_port, sticky_port = free_port(), free_port()
        for n in range(3):
            nodes.append(ChatNode(url, f"node{n + 1}"))
        lb = NginxServer([node.address for node in nodes], port=lb_port).start()
        sticky = NginxServer([node.address for node in nodes], sticky=True, port=sticky_port).start()
        yield ChatCluster(pg, database, nodes, lb, sticky)
    finally:
        for proxy in (lb, sticky):
            if proxy:
                proxy.stop()
        for node in nodes:
            if node.proc.poll() is None:
                node.stop()


def run_async(coroutine_function, timeout: float = 170.0):
    """Runs the scenario in its own thread with its own event loop (and its own Playwright),
    re-raising what it raised."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = asyncio.run(coroutine_function())
        except BaseException as error:  # noqa: BLE001 (re-raised in the test's thread)
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"scenario still running after {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


async def eventually(check, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
