"""Bounds of the Engine.IO / Socket.IO server, black-box: a real server process, raw
Engine.IO polling clients over HTTP (they do what a misbehaving or hostile client does:
stop reading, open sessions in bulk, vanish), and the server's memory, CPU and fds read
from /proc/PID.

- the polling outbox has one byte budget per session (EngineIOOptions.maxBufferedBytes);
- sessions are capped, globally and per remote address (maxSessions,
  maxSessionsPerAddress): 503 for polling, a refused upgrade for WebSockets;
- chat broadcasts to Socket.IO members are encoded once per event (clients that never
  read cost references, not copies);
- connectTimeout holds after a CONNECT to an unknown namespace; empty dynamic namespaces
  go away; broadcast-with-ack entries on recipients expire.

Every loop is bounded in count and time; loopback only.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
import time
from pathlib import Path

import pytest
import websocket  # websocket-client

import duplex_process
from duplex_process import DUPLEX_BIN, free_port
from socketio_support import ARTIFACT_DIR, BIN, Recorder, wait_until

pytestmark = pytest.mark.timeout(60)

HOST = "127.0.0.1"
SEP = "\x1e"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the server process and /proc ---------------------------------------------------------

class Server:
    """A real server process (the conformance server in --interop mode, or `duplex chat`)."""

    def __init__(self, args: list[str], name: str, path: str = "/socket.io/"):
        self.port = free_port()
        self.path = path
        self.log_path = ARTIFACT_DIR / f"bounds-{name}-{self.port}.log"
        binary = args[0]
        if not os.path.exists(binary):
            pytest.fail(f"{binary} not built (swift build)")
        self.proc = duplex_process.start(
            [*args, "--port", str(self.port)], name, self.log_path,
            duplex_process.answers_http(f"http://{HOST}:{self.port}/healthz"), timeout=20)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10) -> int | None:
        return duplex_process.stop(self.proc, timeout)


def interop_server(*flags: str, ping_interval=1000, ping_timeout=1000, connect_timeout=3000) -> Server:
    return Server([BIN, "--interop", "--ping-interval", str(ping_interval), "--ping-timeout", str(ping_timeout),
                   "--connect-timeout", str(connect_timeout), *flags], "socketio-conformance")


@pytest.fixture
def servers():
    started: list[Server] = []

    def make(factory, *args, **kwargs) -> Server:
        server = factory(*args, **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


# --- a raw Engine.IO polling client -------------------------------------------------------

class Polling:
    """One Engine.IO session over HTTP long-polling on a keep-alive connection, driven by
    hand: it reads only when told to, which is what the bounds are about."""

    def __init__(self, server: Server, conn: http.client.HTTPConnection | None = None, timeout: float = 5):
        self.server = server
        self.conn = conn or http.client.HTTPConnection(HOST, server.port, timeout=timeout)
        self.sid: str | None = None

    def request(self, method: str, query: str, body: str | None = None) -> tuple[int, str]:
        self.conn.request(method, f"{self.server.path}?EIO=4&transport=polling{query}", body=body,
                          headers={"Content-Type": "text/plain;charset=UTF-8"} if body is not None else {})
        response = self.conn.getresponse()
        return response.status, response.read().decode()

    def handshake(self) -> tuple[int, str]:
        status, body = self.request("GET", "")
        if status == 200:
            assert body.startswith("0{"), body
            self.sid = json.loads(body[1:].split(SEP)[0])["sid"]
        return status, body

    def post(self, *packets: str) -> tuple[int, str]:
        return self.request("POST", f"&sid={self.sid}", SEP.join(packets))

    def get(self) -> tuple[int, list[str]]:
        status, body = self.request("GET", f"&sid={self.sid}")
        return status, body.split(SEP) if status == 200 else [body]

    def connect(self, namespace: str = "/") -> dict:
        """CONNECT to a namespace; returns the CONNECT answer's payload."""
        prefix = "" if namespace == "/" else namespace + ","
        assert self.post("40" + prefix) == (200, "ok")
        status, packets = self.get()
        assert status == 200, packets
        answer = next(p for p in packets if p.startswith("40" + prefix) or p.startswith("44" + prefix))
        assert answer.startswith("40"), answer
        return json.loads(answer[2 + len(prefix):])

    def close(self) -> None:
        self.conn.close()


def open_sessions(server: Server, count: int, workers: int = 4, connect: bool = False) -> list[tuple[int, str]]:
    """`count` polling handshakes (each optionally followed by a CONNECT to `/` and one GET),
    over `workers` keep-alive connections; the sessions are then left alone. Returns the
    (status, body) of every handshake."""
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def work(share: int) -> None:
        conn = http.client.HTTPConnection(HOST, server.port, timeout=10)
        mine = []
        for _ in range(share):
            client = Polling(server, conn)
            status, body = client.handshake()
            if status == 200 and connect:
                client.connect()
            mine.append((status, body))
        conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=work, args=(count // workers + (1 if i < count % workers else 0),))
               for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(50)
    assert len(results) == count, f"only {len(results)} of {count} handshakes finished"
    return results


def stats(client: Recorder, **query) -> dict:
    return client.sio.call("stats", query, timeout=5)


# --- #4: one outbound byte budget per session ----------------------------------------------

def test_polling_outbox_has_a_byte_budget(servers):
    """A client that asks for data but never GETs it, keeping its session alive with pongs
    it POSTs, is closed once 16 MiB (the default maxBufferedBytes, the WebSocket's own
    limit) are queued for it; the memory stays bounded."""
    server = servers(interop_server)
    client = Polling(server)
    assert client.handshake()[0] == 200
    client.connect()
    rss_before = server.rss_kib()
    chunk = "x" * 500_000
    accepted = 0
    last = (0, "")
    for _ in range(80):  # 40 MB asked for in all, at most
        last = client.post("3", f'42["echo","{chunk}"]')  # a pong keeps the session alive
        if last != (200, "ok"):
            break
        accepted += 1
    growth_mib = (server.rss_kib() - rss_before) / 1024
    print(f"outbox budget: {accepted} echoes of 500 kB accepted, then {last}; RSS +{growth_mib:.1f} MiB")
    assert accepted < 40, f"{accepted} echoes ({accepted / 2:.0f} MB) were queued for a client that never polls"
    assert last[0] == 400 and '"code":1' in last[1], last  # the session is gone
    status, packets = client.get()
    assert status == 400 and '"code":1' in packets[0], (status, packets[:1])
    assert growth_mib < 40, f"RSS grew {growth_mib:.1f} MiB"
    assert wait_until(lambda: "maxBufferedBytes" in server.log(), 5), "no log line says why the session closed"
    # the server still serves others
    other = Polling(server)
    assert other.handshake()[0] == 200
    other.connect()


def test_small_budget_counts_many_small_packets(servers):
    """With --max-buffered-bytes 20000, many tiny queued packets (each counted with its
    per-packet overhead) close the session too, and a client that reads stays open."""
    server = servers(interop_server, "--max-buffered-bytes", "20000")
    reader, hoarder = Polling(server), Polling(server)
    for client in (reader, hoarder):
        assert client.handshake()[0] == 200
        client.connect()
    closed_after = None
    for i in range(100):
        # 20 tiny echoes a request: ~20 × (8 + 32) bytes counted each time
        status, _ = hoarder.post("3", *['42["echo",1]'] * 20)
        assert reader.post('42["echo",1]') == (200, "ok")
        assert reader.get()[0] == 200
        if status != 200:
            closed_after = i
            break
    assert closed_after is not None and closed_after < 60, closed_after
    assert reader.post("3") == (200, "ok")  # the reader's session is untouched


# --- #5: a cap on sessions ------------------------------------------------------------------

def test_sessions_per_address_are_capped(servers):
    """One address gets at most maxSessionsPerAddress (5000 by default) sessions: then 503
    with a JSON reason for polling and a refused upgrade for a WebSocket; when they expire
    (cheaply), handshakes work again."""
    # sessions live 15 s (the ping timeout): longer than opening 5000 takes
    server = servers(interop_server, ping_interval=12_000, ping_timeout=3000, connect_timeout=30_000)
    fds_before = server.fd_count()
    cpu_before = server.cpu_seconds()
    started = time.monotonic()
    results = open_sessions(server, 5000)
    opened = time.monotonic() - started
    assert all(status == 200 for status, _ in results), [r for r in results if r[0] != 200][:3]
    assert opened < 14, f"opening took {opened:.1f} s: the first sessions may have expired already"
    refused = Polling(server)
    status, body = refused.handshake()
    print(f"5000 sessions in {opened:.1f} s; the next handshake: {status} {body[:80]}")
    assert status == 503, (status, body[:200])
    assert json.loads(body)["message"] == "Too many sessions"
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(f"ws://{HOST}:{server.port}/socket.io/?EIO=4&transport=websocket", timeout=5)
    assert info.value.status_code == 503
    expired_by = time.monotonic()
    assert wait_until(lambda: Polling(server).handshake()[0] == 200, 25, step=0.5), "the sessions never expired"
    expiry = time.monotonic() - expired_by
    cpu = server.cpu_seconds() - cpu_before
    print(f"expired within {expiry:.1f} s; server CPU {cpu:.2f} s for 5000 sessions in all")
    assert cpu < 15, f"{cpu:.1f} s of CPU for 5000 sessions"
    assert server.fd_count() <= fds_before + 8


def test_global_session_cap(servers):
    """--max-sessions 100: the 101st handshake is refused on both transports, from any
    address."""
    server = servers(interop_server, "--max-sessions", "100", ping_interval=10_000, ping_timeout=5_000,
                     connect_timeout=20_000)
    results = open_sessions(server, 100, workers=2)
    assert all(status == 200 for status, _ in results)
    status, body = Polling(server).handshake()
    assert status == 503 and "Too many sessions" in body, (status, body)
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(f"ws://{HOST}:{server.port}/socket.io/?EIO=4&transport=websocket", timeout=5)
    assert info.value.status_code == 503
    assert "maxSessions" in server.log()


# --- #6: chat broadcasts to Socket.IO members are encoded once ------------------------------

def ghosts_in_chat(server: Server, count: int) -> tuple[float, float]:
    """`count` Socket.IO clients that handshake, join the chat, GET once and vanish (their
    sessions live until the ping timeout, 45 s by default). Returns the server's RSS growth
    (MiB) and CPU seconds from before the first ghost to 3 s after the last."""
    rss_before, cpu_before = server.rss_kib(), server.cpu_seconds()
    open_sessions(server, count, connect=True)
    time.sleep(3)  # presence updates are coalesced; let every queued event land
    return (server.rss_kib() - rss_before) / 1024, server.cpu_seconds() - cpu_before


def test_chat_ghosts_cost_little_and_sigterm_stays_prompt(servers):
    """1000 ghosts in one chat room (every join, leave and presence goes to all of them)
    cost tens of MiB and a few CPU seconds, not hundreds and tens; with them all still
    there, SIGTERM ends the server within seconds (each departure at shutdown is told to
    the others: that must stay cheap)."""
    server = servers(lambda: Server([DUPLEX_BIN, "chat", "--memory", "--host", HOST], "chat"))
    growth, cpu = ghosts_in_chat(server, 1000)
    print(f"1000 chat ghosts: RSS +{growth:.1f} MiB, CPU {cpu:.2f} s")
    assert server.alive()
    started = time.monotonic()
    status = server.stop(timeout=20)
    took = time.monotonic() - started
    print(f"SIGTERM with 1000 ghosts: exit {status} after {took:.2f} s")
    assert growth < 40, f"RSS grew {growth:.1f} MiB for 1000 ghosts"
    assert cpu < 6.5, f"{cpu:.1f} s of CPU for 1000 ghosts"
    assert status == 0 and took < 10, f"shutdown: status {status} after {took:.1f} s"


# --- #7: connect timeout, dynamic namespaces, broadcast acks ---------------------------------

def test_connect_timeout_holds_after_a_connect_to_an_unknown_namespace(servers):
    server = servers(interop_server, ping_interval=20_000, ping_timeout=10_000, connect_timeout=800)
    client = Polling(server, timeout=3)
    assert client.handshake()[0] == 200
    assert client.post("40/nope,") == (200, "ok")
    status, packets = client.get()
    assert status == 200 and packets[0].startswith('44/nope,{"message":"Invalid namespace"'), packets
    time.sleep(1.5)
    try:
        status, packets = client.get()
    except TimeoutError:
        pytest.fail("the session is still open (the poll was held) 1.5 s after an 800 ms connect timeout")
    assert status == 400 and '"code":1' in packets[0], (status, packets)


def test_empty_dynamic_namespaces_are_removed(servers, tmp_path):
    """40,000 dynamic namespaces joined and left (1000 a request): none remains, and the
    memory does not grow with them (it did by ~0.7 KiB each)."""
    server = servers(interop_server, ping_interval=20_000, ping_timeout=10_000)
    client = Polling(server, timeout=10)
    assert client.handshake()[0] == 200
    client.connect()
    rss_before = server.rss_kib()
    for batch in range(40):
        names = [f"/dyn-{batch * 1000 + i}" for i in range(1000)]
        assert client.post("3", *[f"40{n},{SEP}41{n}," for n in names]) == (200, "ok")
        # the CONNECT answers and welcomes, 2,000 packets, at most 16 per response
        received = 0
        while received < 2000:
            status, packets = client.get()
            assert status == 200, packets[:2]
            received += len(packets)
    time.sleep(0.5)
    growth = (server.rss_kib() - rss_before) / 1024
    print(f"40,000 dynamic namespaces: RSS +{growth:.1f} MiB")
    assert growth < 12, f"RSS grew {growth:.1f} MiB"
    observer = Recorder(server.url)
    try:
        # "/" and "/custom" are all that is left
        assert wait_until(lambda: stats(observer)["namespaces"] == 2, 5), stats(observer)
    finally:
        observer.close()


def test_broadcast_ack_entries_expire_on_silent_recipients(servers):
    server = servers(interop_server, ping_interval=20_000, ping_timeout=10_000)
    silent = Polling(server)
    assert silent.handshake()[0] == 200
    sid = silent.connect()["sid"]
    assert silent.post('42["join","quiet"]') == (200, "ok")
    caller = Recorder(server.url)
    try:
        for _ in range(20):
            reply = caller.sio.call("ack-all", {"room": "quiet", "event": "answer-me", "timeout": 100}, timeout=5)
            assert reply["error"] == "timeout" and reply["responses"] == []
        time.sleep(0.3)
        pending = stats(caller, socket=sid)["pendingAcks"]
        assert pending == 0, f"{pending} broadcast acks still held by a recipient after their timeout"
    finally:
        caller.close()
