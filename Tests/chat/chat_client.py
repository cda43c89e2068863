"""A chat participant for the end-to-end tests: a real WebSocket client (Python websockets)
that keeps every envelope it receives, and its welcome."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect


class ChatClient:
    def __init__(self, ws):
        self.ws = ws
        self.inbox: list[dict] = []
        self.welcome: dict = {}

    @classmethod
    async def open(cls, url: str) -> "ChatClient":
        client = cls(await connect(url))
        client.welcome = await client.until(lambda e: e["type"] == 3)
        return client

    async def until(self, predicate, timeout: float = 10) -> dict:
        """The first envelope not yet taken that matches (waiting for it if needed)."""
        for envelope in self.inbox:
            if predicate(envelope) and not envelope.get("_taken"):
                envelope["_taken"] = True
                return envelope

        async def wait():
            while True:
                envelope = json.loads(await self.ws.recv())
                self.inbox.append(envelope)
                if predicate(envelope):
                    envelope["_taken"] = True
                    return envelope
        return await asyncio.wait_for(wait(), timeout)

    def seen(self, *types: int) -> list[str]:
        return [e["msg"] for e in self.inbox if e["type"] in types]
