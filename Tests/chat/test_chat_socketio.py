"""Socket.IO clients (python-socketio) in the same rooms as WebSocket clients of `duplex chat`."""

from __future__ import annotations

import asyncio
import json

import pytest
import socketio
from websockets.asyncio.client import connect

pytestmark = pytest.mark.timeout(60)


class SioPerson:
    """A python-socketio client that records every chat event."""

    def __init__(self):
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, dict]] = []
        self.changed = asyncio.Event()
        for name in ("welcome", "user joined", "user left", "chat message", "presence", "rename", "chat error"):
            self.client.on(name, self._recorder(name))

    def _recorder(self, name):
        async def record(envelope):
            self.events.append((name, envelope))
            self.changed.set()
        return record

    async def until(self, predicate, timeout=10):
        async def wait():
            while True:
                for event in self.events:
                    if predicate(*event):
                        return event
                self.changed.clear()
                await self.changed.wait()
        return await asyncio.wait_for(wait(), timeout)


async def ws_until(ws, inbox, predicate, timeout=10):
    async def wait():
        for envelope in inbox:
            if predicate(envelope):
                return envelope
        while True:
            envelope = json.loads(await ws.recv())
            inbox.append(envelope)
            if predicate(envelope):
                return envelope
    return await asyncio.wait_for(wait(), timeout)


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]])
def test_socketio_and_websocket_clients_chat_in_one_room(chat, transports):
    async def scenario():
        ws = await connect(chat.url("?room=mixed"))
        inbox: list[dict] = []
        await ws_until(ws, inbox, lambda e: e["type"] == 3)

        sio = SioPerson()
        await sio.client.connect(f"http://127.0.0.1:{chat.port}", transports=transports,
                                 auth={"room": "mixed", "name": "Socket Sam"})
        _, welcome = await sio.until(lambda name, e: name == "welcome")
        assert welcome["you"] == "Socket Sam" and welcome["room"] == "mixed"
        assert welcome["online"] == ["User 1", "Socket Sam"]

        # The WebSocket person sees the Socket.IO person enter, and talk.
        entered = await ws_until(ws, inbox, lambda e: e["type"] == 0 and e["user"] == "Socket Sam")
        assert entered["msg"] == "Socket Sam entered"
        await sio.client.emit("chat message", "hello from Socket.IO 你好")
        got = await ws_until(ws, inbox, lambda e: e["type"] == 2)
        assert got["msg"] == "Socket Sam: hello from Socket.IO 你好"

        # And the other way round.
        await ws.send("hello from a WebSocket")
        _, message = await sio.until(lambda name, e: name == "chat message" and e["user"] == "User 1")
        assert message["msg"] == "User 1: hello from a WebSocket" and message["type"] == 2

        # Limits and commands work the same over Socket.IO.
        await sio.client.emit("chat message", "x" * 2001)
        _, error = await sio.until(lambda name, e: name == "chat error")
        assert error["code"] == "too_long"
        await sio.client.emit("nick", "Samantha")
        renamed = await ws_until(ws, inbox, lambda e: e["type"] == 5)
        assert renamed["msg"] == "Socket Sam is now Samantha"

        await sio.client.disconnect()
        if "websocket" in transports:
            # Over polling-only, python-socketio's disconnect() may drop its DISCONNECT
            # packet, and then the server learns of the departure from the heartbeat
            # (pingInterval + pingTimeout = 45 s): too slow for this test.
            left = await ws_until(ws, inbox, lambda e: e["type"] == 1)
            assert left["msg"] == "Samantha left"
        await ws.close()

    asyncio.run(scenario())


def test_socketio_history_and_room_switch(chat):
    async def scenario():
        ws = await connect(chat.url("?room=lobby"))
        inbox: list[dict] = []
        await ws_until(ws, inbox, lambda e: e["type"] == 3)
        await ws.send("earlier message")
        await ws_until(ws, inbox, lambda e: e["type"] == 2)

        sio = SioPerson()
        await sio.client.connect(f"http://127.0.0.1:{chat.port}", transports=["websocket"], auth={"room": "elsewhere"})
        await sio.until(lambda name, e: name == "welcome" and e["room"] == "elsewhere")
        await sio.client.emit("join", "lobby")
        _, history = await sio.until(lambda name, e: name == "chat message" and e.get("history"))
        assert history["text"] == "earlier message"
        await ws_until(ws, inbox, lambda e: e["type"] == 0 and e["user"] != "User 1")
        await sio.client.disconnect()
        await ws.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_a_message_sent_the_moment_a_member_connects_reaches_it(chat_factory, transport):
    """"Connected" means the connection handler has run: the chat's Socket.IO handler
    joins the room before the client can see the CONNECT answer, so a message sent the
    moment the newcomer's `connect` fires reaches it (it used to reach it 0 times in 10)."""
    server = chat_factory("--memory", "--history", "0")

    async def scenario():
        ws = await connect(server.url("?room=race"))
        inbox: list[dict] = []
        await ws_until(ws, inbox, lambda e: e["type"] == 3)
        received = 0
        for attempt in range(10):
            newcomer = SioPerson()
            connected = asyncio.Event()
            newcomer.client.on("connect", lambda: connected.set())
            task = asyncio.create_task(newcomer.client.connect(
                f"http://127.0.0.1:{server.port}", auth={"room": "race"}, transports=[transport], wait_timeout=10))
            await connected.wait()
            await ws.send(f"hello {attempt}")  # the moment the newcomer's connect fired
            try:
                await newcomer.until(lambda name, e: name == "chat message" and e["msg"].endswith(f"hello {attempt}"), timeout=10)
                received += 1
            except asyncio.TimeoutError:
                pass
            await task
            await newcomer.client.disconnect()
        await ws.close()
        return received

    assert asyncio.run(scenario()) == 10
