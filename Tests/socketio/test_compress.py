"""Socket.IO's `compress(false)`: with permessage-deflate negotiated, an event emitted with
compression off reaches the client as a plain frame (RSV1 clear), the same event without it
as a compressed one; to the socket itself and through a broadcast. A raw WebSocket client
reads the frame headers (a Socket.IO client library hides them)."""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "interop"))

import rawws  # noqa: E402
from socketio_support import BIN, ServerProcess  # noqa: E402

RSV1 = 0x4  # rawws' Frame.rsv holds the three bits RSV1..RSV3 as 0b100..0b001


@pytest.fixture(scope="module")
def deflate_server():
    process = ServerProcess("--deflate")
    yield process
    process.stop()


def inflate(payload: bytes) -> bytes:
    # RFC 7692 §7.2.2: the server takes no context over (shared mode), so each message
    # inflates on its own once the removed 0x00 0x00 0xff 0xff tail is put back.
    return zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")


def test_compress_false_sends_plain_frames_to_the_socket_and_in_broadcasts(deflate_server):
    ws = rawws.open_ws("127.0.0.1", deflate_server.port, "/socket.io/?EIO=4&transport=websocket",
                       headers={"Sec-WebSocket-Extensions": "permessage-deflate"})
    try:
        assert "permessage-deflate" in (ws.response.header("Sec-WebSocket-Extensions") or "")
        opening = ws.recv_frame()
        assert (inflate(opening.payload) if opening.rsv & RSV1 else opening.payload).startswith(b"0{")  # Engine.IO open
        ws.send_frame(rawws.OP_TEXT, b"40")
        events: dict[str, int] = {}
        ws.send_frame(rawws.OP_TEXT, b'421["compress-check"]')
        while len(events) < 4:
            frame = ws.recv_frame()
            text = inflate(frame.payload) if frame.rsv & RSV1 else frame.payload
            if text.startswith(b"42["):
                name, body = json.loads(text[2:])[:2]
                if name in ("plain-socket", "deflated-socket", "plain-room", "deflated-room"):
                    assert body == "compressible " * 40
                    events[name] = frame.rsv
            elif text == b"2":
                ws.send_frame(rawws.OP_TEXT, b"3")  # Engine.IO ping → pong
        assert events["plain-socket"] & RSV1 == 0, "socket.emit(…, compress: false): plain"
        assert events["plain-room"] & RSV1 == 0, "io.to(room).compress(false): plain"
        assert events["deflated-socket"] & RSV1, "socket.emit: compressed"
        assert events["deflated-room"] & RSV1, "io.to(room): compressed"
    finally:
        ws.close()
