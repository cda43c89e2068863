"""The Duplex echo WebSocket route mounted in each app, with Python websockets and Node
`ws`: Duplex's own handshake decision, compression and limits are in force, not the
framework's (both frameworks' WebSockets cap frames at 16 KiB by default; the route takes
messages up to 64 KiB and closes with 1009 beyond)."""

from __future__ import annotations

import base64
import json
import os
import socket
import shutil
import subprocess
from pathlib import Path

import pytest
import websockets.sync.client as ws_client
from websockets.exceptions import ConnectionClosed

from frameworks_http import exchange, request_head
from frameworks_support import ECHO_MAX_MESSAGE

NODE_SCRIPT = Path(__file__).resolve().parent / "node" / "ws-route.js"
NODE_PATH = "/usr/share/nodejs"


def test_echo_text_and_binary(app):
    with ws_client.connect(f"{app.ws_url}/echo", compression=None, open_timeout=10) as ws:
        ws.send("héllo")
        assert ws.recv(timeout=5) == "héllo"
        ws.send(bytes(range(256)))
        assert ws.recv(timeout=5) == bytes(range(256))


def test_message_between_16_kib_and_the_route_limit_is_echoed(app):
    with ws_client.connect(f"{app.ws_url}/echo", compression=None, max_size=None, open_timeout=10) as ws:
        payload = os.urandom(60 * 1024)
        ws.send(payload)
        assert ws.recv(timeout=5) == payload


def test_permessage_deflate_is_negotiated_by_duplex(app):
    with ws_client.connect(f"{app.ws_url}/echo", compression="deflate", max_size=None, open_timeout=10) as ws:
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert extensions.startswith("permessage-deflate")
        text = "compressible " * 4000  # 52 KB, far less on the wire
        ws.send(text)
        assert ws.recv(timeout=5) == text


def test_message_over_the_route_limit_closes_1009(app):
    with ws_client.connect(f"{app.ws_url}/echo", compression=None, open_timeout=10) as ws:
        ws.send(b"z" * (ECHO_MAX_MESSAGE + 1))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.protocol.close_rcvd is not None
        assert ws.protocol.close_rcvd.code == 1009


def test_refused_handshake_gets_duplexs_answer(app):
    head = request_head("GET", "/echo", app.port, {
        "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "8",
    })
    status, headers, body = exchange(app.port, head)
    assert status == 426
    assert headers.get("sec-websocket-version") == "13"
    assert body == b"unsupported Sec-WebSocket-Version 8 (supported: 13)\n"


def test_foreign_origin_is_refused_403(app):
    head = request_head("GET", "/echo", app.port, {
        "Upgrade": "websocket", "Connection": "Upgrade", "Origin": "http://evil.example",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
    })
    status, _, _ = exchange(app.port, head)
    assert status == 403


def run_node(app, scenario: str) -> dict:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None or not Path(NODE_PATH, "ws").is_dir():
        pytest.fail("node or the node-ws package is missing (run scripts/install-test-deps)", pytrace=False)
    proc = subprocess.run([node, str(NODE_SCRIPT), f"{app.ws_url}/echo", scenario], capture_output=True, text=True,
                          timeout=40, env=dict(os.environ, NODE_PATH=NODE_PATH))
    assert proc.returncode == 0, f"node exited {proc.returncode}: {proc.stderr}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "error" not in result, f"node ws client: {result['error']}"
    return result


def test_node_ws_echo_with_permessage_deflate(app):
    result = run_node(app, "deflate_echo")
    assert result["extensions"].startswith("permessage-deflate")
    assert result["received_sha"] == result["sent_sha"]
    assert result["received_length"] == 40_000


def test_node_ws_over_limit_closes_1009(app):
    result = run_node(app, "too_big")
    assert result["close_code"] == 1009


def masked_binary_frame(payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    header = b"\x82" + bytes([0x80 | 126]) + len(payload).to_bytes(2, "big") + mask
    return header + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_a_client_that_never_reads_is_dropped_at_the_routes_outbound_limit(app):
    """Duplex's backpressure, not the framework's: the echo route buffers at most 1 MiB
    (maxBufferedAmount) for a peer that does not read, then drops it (the app stays fine)."""
    sock = socket.create_connection(("127.0.0.1", app.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(request_head("GET", "/echo", app.port, {
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}))
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # and never read again
    frame = masked_binary_frame(os.urandom(60 * 1024))
    sent = 0
    dropped = False
    while sent < 64 * 1024 * 1024:
        try:
            sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
            break
        sent += len(frame)
    sock.close()
    assert dropped, f"the server still took data after {sent} bytes it could not send back"
    assert sent < 32 * 1024 * 1024, f"dropped only after {sent} bytes"
    with ws_client.connect(f"{app.ws_url}/echo", open_timeout=10) as ws:
        ws.send("still here")
        assert ws.recv(timeout=5) == "still here"
