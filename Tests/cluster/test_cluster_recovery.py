"""Connection state recovery across nodes (a Duplex extension on PostgreSQL): three
`duplex-socketio-conformance --postgres URL --recovery` nodes behind nginx, the official
Socket.IO JavaScript client (v4.8.1) in Chromium. The node the client is on is killed with
SIGKILL while another node emits to the client's room; the client reconnects through nginx
to a surviving node and must get every event once, in order, with its id and rooms back."""

from __future__ import annotations

import json
import threading
import time

import pytest

from cluster_support import wait_until
from nginx_server import NginxServer
from recovery_browser import BrowserClients

RECONNECT_DELAY_MS = 1000


@pytest.fixture(scope="module")
def browser():
    clients = BrowserClients()
    yield clients
    clients.close()


def session_rooms(cluster, sid: str) -> list[str] | None:
    """The rooms of the session row of socket `sid` (a JSON array), None without a row."""
    with cluster.pg.connect(cluster.database) as connection:
        row = connection.execute("SELECT rooms FROM socket_io_recovery_sessions WHERE sid = %s", (sid,)).fetchone()
        return sorted(json.loads(row[0])) if row else None


class Emitter(threading.Thread):
    """Emits `seq` [0], [1], ... to a room through one node, every few milliseconds, until stopped."""

    def __init__(self, client, room: str, period: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.room = room
        self.period = period
        self.sent = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            if not self.client.sio.connected:
                print("controller disconnected:", list(self.client.disconnect_reasons.queue))
                return
            self.client.sio.emit("to-room", {"room": self.room, "event": "seq", "args": [self.sent]})
            self.sent += 1
            time.sleep(self.period)

    def stop(self) -> int:
        self._halt.set()
        self.join(5)
        # A last acked round trip: everything before it has been handled by the node.
        self.client.sio.call("node", timeout=5)
        return self.sent


def test_a_client_whose_node_is_killed_recovers_on_another_node_with_nothing_missed(cluster, browser):
    nodes = cluster.start(3, extra=["--recovery"])
    with NginxServer([f"127.0.0.1:{node.port}" for node in nodes]) as balancer:
        client = browser.client(balancer.url, reconnectionDelay=RECONNECT_DELAY_MS, randomizationFactor=0)
        client.wait_for("connect")
        first = client.connects()[0]
        assert first["recovered"] is False
        home_name = client.emit_with_ack("node")
        home = next(node for node in nodes if node.name == home_name)
        others = [node for node in nodes if node is not home]
        assert client.emit_with_ack("join", "r") == sorted([first["id"], "r"])
        # The session row is written within a second of the join.
        assert wait_until(lambda: session_rooms(cluster, first["id"]) == sorted([first["id"], "r"]), timeout=10), \
            f"session row: {session_rooms(cluster, first['id'])}"

        controller = cluster.client(others[0])
        emitter = Emitter(controller, "r")
        emitter.start()
        client.wait_for_event("seq", count=50)
        home.kill()
        # The client notices, waits its reconnection delay, and nginx sends it to a survivor.
        try:
            client.wait_for("connect", count=2, timeout_ms=20_000)
        except Exception:
            pytest.fail(f"no reconnection: {[r for r in client.log() if r['type'] != 'event']}\n{balancer.error_log()[-2000:]}")
        try:
            client.wait_for_event("seq", count=emitter.sent + 50, timeout_ms=20_000)
        except Exception:
            seqs = [e["args"] for e in client.events() if e["name"] == "seq"]
            pytest.fail(f"events stopped: sent {emitter.sent}, got {len(seqs)}, last {seqs[-3:]}, "
                        f"{[r for r in client.log() if r['type'] != 'event']}")
        total = emitter.stop()

        second = client.connects()[1]
        assert second["recovered"] is True, client.log()[-5:]
        assert second["id"] == first["id"]
        new_home = client.emit_with_ack("node")
        assert new_home != home_name
        assert wait_until(lambda: len([e for e in client.events() if e["name"] == "seq"]) >= total, timeout=10)
        received = [event["args"][0] for event in client.events() if event["name"] == "seq"]
        assert received == list(range(total)), (
            f"missing {sorted(set(range(total)) - set(received))[:20]}, "
            f"duplicates {len(received) - len(set(received))}, total {total}")
        offsets = [int(event["args"][-1]) for event in client.events() if event["name"] == "seq"]
        assert offsets == sorted(offsets), "offsets in one global order"
        assert client.emit_with_ack("rooms") == sorted([first["id"], "r"])
        # Events went out while the client was away, and came back as the replay: the client
        # hands the replayed events on just before its `connect` event.
        log = client.log()
        gone = next(i for i, record in enumerate(log) if record["type"] == "disconnect")
        back = [i for i, record in enumerate(log) if record["type"] == "connect"][1]
        replayed = [record for record in log[gone:back] if record["type"] == "event" and record["name"] == "seq"]
        assert replayed, "nothing was emitted while the client was away"
        print(f"{total} events, {len(replayed)} replayed after the kill")
