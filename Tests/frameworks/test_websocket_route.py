"""The Duplex echo WebSocket route mounted in each app, with Python websockets and Node
`ws`: Duplex's own handshake decision, compression and limits are in force, not the
framework's (both frameworks' WebSockets cap frames at 16 KiB by default; the route takes
messages up to 64 KiB and closes with 1009 beyond)."""

from __future__ import annotations

import json
import os
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
