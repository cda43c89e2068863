"""A host framework's graceful shutdown (SIGTERM) reaches Duplex's WebSockets: each gets
close 1001 and the app exits promptly instead of waiting for its clients to leave."""

from __future__ import annotations

import signal
import time

import pytest
import websockets.sync.client as ws_client
from websockets.exceptions import ConnectionClosed

from frameworks_support import AppProcess


@pytest.mark.parametrize("framework", ["hummingbird", "vapor"])
def test_sigterm_closes_websockets_with_1001(framework):
    app = AppProcess(framework)
    try:
        with ws_client.connect(f"{app.ws_url}/echo", open_timeout=10) as ws:
            ws.send("before shutdown")
            assert ws.recv(timeout=5) == "before shutdown"
            started = time.monotonic()
            app.proc.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            assert ws.protocol.close_rcvd is not None, "no close frame from the server"
            assert ws.protocol.close_rcvd.code == 1001
        assert app.proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
    finally:
        app.stop()
