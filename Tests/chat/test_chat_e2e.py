"""`duplex chat` end to end with real WebSocket clients (Python websockets)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from chat_client import ChatClient
from websockets.asyncio.client import connect

pytestmark = pytest.mark.timeout(60)


Client = ChatClient


def run(coro):
    return asyncio.run(coro)


def test_two_clients_see_enter_message_leave_in_order_with_names(chat):
    async def scenario():
        a = await Client.open(chat.url())
        b = await Client.open(chat.url())
        await a.ws.send("hello, I am A")
        await b.until(lambda e: e["type"] == 2)
        await b.ws.send('{"cmd":"say","text":"中文 and emoji 🎉"}')
        await a.until(lambda e: e["type"] == 2 and e["user"] == "User 2")
        await a.ws.close()
        await b.until(lambda e: e["type"] == 1)
        assert b.seen(0, 1, 2) == ["User 2 entered", "User 1: hello, I am A", "User 2: 中文 and emoji 🎉", "User 1 left"]
        assert a.seen(0, 2) == ["User 1 entered", "User 2 entered", "User 1: hello, I am A", "User 2: 中文 and emoji 🎉"]
        for envelope in b.inbox:
            assert re.fullmatch(r"\d\d:\d\d:\d\d", envelope["time"]), envelope
        # Presence follows every enter and leave; the last one lists only B.
        await b.until(lambda e: e["type"] == 4 and e["online"] == ["User 2"])
        await b.ws.close()

    run(scenario())


def test_other_room_sees_nothing(chat):
    async def scenario():
        a = await Client.open(chat.url("?room=general"))
        other = await Client.open(chat.url("?room=random"))
        b = await Client.open(chat.url("?room=general"))
        await a.ws.send("general only")
        await b.until(lambda e: e["type"] == 2)
        await b.ws.close()
        await a.until(lambda e: e["type"] == 1)
        # A round trip in "random" proves everything sent before it has arrived.
        await other.ws.send("marker")
        await other.until(lambda e: e["type"] == 2 and e["text"] == "marker")
        assert other.seen(0, 1, 2) == ["User 2 entered", "User 2: marker"]
        assert all(e.get("room") in (None, "random") for e in other.inbox)
        await a.ws.close()
        await other.ws.close()

    run(scenario())


def test_history_on_join_survives_a_restart(chat_factory, tmp_path):
    db = str(tmp_path / "chat.sqlite")
    server = chat_factory("--db", db)

    async def write():
        a = await Client.open(server.url("?room=history"))
        for i in range(3):
            await a.ws.send(f"message {i}")
            await a.until(lambda e, i=i: e["type"] == 2 and e["text"] == f"message {i}")
        await a.ws.close()

    run(write())
    assert server.stop() == 0
    server.start()

    async def read():
        late = await Client.open(server.url("?room=history"))
        await late.until(lambda e: e["type"] == 0)
        history = [e for e in late.inbox if e.get("history")]
        assert [e["text"] for e in history] == ["message 0", "message 1", "message 2"]
        assert [e["msg"] for e in history] == [f"User 1: message {i}" for i in range(3)]
        ids = [e["id"] for e in history]
        assert ids == sorted(ids)
        # History comes after the welcome and before the joiner's enter line.
        kinds = [e["type"] for e in late.inbox]
        assert kinds[0] == 3 and kinds.index(0) > max(i for i, e in enumerate(late.inbox) if e.get("history"))
        await late.ws.close()

    run(read())


def test_errors_for_oversize_rate_and_bad_nickname(chat):
    async def scenario():
        a = await Client.open(chat.url())
        watcher = await Client.open(chat.url())
        await a.ws.send("x" * 2001)
        assert (await a.until(lambda e: e["type"] == 6))["code"] == "too_long"
        await a.ws.send('{"cmd":"nick","name":"bad\\u0001name"}')
        assert (await a.until(lambda e: e["type"] == 6))["code"] == "bad_nickname"
        await a.ws.send('{"cmd":"nick","name":"' + "n" * 40 + '"}')
        assert (await a.until(lambda e: e["type"] == 6))["code"] == "bad_nickname"
        await a.ws.send("{oops")
        assert (await a.until(lambda e: e["type"] == 6))["code"] == "bad_command"
        # A valid nickname goes through and is announced.
        await a.ws.send('{"cmd":"nick","name":"Alice 🌸"}')
        rename = await watcher.until(lambda e: e["type"] == 5)
        assert rename["msg"] == "User 1 is now Alice 🌸"
        # Five frames above count against the rate limit of 20 per 5 s: 15 more pass.
        for i in range(20):
            await a.ws.send(f"burst {i}")
        error = await a.until(lambda e: e["type"] == 6)
        assert error["code"] == "rate_limited" and "slow down" in error["msg"]
        # The hub handles frames in order, so once the watcher's own marker is back,
        # everything A's burst caused has been delivered.
        await watcher.ws.send("marker")
        await watcher.until(lambda e: e["type"] == 2 and e["text"] == "marker")
        texts = [e["text"] for e in watcher.inbox if e["type"] == 2]
        assert texts == [f"burst {i}" for i in range(15)] + ["marker"], "messages over the limit are neither stored nor broadcast"
        assert not [e for e in watcher.inbox if e["type"] == 6], "errors go to the sender only"
        assert a.ws.state.name == "OPEN", "an error never disconnects"
        await a.ws.close()
        await watcher.ws.close()

    run(scenario())


def test_sigterm_closes_clients_with_1001(chat):
    async def scenario():
        a = await Client.open(chat.url())
        chat.proc.terminate()
        with pytest.raises(Exception):
            while True:
                await a.ws.recv()
        assert a.ws.close_code == 1001

    run(scenario())
    assert chat.proc.wait(10) == 0


def test_page_is_served_on_the_same_port(chat):
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{chat.port}/", timeout=5) as response:
        body = response.read().decode()
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        csp = response.headers["Content-Security-Policy"]
    assert "<html" in body.lower() and '<script src="/chat.js">' in body
    # The page runs only its own script, and no other site may frame it.
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    with urllib.request.urlopen(f"http://127.0.0.1:{chat.port}/chat.js", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/javascript")
        assert "WebSocket" in response.read().decode()
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"http://127.0.0.1:{chat.port}/nope", timeout=5)
    assert error.value.code == 404


def test_an_oversized_frame_is_refused_at_its_header(chat):
    """The chat's WebSockets have their own limit (the longest message a chat command can
    be on the wire): a frame past it closes with 1009 as soon as its header arrives,
    instead of being read, decoded and refused afterwards. A message a little over the
    2,000-character limit is refused as a chat error and the connection stays."""
    import socket
    import struct
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "interop"))
    import rawws

    async def slightly_long():
        a = await Client.open(chat.url())
        await a.ws.send("x" * 2500)
        refusal = await a.until(lambda e: e["type"] == 6)
        assert "too long" in refusal["msg"].lower(), refusal
        await a.ws.send("still here")
        await a.until(lambda e: e["type"] == 2 and e["msg"].endswith("still here"))
        await a.ws.close()

    run(slightly_long())

    # A 16 MiB frame announced by its header alone: the server answers 1009 without
    # waiting for (or reserving) the payload.
    with socket.create_connection(("127.0.0.1", chat.port), timeout=10) as sock:
        request, _ = rawws.build_request("/", host=f"127.0.0.1:{chat.port}")
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101"), head
        sock.sendall(bytes([0x81, 0xFF]) + struct.pack("!Q", 16 << 20) + b"\x00\x00\x00\x00")
        data = head.split(b"\r\n\r\n", 1)[1]
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        close_at = data.rfind(b"\x88")
        assert close_at >= 0, data[-200:]
        assert struct.unpack("!H", data[close_at + 2:close_at + 4])[0] == 1009, data[close_at:]


def _raw_websocket(port: int, path: str):
    import socket
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "interop"))
    import rawws

    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    request, _ = rawws.build_request(path, host=f"127.0.0.1:{port}")
    sock.sendall(request)
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, head.split(b"\r\n\r\n", 1)[1]


def _read_until_closed(sock, data: bytes = b"", seconds: float = 5) -> bytes:
    import time

    sock.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except OSError:
            continue
        if not chunk:
            break
        data += chunk
    return data


def test_socketio_in_the_chat_is_bounded_as_standalone():
    """Socket.IO mounted in `duplex chat` keeps its own WebSocket settings: a message over
    maxHttpBufferSize (1 MB) is refused at its frame header with 1009 (it used to be read
    in full, then closed with 1000), and its WebSockets get Engine.IO's heartbeat only, no
    WebSocket pings (the chat's own WebSockets do get them)."""
    import struct
    import subprocess
    import sys
    import time
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import duplex_process

    port = duplex_process.free_port()
    log = duplex_process.ARTIFACT_ROOT / "chat" / f"chat-mounted-{port}.log"
    proc = duplex_process.start([duplex_process.DUPLEX_BIN, "chat", "--memory", "--port", str(port), "--ping-interval", "0.2"],
                                "duplex chat", log, duplex_process.accepts_tcp(port))
    try:
        # 1009 at the header of a 2 MB frame, nothing else sent.
        sock, rest = _raw_websocket(port, "/socket.io/?EIO=4&transport=websocket")
        with sock:
            sock.sendall(bytes([0x81, 0xFF]) + struct.pack("!Q", 2_000_000) + b"\x00\x00\x00\x00")
            data = _read_until_closed(sock, rest)
        close_at = data.rfind(b"\x88")
        assert close_at >= 0, data[-100:]
        assert struct.unpack("!H", data[close_at + 2:close_at + 4])[0] == 1009, data[close_at:]

        # One heartbeat: over 1 s the Engine.IO WebSocket gets no WebSocket ping (0x89),
        # while a chat WebSocket gets them every 0.2 s.
        engine, first = _raw_websocket(port, "/socket.io/?EIO=4&transport=websocket")
        member, member_first = _raw_websocket(port, "/")
        with engine, member:
            time.sleep(1.0)
            engine_data = _read_until_closed(engine, first, 0.5)
            member_data = _read_until_closed(member, member_first, 0.5)
        assert b"\x89\x00" not in engine_data, engine_data[:200]
        assert b"\x89\x00" in member_data, member_data[-200:]
    finally:
        duplex_process.stop(proc)


def test_every_envelope_carries_an_instant_beside_the_classic_time(chat):
    """`ts` (milliseconds since 1970, UTC) is on every envelope, for clients that show the
    reader's local time; `time` stays the classic `HH:mm:ss` for old clients."""
    import time as clock

    async def scenario():
        a = await Client.open(chat.url())
        b = await Client.open(chat.url())
        await b.ws.send("now")
        await a.until(lambda e: e["type"] == 2)
        await a.ws.send('{"cmd":"nick","name":"x\\u0001"}')
        await a.until(lambda e: e["type"] == 6)
        await b.ws.close()
        await a.until(lambda e: e["type"] == 1)
        await a.until(lambda e: e["type"] == 4)
        kinds = {e["type"] for e in a.inbox}
        assert {0, 1, 2, 3, 4, 6} <= kinds, kinds
        now = clock.time() * 1000
        for envelope in a.inbox:
            assert isinstance(envelope["ts"], int) and abs(envelope["ts"] - now) < 60_000, envelope
            assert re.fullmatch(r"\d\d:\d\d:\d\d", envelope["time"]), envelope
            assert isinstance(envelope["msg"], str)
        await a.ws.close()

    run(scenario())
