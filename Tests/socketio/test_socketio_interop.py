"""python-socketio 5.x clients against the Duplex Socket.IO server (`--interop` mode).

Each test names the feature it checks; the server's handlers are documented in
Sources/SocketIOConformance/InteropHandlers.swift.
"""

from __future__ import annotations

import json
import time

import pytest
import socketio
import websocket  # websocket-client

from socketio_support import PING_INTERVAL, PING_TIMEOUT, Recorder, wait_until

pytestmark = pytest.mark.timeout(60)

NESTED = {"a": [1, 2.5, {"b": None, "c": "héllo ✓"}], "t": True, "f": False, "n": None, "deep": [[[]], {}]}


# --- transports ---------------------------------------------------------------------

def test_polling_only(clients):
    c = clients(transports=["polling"])
    (welcome,) = c.next("welcome")
    assert welcome["transport"] == "polling" and welcome["namespace"] == "/"
    assert welcome["id"] == c.sid
    c.sio.emit("echo", ["polling", 1])
    assert c.next("echo") == (["polling", 1],)
    assert c.sio.transport() == "polling"
    assert c.sio.call("transport", timeout=5) == "polling"


def test_polling_binary_round_trip(clients):
    c = clients(transports=["polling"])
    c.next("welcome")
    c.sio.emit("echo", (b"\x00\x01\xfe\xff", {"bin": b"abc"}))
    args = c.next("echo")
    assert args == (b"\x00\x01\xfe\xff", {"bin": b"abc"})


def test_websocket_only(clients):
    c = clients(transports=["websocket"])
    (welcome,) = c.next("welcome")
    assert welcome["transport"] == "websocket"
    c.sio.emit("echo", "ws")
    assert c.next("echo") == ("ws",)
    assert c.sio.call("transport", timeout=5) == "websocket"


def test_polling_upgrades_to_websocket(clients):
    c = clients()  # default: polling first, then the upgrade
    c.next("welcome")
    # the session started on polling (its handshake offered the upgrade) ...
    assert c.sio.eio.upgrades == ["websocket"]
    # ... and moved to the WebSocket
    assert wait_until(lambda: c.sio.transport() == "websocket"), "client did not upgrade"
    assert wait_until(lambda: c.sio.call("transport", timeout=5) == "websocket")
    for i in range(20):
        c.sio.emit("echo", i)
    assert [c.next("echo")[0] for _ in range(20)] == list(range(20))


# --- namespaces ---------------------------------------------------------------------

def test_main_and_custom_namespaces(clients):
    c = clients(namespaces=["/", "/custom"], transports=["websocket"])
    (main,) = c.next("welcome")
    (custom,) = c.next("welcome", "/custom")
    assert main["namespace"] == "/" and custom["namespace"] == "/custom"
    assert main["id"] != custom["id"]
    c.sio.emit("echo", "to custom", namespace="/custom")
    assert c.next("echo", "/custom") == ("to custom",)
    assert c.nothing("echo", "/", wait=0.3)


def test_dynamic_namespace(clients):
    c = clients(namespaces=["/dyn-42"], transports=["websocket"])
    (welcome,) = c.next("welcome", "/dyn-42")
    assert welcome["namespace"] == "/dyn-42"


def test_unknown_namespace_is_refused(server):
    c = Recorder(server.url, namespaces=["/nope"], connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        c.sio.connect(server.url, namespaces=["/nope"], transports=["websocket"], wait_timeout=5)
    namespace, data = c.connect_errors.get(timeout=5)
    assert namespace == "/nope"
    assert "Invalid namespace" in json.dumps(data)
    c.close()


# --- middleware and auth ------------------------------------------------------------

@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_auth_accepted(clients, transport):
    c = clients(transports=[transport], auth={"token": "good", "user": {"name": "ada"}})
    (welcome,) = c.next("welcome")
    assert welcome["auth"] == {"token": "good", "user": {"name": "ada"}}


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_auth_rejected_by_middleware(server, transport):
    c = Recorder(server.url, connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        c.sio.connect(server.url, transports=[transport], auth={"token": "reject"}, wait_timeout=5)
    namespace, data = c.connect_errors.get(timeout=5)
    assert namespace == "/"
    text = json.dumps(data)
    assert "unauthorized" in text and "bad token" in text
    c.close()


# --- events and acknowledgements ----------------------------------------------------

@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_nested_json_and_binary_both_ways(clients, transport):
    c = clients(transports=[transport])
    c.next("welcome")
    payload = {"json": NESTED, "blob": b"\x00\x10\x20", "list": [b"one", {"two": b"\xff" * 300}]}
    c.sio.emit("echo", (payload, b"tail", 42))
    assert c.next("echo") == (payload, b"tail", 42)


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_client_to_server_ack(clients, transport):
    c = clients(transports=[transport])
    c.next("welcome")
    assert c.sio.call("ack-echo", NESTED, timeout=5) == NESTED
    assert c.sio.call("ack-echo", (1, b"\x01\x02", "x"), timeout=5) == (1, b"\x01\x02", "x")


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_server_to_client_ack(clients, transport):
    c = clients(transports=[transport])
    c.next("welcome")
    c.sio.on("question", lambda a, b: {"sum": a + b, "bin": b"ok"})
    c.sio.emit("ask-client", {"event": "question", "args": [2, 3], "timeout": 3000})
    (result,) = c.next("asked")
    assert result == {"ok": True, "reply": [{"sum": 5, "bin": b"ok"}]}


def test_server_to_client_ack_timeout(clients):
    c = clients(transports=["websocket"])
    c.next("welcome")

    def slow(*_):
        time.sleep(0.8)  # longer than the 300 ms the server waits, shorter than pingTimeout
        return "late"

    c.sio.on("slow", slow)
    c.sio.emit("ask-client", {"event": "slow", "args": [], "timeout": 300})
    (result,) = c.next("asked")
    assert result["ok"] is False and "timed out" in result["error"]


def test_client_ack_timeout_when_server_never_answers(clients):
    c = clients(transports=["websocket"])
    c.next("welcome")
    with pytest.raises(socketio.exceptions.TimeoutError):
        c.sio.call("no-such-event", 1, timeout=0.5)
    # the connection is still fine
    assert c.sio.call("ack-echo", "still here", timeout=5) == "still here"


# --- rooms and broadcasts -----------------------------------------------------------

def test_rooms_and_broadcast_across_clients(clients):
    a = clients(transports=["websocket"])
    b = clients(transports=["polling"])
    c = clients()
    for x in (a, b, c):
        x.next("welcome")
    assert a.sio.call("join", "red", timeout=5) == sorted([a.sid, "red"])
    assert b.sio.call("join", "red", timeout=5) == sorted([b.sid, "red"])
    assert sorted(c.sio.call("rooms", timeout=5)) == [c.sid]

    # to(room): everyone in the room, the sender too
    c.sio.emit("to-room", {"room": "red", "event": "news", "args": ["hi", {"n": 1}]})
    assert a.next("news") == ("hi", {"n": 1})
    assert b.next("news") == ("hi", {"n": 1})
    assert c.nothing("news")

    # socket.broadcast: everyone but the sender
    b.sio.emit("broadcast", {"event": "shout", "args": [b"bin!"]})
    assert a.next("shout") == (b"bin!",)
    assert c.next("shout") == (b"bin!",)
    assert b.nothing("shout", wait=0.3)

    # except(room)
    a.sio.emit("except-room", {"room": "red", "event": "outside", "args": []})
    assert c.next("outside") == ()
    assert a.nothing("outside", wait=0.2) and b.nothing("outside", wait=0.2)

    # a socket's own id is a room
    a.sio.emit("to-room", {"room": c.sid, "event": "direct", "args": ["psst"]})
    assert c.next("direct") == ("psst",)
    assert b.nothing("direct", wait=0.2)

    assert b.sio.call("leave", "red", timeout=5) == [b.sid]
    c.sio.emit("to-room", {"room": "red", "event": "news", "args": ["again"]})
    assert a.next("news") == ("again",)
    assert b.nothing("news")


def test_fetch_sockets_join_leave_and_disconnect(clients):
    a = clients(transports=["websocket"])
    b = clients(transports=["polling"])
    c = clients(transports=["websocket"])
    for x in (a, b, c):
        x.next("welcome")
    a.sio.call("join", "team", timeout=5)
    b.sio.call("join", "team", timeout=5)
    assert c.sio.call("fetch-sockets", "team", timeout=5) == sorted([a.sid, b.sid])
    assert set(c.sio.call("fetch-sockets", timeout=5)) >= {a.sid, b.sid, c.sid}

    assert c.sio.call("sockets-join", {"room": "team", "target": "blue"}, timeout=5) is True
    assert c.sio.call("fetch-sockets", "blue", timeout=5) == sorted([a.sid, b.sid])
    assert sorted(a.sio.call("rooms", timeout=5)) == sorted([a.sid, "team", "blue"])
    assert c.sio.call("sockets-leave", {"room": "team", "target": "blue"}, timeout=5) is True
    assert c.sio.call("fetch-sockets", "blue", timeout=5) == []

    c.sio.emit("disconnect-room", "team")
    assert a.disconnect_reasons.get(timeout=5) == ("/", socketio.Client.reason.SERVER_DISCONNECT)
    assert b.disconnect_reasons.get(timeout=5) == ("/", socketio.Client.reason.SERVER_DISCONNECT)
    assert c.sio.call("fetch-sockets", "team", timeout=5) == []


def test_broadcast_with_acks(clients):
    a = clients(transports=["websocket"])
    b = clients(transports=["polling"])
    c = clients(transports=["websocket"])
    for x in (a, b, c):
        x.next("welcome")
    a.sio.on("poll", lambda: "yes from a")
    b.sio.on("poll", lambda: "yes from b")
    a.sio.call("join", "green", timeout=5)
    b.sio.call("join", "green", timeout=5)
    responses = c.sio.call("ack-all", {"room": "green", "event": "poll", "timeout": 3000}, timeout=10)
    assert sorted(r[0] for r in responses) == ["yes from a", "yes from b"]

    # one recipient never answers (no handler on the client returns None, but python
    # always acks): a client that is not connected to the room is not counted; an empty
    # room completes at once
    assert c.sio.call("ack-all", {"room": "nobody", "event": "poll", "timeout": 3000}, timeout=10) == []


# --- disconnect reasons -------------------------------------------------------------

def test_disconnect_reasons(clients, server):
    observer = clients(transports=["websocket"])
    observer.next("welcome")
    assert observer.sio.call("observe", timeout=5) is True

    # the client leaves: client namespace disconnect
    leaving = clients(transports=["websocket"], namespaces=["/", "/custom"])
    leaving.next("welcome")
    sid = leaving.sid
    custom_sid = leaving.sio.get_sid("/custom")
    leaving.sio.disconnect()
    reasons = {}
    for _ in range(2):
        (info,) = observer.next("disconnected")
        reasons[info["id"]] = (info["namespace"], info["reason"])
    # python-socketio queues a DISCONNECT per namespace, then closes its WebSocket at once:
    # a DISCONNECT still queued is lost, and that namespace sees the transport close
    assert reasons[sid][0] == "/" and reasons[custom_sid][0] == "/custom"
    for _, reason in reasons.values():
        assert reason in ("client namespace disconnect", "transport close")

    # a DISCONNECT that arrives: client namespace disconnect, the connection stays
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket", timeout=5)
    ws.recv()
    ws.send("40/custom,")
    custom_raw = json.loads(ws.recv()[len("40/custom,"):])["sid"]
    assert ws.recv().startswith('42/custom,["welcome"')
    ws.send("41/custom,")
    (info,) = observer.next("disconnected")
    assert info == {"id": custom_raw, "namespace": "/custom", "reason": "client namespace disconnect"}
    ws.send("40")
    main_raw = json.loads(ws.recv()[2:])["sid"]
    assert ws.recv().startswith('42["welcome"')
    ws.close()
    (info,) = observer.next("disconnected")
    assert info == {"id": main_raw, "namespace": "/", "reason": "transport close"}

    # the server disconnects it: server namespace disconnect / io server disconnect
    kicked = clients(transports=["polling"])
    kicked.next("welcome")
    kicked.sio.emit("disconnect-me")
    assert kicked.disconnect_reasons.get(timeout=5) == ("/", socketio.Client.reason.SERVER_DISCONNECT)
    (info,) = observer.next("disconnected")
    assert info == {"id": kicked.sid or info["id"], "namespace": "/", "reason": "server namespace disconnect"}

    # the transport goes away: transport close
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket", timeout=5)
    assert ws.recv().startswith("0{")
    ws.send("40")
    connect = ws.recv()
    assert connect.startswith("40{")
    raw_sid = json.loads(connect[2:])["sid"]
    assert ws.recv().startswith('42["welcome"')
    ws.close()
    (info,) = observer.next("disconnected")
    assert info == {"id": raw_sid, "namespace": "/", "reason": "transport close"}


def test_heartbeat_timeout_of_a_silent_client(clients, server):
    observer = clients(transports=["websocket"])
    observer.next("welcome")
    observer.sio.call("observe", timeout=5)

    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket", timeout=10)
    handshake = json.loads(ws.recv()[1:])
    assert handshake["pingInterval"] == PING_INTERVAL and handshake["pingTimeout"] == PING_TIMEOUT
    assert handshake["upgrades"] == []
    ws.send("40")
    raw_sid = json.loads(ws.recv()[2:])["sid"]
    started = time.monotonic()
    # read but never answer the PING
    frames = []
    try:
        while True:
            frames.append(ws.recv())
    except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
        pass
    elapsed = time.monotonic() - started
    assert "2" in frames, frames
    while True:  # (skip sockets of earlier tests)
        (info,) = observer.next("disconnected", timeout=5)
        if info["id"] == raw_sid:
            break
    assert info == {"id": raw_sid, "namespace": "/", "reason": "ping timeout"}
    limit = (PING_INTERVAL + PING_TIMEOUT) / 1000
    assert limit - 0.3 < elapsed < limit + 1.0, elapsed


def test_answering_client_stays_connected(clients):
    c = clients(transports=["polling"])
    c.next("welcome")
    time.sleep((PING_INTERVAL + PING_TIMEOUT) / 1000 * 1.5)
    assert c.sio.connected
    assert c.sio.call("ack-echo", "alive", timeout=5) == "alive"
