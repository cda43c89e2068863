"""Connection state recovery across nodes (a Duplex extension on PostgreSQL): three
`duplex-socketio-conformance --postgres URL --recovery` nodes behind nginx, the official
Socket.IO JavaScript client (v4.8.1) in Chromium. The node the client is on is killed with
SIGKILL while another node emits to the client's room; the client reconnects through nginx
to a surviving node and must get every event once, in order, with its id and rooms back.
Binary events and large ones (over PostgreSQL's NOTIFY size, 8,000 bytes here) are logged
too: their rows hold the MessagePack, the NOTIFY only the offset."""

from __future__ import annotations

import json
import threading
import time

import pytest

from cluster_support import free_port, wait_until
from nginx_server import NginxServer
from recovery_browser import BrowserClients

RECONNECT_DELAY_MS = 1000
LARGE = 9_000  # characters: over the adapter's payloadThreshold (8,000 bytes)

# The arguments after the sequence number, per kind of event: as sent by python-socketio
# (bytes are a binary attachment) and as recorded by the browser.
KINDS = {
    "json": (lambda n: [], lambda n: []),
    "binary": (lambda n: [bytes([n % 256, 255])], lambda n: [{"binary": [n % 256, 255]}]),
    "large": (lambda n: ["x" * LARGE], lambda n: ["x" * LARGE]),
}


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

    def __init__(self, client, room: str, period: float = 0.005, extra=lambda n: []) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.room = room
        self.period = period
        self.extra = extra
        self.sent = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            if not self.client.sio.connected:
                print("controller disconnected:", list(self.client.disconnect_reasons.queue))
                return
            self.client.sio.emit("to-room", {"room": self.room, "event": "seq", "args": [self.sent, *self.extra(self.sent)]})
            self.sent += 1
            time.sleep(self.period)

    def stop(self) -> int:
        self._halt.set()
        self.join(5)
        # A last acked round trip: everything before it has been handled by the node.
        self.client.sio.call("node", timeout=5)
        return self.sent


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_client_whose_node_is_killed_recovers_on_another_node_with_nothing_missed(cluster, browser, kind):
    sent_extra, received_extra = KINDS[kind]
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
        emitter = Emitter(controller, "r", period=0.005 if kind == "json" else 0.01, extra=sent_extra)
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
        bad = [e["args"][:8] for e in client.events() if e["name"] == "seq" and e["args"][1:-1] != received_extra(e["args"][0])]
        assert not bad, f"{len(bad)} events with other arguments, first {str(bad[0])[:200]}"
        assert client.emit_with_ack("rooms") == sorted([first["id"], "r"])
        # Events went out while the client was away, and came back as the replay: the client
        # hands the replayed events on just before its `connect` event.
        log = client.log()
        gone = next(i for i, record in enumerate(log) if record["type"] == "disconnect")
        back = [i for i, record in enumerate(log) if record["type"] == "connect"][1]
        replayed = [record for record in log[gone:back] if record["type"] == "event" and record["name"] == "seq"]
        assert replayed, "nothing was emitted while the client was away"
        print(f"{kind}: {total} events, {len(replayed)} replayed after the kill")


def test_with_postgresql_down_events_go_on_locally_without_an_offset(cluster):
    nodes = cluster.start(2, extra=["--recovery"])
    receiver = cluster.client(nodes[0])
    receiver.sio.call("join", "r", timeout=5)
    remote = cluster.client(nodes[1])
    remote.sio.call("join", "r", timeout=5)
    sender = cluster.client(nodes[0])

    sender.sio.emit("to-room", {"room": "r", "event": "up", "args": [1]})
    here, there = receiver.next("up"), remote.next("up")
    assert here == there and here[0] == 1 and isinstance(here[1], str), f"logged, with one offset: {here} {there}"

    cluster.pg.stop(remove=False)
    try:
        assert wait_until(lambda: "lost the PostgreSQL connection" in nodes[0].log(), timeout=10)
        sender.sio.emit("to-room", {"room": "r", "event": "down", "args": [2]})
        assert receiver.next("down") == (2,), "delivered here at once, without an offset"
        assert remote.nothing("down", wait=0.5)
    finally:
        cluster.pg.start()
    assert wait_until(lambda: "broadcasts delivered without an offset" in nodes[0].log(), timeout=5)
    assert wait_until(lambda: "reconnected to PostgreSQL" in nodes[0].log(), timeout=20)
    # Logged again once the link is back.
    def logged_again() -> bool:
        sender.sio.emit("to-room", {"room": "r", "event": "again", "args": [3]})
        got = receiver.next("again")
        return len(got) == 2
    assert wait_until(logged_again, timeout=10, step=0.2)


@pytest.mark.parametrize("bounded, kind", [(False, "json"), (True, "json"), (False, "mixed")],
                         ids=["replayed", "more-than-the-bound", "binary-and-large-replayed"])
def test_a_node_that_started_after_the_events_replays_them_from_the_table(cluster, browser, bounded, kind):
    """The packets come from `socket_io_recovery_packets` when the node's own log lacks the
    client's offset: here the client's node is killed, events go out while no other node
    behind the balancer is up, then a new node starts and the client reconnects to it.
    `more-than-the-bound`: the new node keeps at most 10 packets, 30 were missed: as a
    too-old offset, the client gets a new socket. `binary-and-large-replayed`: the missed
    events are JSON, binary and large ones interleaved (rows with MessagePack and JSON text)."""
    first_node, emitting_node = cluster.start(2, extra=["--recovery"])
    late_port = free_port()
    with NginxServer([f"127.0.0.1:{first_node.port}", f"127.0.0.1:{late_port}"]) as balancer:
        client = browser.client(balancer.url, reconnectionDelay=500, reconnectionDelayMax=500, randomizationFactor=0)
        client.wait_for("connect")
        first = client.connects()[0]
        assert client.emit_with_ack("node") == first_node.name
        assert client.emit_with_ack("join", "r") == sorted([first["id"], "r"])
        assert wait_until(lambda: session_rooms(cluster, first["id"]) == sorted([first["id"], "r"]), timeout=10)
        controller = cluster.client(emitting_node)
        controller.sio.call("emit-many", {"rooms": ["r"], "event": "before", "count": 5}, timeout=10)
        client.wait_for_event("before", count=5)

        first_node.kill()
        cluster.nodes.remove(first_node)  # the count the next node must see: the living ones
        client.wait_for("disconnect")
        if kind == "mixed":
            # 30 events, offsets interleaved: 10 binary, 10 large, 10 JSON.
            for batch in range(10):
                for extra in ({"binary": True}, {"padding": LARGE}, {}):
                    controller.sio.call("emit-many", {"rooms": ["r"], "event": "missed", "count": 1, **extra}, timeout=10)
        else:
            controller.sio.call("emit-many", {"rooms": ["r"], "event": "missed", "count": 30}, timeout=10)
        controller.sio.call("emit-many", {"rooms": ["elsewhere"], "event": "not-for-it", "count": 3}, timeout=10)
        mark = len(client.log())
        bound = ["--recovery-max-packets", "10"] if bounded else []
        late = cluster.start(1, extra=["--recovery", *bound], ports=[late_port])[0]
        client.wait_for("connect", count=2, timeout_ms=20_000)
        second = client.connects()[1]
        if bounded:
            assert second["recovered"] is False and second["id"] != first["id"]
            assert "missed" not in [e["name"] for e in client.events(after=mark)]
            return
        assert second["recovered"] is True, [r for r in client.log() if r["type"] != "event"]
        assert second["id"] == first["id"]
        assert client.emit_with_ack("node") == late.name
        after = client.events(after=mark)
        missed = [e["args"] for e in after if e["name"] == "missed"]
        if kind == "mixed":
            expected = [[0, {"binary": [0, 255]}], [0, "x" * LARGE], [0]] * 10
            assert [args[:-1] for args in missed] == expected, f"{len(missed)} replayed: {str(missed)[:300]}"
        else:
            assert [args[0] for args in missed] == list(range(30))
        offsets = [int(args[-1]) for args in missed]
        assert offsets == sorted(set(offsets)), "one offset each, in order"
        assert "not-for-it" not in [e["name"] for e in after]
        controller.sio.call("emit-many", {"rooms": ["r"], "event": "live", "count": 1}, timeout=10)
        client.wait_for_event("live")


def test_a_logged_row_that_cannot_be_read_is_skipped_without_stalling_the_ones_after(cluster):
    """A binary event's row vanishes before any node reads it (a trigger deletes it in
    the inserting transaction): every node warns and skips it, and the events after it are
    still delivered, in order, with their offsets."""
    nodes = cluster.start(2, extra=["--recovery"])
    receivers = [cluster.client(node) for node in nodes]
    for receiver in receivers:
        receiver.sio.call("join", "r", timeout=5)
    sender = cluster.client(nodes[0])
    sender.sio.emit("to-room", {"room": "r", "event": "before", "args": [1]})
    for receiver in receivers:
        assert len(receiver.next("before")) == 2, "logged, with an offset"
    with cluster.pg.connect(cluster.database) as connection:
        connection.execute("""
            CREATE FUNCTION drop_packed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN DELETE FROM socket_io_recovery_packets WHERE id = NEW.id; RETURN NULL; END $$;
            CREATE TRIGGER drop_packed AFTER INSERT ON socket_io_recovery_packets
            FOR EACH ROW WHEN (NEW.payload IS NOT NULL) EXECUTE FUNCTION drop_packed();""")
        connection.commit()
    sender.sio.emit("to-room", {"room": "r", "event": "lost", "args": [2, b"\x01\x02"]})
    sender.sio.emit("to-room", {"room": "r", "event": "after", "args": [3]})
    for node, receiver in zip(nodes, receivers):
        after = receiver.next("after")
        assert after[0] == 3 and int(after[1]) > 0, after
        assert receiver.nothing("lost", wait=0.2)
        assert wait_until(lambda: "not read" in node.log(), timeout=5), node.log()[-2000:]
