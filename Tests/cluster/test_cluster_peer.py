"""The wire format against an independent peer (cluster_peer.py: psycopg + msgpack from
PyPI, written from the documented protocol): what it publishes, as Node's emitter and
adapter would, reaches the Duplex cluster's clients; what Duplex publishes decodes to the
documented messages."""

from __future__ import annotations

import json

from cluster_peer import (ADAPTER_CLOSE, BROADCAST, FETCH_SOCKETS, FETCH_SOCKETS_RESPONSE, HEARTBEAT,
                          INITIAL_HEARTBEAT, SERVER_SIDE_EMIT, SERVER_SIDE_EMIT_RESPONSE, ClusterPeer)
from cluster_support import wait_until


def test_emitter_publishes_into_the_cluster(cluster):
    node1, node2 = cluster.start(2)
    a, b, c = cluster.client(node1), cluster.client(node2), cluster.client(node2, transports=["polling"])
    for x in (a, b, c):
        x.next("welcome")
    a.sio.call("join", "room1", timeout=5)
    b.sio.call("join", "room1", timeout=5)
    peer = ClusterPeer(cluster.database_url)
    try:
        peer.emit("from-emitter", "hi", {"n": 1}, rooms=["room1"])
        assert a.next("from-emitter") == ("hi", {"n": 1})
        assert b.next("from-emitter") == ("hi", {"n": 1})
        assert c.nothing("from-emitter", wait=0.5)
        # except, then binary and a large payload (through the attachments table)
        peer.emit("all-but", 1, except_=["room1"])
        assert c.next("all-but") == (1,)
        assert a.nothing("all-but", wait=0.2)
        peer.emit("bin", {"buf": b"\x00\x01\xff"}, rooms=["room1"])
        assert a.next("bin") == ({"buf": b"\x00\x01\xff"},)
        large = "y" * 10_000
        peer.emit("large", large)
        for x in (a, b, c):
            assert x.next("large") == (large,)
        # the emitter is not a node
        assert a.sio.call("server-count", timeout=5) == 2
    finally:
        peer.close()


def test_duplex_publishes_the_documented_format(cluster):
    peer = ClusterPeer(cluster.database_url)
    try:
        (node1,) = cluster.start(1)
        hello = peer.next_message(lambda m: m["type"] in (INITIAL_HEARTBEAT, HEARTBEAT))
        uid = hello["uid"]
        assert len(uid) == 16 and int(uid, 16) >= 0 and hello["nsp"] == "/" and "data" not in hello
        raw_hello = next(r for r in peer.raw if json.loads(r)["uid"] == uid)
        assert list(json.loads(raw_hello)) == ["type", "uid", "nsp"], raw_hello

        a, b = cluster.client(node1), cluster.client(node1)
        for x in (a, b):
            x.next("welcome")
        b.sio.call("join", "room1", timeout=5)
        a.sio.emit("to-room", {"room": "room1", "event": "chat", "args": [{"text": "hello"}]})
        assert b.next("chat") == ({"text": "hello"},)
        message = peer.next_message(lambda m: m["type"] == BROADCAST and m["data"]["packet"]["data"][0] == "chat")
        assert message == {"type": 3, "data": {"packet": {"type": 2, "data": ["chat", {"text": "hello"}]},
                                               "opts": {"rooms": ["room1"], "except": [], "flags": {}}},
                           "uid": uid, "nsp": "/"}
        raw = [r for r in peer.raw if '"chat"' in r][-1]
        assert list(json.loads(raw)) == ["type", "data", "uid", "nsp"]

        # the volatile flag travels (the receiving nodes apply it); local never does
        assert a.sio.call("volatile-to-room", {"room": "room1", "event": "v", "args": [1]}, timeout=5) is True
        assert b.next("v") == (1,)
        message = peer.next_message(lambda m: m["type"] == BROADCAST and m["data"]["packet"]["data"][0] == "v")
        assert message["data"]["opts"]["flags"] == {"volatile": True}
        assert a.sio.call("local-to-room", {"room": "room1", "event": "l", "args": []}, timeout=5) is True
        assert b.next("l") == ()
        assert all(m["data"]["packet"]["data"][0] != "l" for m in peer.drain() if m["type"] == BROADCAST)

        # binary and large: a NOTIFY with only {uid, type, attachmentId}, the row msgpack
        a.sio.emit("to-room", {"room": "room1", "event": "bin", "args": [b"\xde\xad\xbe\xef"]})
        message = peer.next_message(lambda m: m["type"] == BROADCAST and m["data"]["packet"]["data"][0] == "bin")
        assert message["data"]["packet"] == {"type": 2, "data": ["bin", b"\xde\xad\xbe\xef"]}
        assert message["nsp"] == "/" and message["uid"] == uid
        header = json.loads(next(r for r in reversed(peer.raw) if "attachmentId" in r))
        assert set(header) == {"uid", "type", "attachmentId"} and header["type"] == BROADCAST
        a.sio.emit("to-room", {"room": "room1", "event": "large", "args": ["z" * 8000]})
        message = peer.next_message(lambda m: m["type"] == BROADCAST and m["data"]["packet"]["data"][0] == "large")
        assert message["data"]["packet"]["data"] == ["large", "z" * 8000]
        assert len(peer.attachments_read) == 2

        # goodbye on SIGTERM
        node1.stop()
        assert peer.next_message(lambda m: m["type"] == ADAPTER_CLOSE)["uid"] == uid
    finally:
        peer.close()


def test_peer_as_a_node_is_counted_asked_and_answered(cluster):
    (node1,) = cluster.start(1)
    a = cluster.client(node1)
    a.next("welcome")
    a.sio.call("set-data", {"who": "a"}, timeout=5)
    peer = ClusterPeer(cluster.database_url)
    try:
        peer.publish(peer.message(INITIAL_HEARTBEAT))
        # answered at once with a HEARTBEAT; then the peer counts as a server
        assert peer.next_message(lambda m: m["type"] == HEARTBEAT)["nsp"] == "/"
        assert wait_until(lambda: a.sio.call("server-count", timeout=5) == 2)

        # fetchSockets asks the peer; its answer (a socket in Node's handshake shape) is merged
        result = {}

        def fetch():
            result["value"] = a.sio.call("fetch-details", timeout=10)
        import threading
        asker = threading.Thread(target=fetch)
        asker.start()
        request = peer.next_message(lambda m: m["type"] == FETCH_SOCKETS)
        assert request["data"]["opts"] == {"rooms": [], "except": [], "flags": {}}
        peer.publish(peer.message(FETCH_SOCKETS_RESPONSE, {"requestId": request["data"]["requestId"], "sockets": [{
            "id": "remote-1", "handshake": {"headers": {}, "time": "x", "address": "10.0.0.9", "xdomain": False,
                                            "secure": False, "issued": 1, "url": "/socket.io/", "query": {},
                                            "auth": {"token": "t"}},
            "rooms": ["remote-1", "lobby"], "data": {"who": "peer"}}]}))
        asker.join(10)
        ids = [d["id"] for d in result["value"]]
        assert ids == sorted([a.sid, "remote-1"])
        remote = next(d for d in result["value"] if d["id"] == "remote-1")
        assert remote == {"id": "remote-1", "rooms": ["lobby", "remote-1"], "data": {"who": "peer"},
                          "address": "10.0.0.9", "auth": {"token": "t"}}
        # and Duplex answers the peer's FETCH_SOCKETS with its socket in Node's shape
        peer.publish(peer.message(FETCH_SOCKETS, {"opts": {"rooms": [], "except": [], "flags": {}}, "requestId": "r1"}))
        answer = peer.next_message(lambda m: m["type"] == FETCH_SOCKETS_RESPONSE)
        assert answer["data"]["requestId"] == "r1"
        (socket,) = answer["data"]["sockets"]
        assert socket["id"] == a.sid and socket["data"] == {"who": "a"} and socket["rooms"] == [a.sid]
        assert set(socket["handshake"]) == {"headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"}
        assert socket["handshake"]["address"] == "127.0.0.1"

        # serverSideEmit from the peer reaches the node's listeners; with an ack, answered once
        peer.publish(peer.message(SERVER_SIDE_EMIT, {"packet": ["announce", "from peer"]}))
        assert a.next("announced") == ("from peer", "node1")
        peer.publish(peer.message(SERVER_SIDE_EMIT, {"requestId": "q1", "packet": ["whoami"]}))
        answer = peer.next_message(lambda m: m["type"] == SERVER_SIDE_EMIT_RESPONSE)
        assert answer["data"] == {"requestId": "q1", "packet": "node1"}

        # the peer leaves: dropped at once
        peer.publish(peer.message(ADAPTER_CLOSE))
        assert wait_until(lambda: a.sio.call("server-count", timeout=5) == 1, timeout=3)
    finally:
        peer.close()
