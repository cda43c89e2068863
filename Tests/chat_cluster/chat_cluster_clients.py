"""Chat clients that survive a node's death: they reconnect through the load balancer with
their identity token and merge what they get (history after a reconnection included) by
message id, as the page does."""

from __future__ import annotations

import asyncio
import json

import socketio
# python-engineio's client refuses a polling response of more than 16 packets; the server
# sends at most that many per response (EngineIOOptions.maxPacketsPerPoll), so the clients
# here keep their defaults.
from websockets.asyncio.client import connect


class Transcript:
    """Messages by id (ids are per room and in the database's order), and the order seen."""

    def __init__(self):
        self.by_id: dict[int, tuple[str, str]] = {}
        self.texts: set[str] = set()
        self.order: list[int] = []
        self.events: list[dict] = []

    def add(self, envelope: dict) -> None:
        self.events.append(envelope)
        if envelope.get("type") == 2 and envelope.get("id") is not None:
            if envelope["id"] not in self.by_id:
                self.by_id[envelope["id"]] = (envelope.get("user"), envelope.get("text"))
                self.texts.add(envelope.get("text"))
                self.order.append(envelope["id"])

    def live_order(self) -> list[int]:
        """Ids of live (not history) messages in the order they arrived."""
        return [e["id"] for e in self.events if e.get("type") == 2 and not e.get("history") and e.get("id") is not None]

    def messages(self) -> list[tuple[int, str, str]]:
        return [(i, *self.by_id[i]) for i in sorted(self.by_id)]


async def confirmed(transcript: Transcript, text: str, timeout: float = 5.0) -> bool:
    for _ in range(int(timeout / 0.02)):
        if text in transcript.texts:
            return True
        await asyncio.sleep(0.02)
    return False


class WsPerson:
    """A Python websockets client; reconnects (same token) when its connection drops."""

    def __init__(self, base_url: str, room: str, name: str):
        self.base_url, self.room, self.name = base_url, room, name
        self.token = ""
        self.transcript = Transcript()
        self.welcomes: list[dict] = []
        self.ws = None
        self.connected = asyncio.Event()
        self.closing = False
        self.reconnections = 0
        self.task: asyncio.Task | None = None

    async def start(self) -> "WsPerson":
        self.task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.connected.wait(), 15)
        return self

    async def _run(self) -> None:
        while not self.closing:
            try:
                async with connect(f"{self.base_url}/?room={self.room}&name={self.name}&token={self.token}",
                                   open_timeout=5) as ws:
                    self.ws = ws
                    async for frame in ws:
                        envelope = json.loads(frame)
                        if envelope.get("type") == 3:
                            self.welcomes.append(envelope)
                            self.token = envelope.get("token") or self.token
                            self.connected.set()
                        self.transcript.add(envelope)
            except (OSError, asyncio.TimeoutError, Exception):  # noqa: BLE001 (any drop: reconnect)
                pass
            self.ws = None
            self.connected.clear()
            if self.closing:
                return
            self.reconnections += 1
            await asyncio.sleep(0.3)

    async def say(self, text: str) -> None:
        """Sends until the message comes back stored (a send into a dying connection is
        sent again after the reconnection: only a confirmed message counts)."""
        for _ in range(5):
            await asyncio.wait_for(self.connected.wait(), 15)
            try:
                await self.ws.send(text)
            except Exception:  # noqa: BLE001 (the connection dropped under it)
                continue
            if await confirmed(self.transcript, text):
                return
        raise AssertionError(f"{self.name}: {text!r} never confirmed")

    async def close(self) -> None:
        self.closing = True
        if self.ws:
            await self.ws.close()
        if self.task:
            await asyncio.wait_for(self.task, 10)


class SioPerson:
    """A python-socketio client; python-socketio reconnects it (same auth, token included)."""

    def __init__(self, base_url: str, room: str, name: str, transports: list[str]):
        self.base_url, self.room, self.name, self.transports = base_url, room, name, transports
        self.auth = {"room": room, "name": name, "token": ""}
        self.transcript = Transcript()
        self.welcomes: list[dict] = []
        import logging, os
        debug = bool(os.environ.get("CHAT_CLUSTER_DEBUG"))
        self.client = socketio.AsyncClient(reconnection=True, reconnection_delay=0.3, reconnection_delay_max=1,
                                           logger=debug, engineio_logger=debug)
        self.client.on("welcome", self._welcome)
        self.client.on("chat message", self._message)

    async def _welcome(self, envelope):
        self.welcomes.append(envelope)
        if envelope.get("token"):
            self.auth["token"] = envelope["token"]

    async def _message(self, envelope):
        self.transcript.add({**envelope, "type": 2})

    async def start(self) -> "SioPerson":
        await self.client.connect(self.base_url, transports=self.transports, auth=lambda: self.auth)
        for _ in range(300):
            if self.welcomes:
                return self
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name}: no welcome")

    async def say(self, text: str) -> None:
        for _ in range(5):
            for _ in range(300):
                if self.client.connected:
                    break
                await asyncio.sleep(0.05)
            try:
                await self.client.emit("chat message", text)
            except Exception:  # noqa: BLE001 (disconnected under it)
                continue
            if await confirmed(self.transcript, text):
                return
        raise AssertionError(f"{self.name}: {text!r} never confirmed (connected={self.client.connected}, welcomes={len(self.welcomes)})")

    async def close(self) -> None:
        await self.client.disconnect()
