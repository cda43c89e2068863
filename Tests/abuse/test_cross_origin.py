"""S1: cross-site WebSocket hijacking. `duplex chat` is same-origin by default: a page on
another site must not open the chat's WebSocket or a Socket.IO session in the visitor's
name. `--allow-origin ORIGIN` (repeatable) allows another origin, `--allow-origin '*'` any.
"""

from __future__ import annotations

import abuse_net

EVIL = "http://evil.example"
POLLING = "/socket.io/?EIO=4&transport=polling"
SOCKETIO_WS = "/socket.io/?EIO=4&transport=websocket"


def assert_refused_for_origin(response, what: str) -> None:
    abuse_net.assert_refused(response, what, "origin")


def test_chat_websocket_is_same_origin(chat):
    """Baseline: FAILS — Origin http://evil.example gets 101 Switching Protocols."""
    port = chat.port
    assert_refused_for_origin(abuse_net.ws_upgrade(port, "/", {"Origin": EVIL}), "upgrade from evil.example")
    assert_refused_for_origin(abuse_net.ws_upgrade(port, "/", {"Origin": f"http://127.0.0.1:{port + 1}"}),
                              "upgrade from another port of the host")
    assert abuse_net.ws_upgrade(port, "/", {"Origin": f"http://127.0.0.1:{port}"}).status == 101
    assert abuse_net.ws_upgrade(port, "/", {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"}).status == 101
    assert abuse_net.ws_upgrade(port, "/").status == 101, "no Origin (not a browser): accepted"


def test_socketio_is_same_origin(chat):
    """Baseline: FAILS — the polling handshake from Origin http://evil.example gets 200 with a session."""
    port = chat.port
    assert_refused_for_origin(abuse_net.http_get(port, POLLING, {"Origin": EVIL}), "polling handshake from evil.example")
    assert_refused_for_origin(abuse_net.ws_upgrade(port, SOCKETIO_WS, {"Origin": EVIL}), "Socket.IO WebSocket from evil.example")
    same = abuse_net.http_get(port, POLLING, {"Origin": f"http://127.0.0.1:{port}"})
    assert same.status == 200 and same.body.startswith(b"0{"), same
    assert abuse_net.http_get(port, POLLING).status == 200


def test_allow_origin_allows_that_origin_only(start_server):
    """Baseline: FAILS — `--allow-origin` is an unknown option (exit status 64)."""
    chat = start_server("chat", "--allow-origin", EVIL)
    port = chat.port
    assert abuse_net.ws_upgrade(port, "/", {"Origin": EVIL}).status == 101
    assert abuse_net.http_get(port, POLLING, {"Origin": EVIL}).status == 200
    assert abuse_net.ws_upgrade(port, "/", {"Origin": f"http://127.0.0.1:{port}"}).status == 101
    assert_refused_for_origin(abuse_net.ws_upgrade(port, "/", {"Origin": "http://other.example"}),
                              "upgrade from an origin not in --allow-origin")


def test_allow_origin_star_allows_any(start_server):
    """Baseline: FAILS — `--allow-origin` is an unknown option (exit status 64)."""
    chat = start_server("chat", "--allow-origin", "*")
    for origin in (EVIL, "http://other.example:8080", "null"):
        assert abuse_net.ws_upgrade(chat.port, "/", {"Origin": origin}).status == 101, origin
        assert abuse_net.http_get(chat.port, POLLING, {"Origin": origin}).status == 200, origin
