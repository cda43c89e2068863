"""The app's own routes keep working next to the mounted Duplex endpoints."""

from __future__ import annotations

import urllib.error
import urllib.request

import socketio
import websockets.sync.client as ws_client

from frameworks_http import exchange, request_head
from frameworks_support import HELLO

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str) -> tuple[int, str]:
    try:
        with _opener.open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_hello_answers(app):
    assert get(f"{app.url}/hello") == (200, HELLO[app.framework])


def test_unknown_path_is_the_frameworks_404(app):
    status, _ = get(f"{app.url}/nowhere")
    assert status == 404


def test_hello_answers_while_duplex_connections_are_open(app):
    sio = socketio.Client(reconnection=False)
    sio.connect(app.url, transports=["polling"], wait_timeout=10)
    try:
        with ws_client.connect(f"{app.ws_url}/echo", open_timeout=10) as ws:
            for i in range(20):
                assert get(f"{app.url}/hello") == (200, HELLO[app.framework])
                ws.send(f"ping {i}")
                assert ws.recv(timeout=5) == f"ping {i}"
                assert sio.call("echo", i, timeout=5) == i
    finally:
        sio.disconnect()


def test_an_upgrade_header_on_the_apps_route_reaches_the_app(app):
    """Regression: NIO's upgrade handler swallows the head of a request it tried to upgrade;
    on Hummingbird such a request to a non-Duplex path got no answer at all."""
    status, _, body = exchange(app.port, request_head("GET", "/hello", app.port, {
        "Upgrade": "websocket", "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}))
    assert (status, body.decode()) == (200, HELLO[app.framework])
