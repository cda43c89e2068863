"""The /broadcast room of `duplex echo` (a BroadcastGroup) with Python websockets clients,
on one event loop and on several: every message reaches every member exactly once, members
that close leave the room, and the others keep receiving."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

MEMBERS = 12


def client(url: str):
    return connect(url, compression=None, ping_interval=None, open_timeout=20, close_timeout=10)


async def drain(ws, count: int) -> list:
    return [await asyncio.wait_for(ws.recv(), 20) for _ in range(count)]


async def no_more(ws, seconds: float = 0.3) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return True
    return False


@pytest.mark.parametrize("threads", ["1", "3"])
def test_every_member_gets_every_message_once(start_server, threads):
    srv = start_server(f"room-{threads}", ["--threads", threads])
    url = srv.url.rstrip("/") + "/broadcast"

    async def go():
        members = [await client(url).__aenter__() for _ in range(MEMBERS)]
        # Three senders, text and binary: each member gets all 6 messages, once.
        sent = []
        for i, sender in enumerate(members[:3]):
            text, data = f"text from {i}", f"bytes from {i}".encode()
            await sender.send(text)
            await sender.send(data)
            sent += [text, data]
        received = [await drain(ws, len(sent)) for ws in members]
        quiet = await asyncio.gather(*(no_more(ws) for ws in members))

        # Four members leave (two politely, two by dropping the TCP connection).
        for ws in members[:2]:
            await ws.close()
        for ws in members[2:4]:
            ws.transport.abort()
        await asyncio.sleep(0.3)
        rest = members[4:]
        await rest[0].send("after")
        after = [await drain(ws, 1) for ws in rest]
        for ws in rest:
            await ws.close()
        return sent, received, quiet, after

    sent, received, quiet, after = asyncio.run(go())
    for got in received:
        assert sorted(map(repr, got)) == sorted(map(repr, sent))
    assert all(quiet), "a member got a message twice"
    assert after == [["after"]] * (MEMBERS - 4)
    srv.assert_alive()
