"""Connection state recovery on one node, with the official Socket.IO JavaScript client
(v4.8.1) in Chromium against `duplex-socketio-conformance --interop --recovery`: the server
drops the client's transport, events are emitted meanwhile by a python-socketio client, and
the JavaScript client must come back with `socket.recovered`, the same id, and every event
it missed, once, in order, rooms and exceptions respected."""

from __future__ import annotations

import os

import pytest
import socketio

import duplex_process
from recovery_browser import BrowserClients
from socketio_support import ARTIFACT_DIR, BIN, wait_until
from duplex_process import free_port

# The client waits this long before reconnecting: the window in which events are missed.
RECONNECT_DELAY_MS = 1500


def start_server(*extra: str):
    if not os.path.exists(BIN):
        pytest.fail(f"{BIN} not built (swift build --product duplex-socketio-conformance)")
    port = free_port()
    proc = duplex_process.start(
        [BIN, "--interop", "--recovery", "--port", str(port), "--ping-interval", "1000", "--ping-timeout", "1000",
         *extra],
        "duplex-socketio-conformance", ARTIFACT_DIR / f"recovery-{port}.log",
        duplex_process.answers_http(f"http://127.0.0.1:{port}/healthz"), timeout=20)
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser():
    clients = BrowserClients()
    yield clients
    clients.close()


@pytest.fixture(scope="module")
def recovering_server():
    proc, url = start_server()
    yield url
    duplex_process.stop(proc)


@pytest.fixture
def controller(recovering_server):
    sio = socketio.Client(reconnection=False)
    sio.connect(recovering_server, transports=["websocket"], wait_timeout=5)
    yield sio
    sio.disconnect()


def payloads(events, name):
    """The first arguments of the events `name` (the last argument is the offset)."""
    return [event["args"][0] for event in events if event["name"] == name]


def test_the_official_client_recovers_its_socket_and_every_missed_event(browser, recovering_server, controller):
    client = browser.client(recovering_server, reconnectionDelay=RECONNECT_DELAY_MS, randomizationFactor=0)
    client.wait_for("connect")
    first = client.connects()[0]
    assert first["recovered"] is False
    assert client.emit_with_ack("join", "r") == sorted([first["id"], "r"])
    # An event first: the client needs an offset to recover from.
    assert controller.call("emit-many", {"rooms": ["r"], "event": "warm", "count": 1}, timeout=10) is True
    client.wait_for_event("warm")
    warm = client.events()[-1]
    assert isinstance(warm["args"][-1], str), f"the offset is the last argument: {warm}"

    client.emit("drop-transport")
    client.wait_for("disconnect")
    mark = len(client.log())
    assert controller.call("emit-many", {"rooms": ["r"], "event": "missed", "count": 200}, timeout=10)
    assert controller.call("emit-many", {"rooms": ["elsewhere"], "event": "not-for-it", "count": 5}, timeout=10)
    assert controller.call("emit-many", {"except": ["r"], "event": "not-for-it", "count": 5}, timeout=10)
    assert controller.call("emit-many", {"rooms": ["r"], "except": [first["id"]], "event": "not-for-it", "count": 5},
                           timeout=10)
    assert controller.call("emit-many", {"event": "everyone", "count": 10}, timeout=10)
    assert client.connects() == [first], "the test's events went out while the client was away"

    client.wait_for("connect", count=2)
    second = client.connects()[1]
    assert second["recovered"] is True
    assert second["id"] == first["id"]
    state = client.socket_state()
    assert state["recovered"] is True and state["id"] == first["id"]

    after = client.events(after=mark)
    names = [event["name"] for event in after]
    assert "not-for-it" not in names
    assert payloads(after, "missed") == list(range(200)), "every missed event, once, in order"
    assert payloads(after, "everyone") == list(range(10))
    # In the order they were emitted; then the connection handler's own `welcome` (it runs
    # for a recovered socket too, and its emits follow the CONNECT answer).
    assert names == ["missed"] * 200 + ["everyone"] * 10 + ["welcome"], names
    offsets = [event["args"][-1] for event in after]
    assert len(set(offsets)) == len(offsets)

    # Back in its rooms: live events reach it again, and its id room too.
    assert controller.call("emit-many", {"rooms": ["r"], "event": "live", "count": 1}, timeout=10)
    client.wait_for_event("live")
    assert client.emit_with_ack("rooms") == sorted([first["id"], "r"])


def test_a_client_that_left_on_purpose_gets_a_new_socket(browser, recovering_server, controller):
    client = browser.client(recovering_server)
    client.wait_for("connect")
    first = client.connects()[0]
    controller.call("emit-many", {"event": "tick", "count": 1}, timeout=10)
    client.wait_for_event("tick")
    client.disconnect()  # `client namespace disconnect`: no session is kept
    client.wait_for("disconnect")
    client.connect()  # the client presents its pid and offset again
    client.wait_for("connect", count=2)
    second = client.connects()[1]
    assert second["recovered"] is False
    assert second["id"] != first["id"]


def test_after_max_disconnection_duration_the_client_gets_a_new_socket(browser):
    proc, url = start_server("--recovery-max-disconnection", "300")
    try:
        client = browser.client(url, reconnectionDelay=RECONNECT_DELAY_MS, randomizationFactor=0)
        client.wait_for("connect")
        first = client.connects()[0]
        client.wait_for_event("welcome")  # an event with an offset
        client.emit("drop-transport")
        client.wait_for("connect", count=2)
        second = client.connects()[1]
        assert second["recovered"] is False
        assert second["id"] != first["id"]
    finally:
        duplex_process.stop(proc)
