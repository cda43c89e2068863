"""The Socket.IO server mounted in each app, with python-socketio on each transport."""

from __future__ import annotations

import json
import queue
import time

import pytest
import socketio

from frameworks_http import exchange, request_head
from frameworks_support import MAX_HTTP_BUFFER, MAX_REQUEST_BODY


def connect(app, transports):
    sio = socketio.Client(reconnection=False)
    joined: queue.Queue = queue.Queue()
    sio.on("joined", lambda sid: joined.put(sid))
    sio.connect(app.url, transports=transports, wait_timeout=10)
    return sio, joined


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]], ids=["polling", "websocket"])
def test_echo_with_ack(app, transports):
    sio, _ = connect(app, transports)
    try:
        assert sio.transport() == transports[0]
        assert sio.call("echo", {"text": "héllo", "n": [1, 2, 3]}, timeout=5) == {"text": "héllo", "n": [1, 2, 3]}
        assert sio.call("echo", b"\x00\x01binary", timeout=5) == b"\x00\x01binary"
    finally:
        sio.disconnect()


def test_polling_upgrades_to_websocket(app):
    sio, _ = connect(app, ["polling", "websocket"])
    try:
        deadline = time.monotonic() + 10
        while sio.transport() != "websocket" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sio.transport() == "websocket"
        assert sio.call("echo", "after upgrade", timeout=5) == "after upgrade"
    finally:
        sio.disconnect()


def test_room_broadcast_across_transports(app):
    a, a_joined = connect(app, ["polling"])
    b, b_joined = connect(app, ["websocket"])
    c, c_joined = connect(app, ["polling", "websocket"])
    try:
        room = f"room-{app.port}"
        a.emit("join", room)
        assert a_joined.get(timeout=5) == a.get_sid()
        b.emit("join", room)
        assert a_joined.get(timeout=5) == b.get_sid()
        assert b_joined.get(timeout=5) == b.get_sid()
        with pytest.raises(queue.Empty):
            c_joined.get(timeout=0.5)  # not in the room
    finally:
        for client in (a, b, c):
            client.disconnect()


def test_polling_post_far_above_16_kb(app):
    # Vapor collects 16 KB bodies by default; the mounted route takes Engine.IO's limit.
    sio, _ = connect(app, ["polling"])
    try:
        text = "x" * (200 * 1024)
        assert sio.call("echo", text, timeout=10) == text
    finally:
        sio.disconnect()


def polling_handshake(app, path: str = "/socket.io/") -> str:
    status, headers, body = exchange(app.port, request_head("GET", f"{path}?EIO=4&transport=polling", app.port))
    assert status == 200, body
    assert body.startswith(b"0{")
    return json.loads(body[1:])["sid"]


@pytest.mark.parametrize("path", ["/socket.io/", "/socket.io"], ids=["trailing-slash", "no-trailing-slash"])
def test_polling_handshake_with_and_without_trailing_slash(app, path):
    handshake = polling_handshake(app, path)
    assert len(handshake) > 10


def post_polling_body(app, size: int) -> tuple[int, bytes]:
    sid = polling_handshake(app)
    body = b"4" + b"y" * (size - 1)
    head = request_head("POST", f"/socket.io/?EIO=4&transport=polling&sid={sid}", app.port,
                        {"Content-Type": "text/plain;charset=UTF-8", "Content-Length": str(len(body))})
    status, _, text = exchange(app.port, head, body)
    return status, text


def test_polling_payload_over_max_http_buffer_size_is_engine_ios_413(app):
    # Within the HTTP body limit, over Engine.IO's: its own answer, as standalone.
    assert post_polling_body(app, MAX_HTTP_BUFFER + 1) == (413, b"payload too large")


def test_polling_body_over_the_request_limit_is_duplexs_413(app):
    # The mounted server collects bodies up to its maxRequestBodySize (1 MiB, at least
    # maxHttpBufferSize) and answers beyond it as Duplex does standalone.
    assert post_polling_body(app, MAX_REQUEST_BODY + 1) == (413, f"request body over {MAX_REQUEST_BODY} bytes\n".encode())


def test_unknown_session_is_engine_io_error(app):
    status, _, body = exchange(app.port, request_head("GET", "/socket.io/?EIO=4&transport=polling&sid=nope", app.port))
    assert status == 400
    assert json.loads(body) == {"code": 1, "message": "Session ID unknown"}
