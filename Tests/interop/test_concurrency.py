"""Sanity under concurrency: many Python clients at once, and clients that
vanish abruptly without disturbing the others."""

from __future__ import annotations

import asyncio
import signal
import socket
import struct
import subprocess
import sys
import textwrap

from websockets.asyncio.client import connect

import rawws
from rawws import OP_TEXT

CLIENTS = 50
MESSAGES = 100


def client(url: str):
    return connect(url, compression=None, ping_interval=None, open_timeout=20, close_timeout=10)


async def pipelined_client(url: str, cid: int) -> list:
    async with client(url) as ws:
        sent = [f"client-{cid}-msg-{i}" if i % 3 else f"client-{cid}-bin-{i}".encode() for i in range(MESSAGES)]
        for m in sent:
            await ws.send(m)
        got = [await asyncio.wait_for(ws.recv(), 30) for _ in sent]
        return [sent, got]


def test_50_clients_100_messages_in_order(server):
    async def go():
        return await asyncio.gather(*(pipelined_client(server.url, c) for c in range(CLIENTS)))

    results = asyncio.run(go())
    assert len(results) == CLIENTS
    for cid, (sent, got) in enumerate(results):
        assert got == sent, f"client {cid}: echoes out of order or wrong (first mismatch at " \
                            f"{next(i for i, (a, b) in enumerate(zip(sent, got)) if a != b)})"


KILLED_CLIENT = textwrap.dedent("""
    import asyncio, sys
    from websockets.asyncio.client import connect
    async def main():
        async with connect(sys.argv[1], compression=None, ping_interval=None) as ws:
            await ws.send("hello"); await ws.recv()
            print("ready", flush=True)
            i = 0
            while True:  # keeps streaming until SIGKILL
                await ws.send("x" * 10000 + str(i)); i += 1
                await asyncio.sleep(0.001)
    asyncio.run(main())
""")


def _abrupt_raw_clients(server) -> None:
    # 1. RST in the middle of a frame (SO_LINGER 0 turns close() into a reset)
    ws = rawws.open_ws(server.host, server.port)
    ws.send(rawws.encode_frame(OP_TEXT, b"y" * 5000)[:2000])
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.close()
    # 2. FIN without a close frame, right after a complete message
    ws = rawws.open_ws(server.host, server.port)
    ws.send_frame(OP_TEXT, b"bye without close frame")
    ws.sock.shutdown(socket.SHUT_RDWR)
    ws.close()
    # 3. RST right after the handshake, with an echo still on its way to us
    ws = rawws.open_ws(server.host, server.port)
    ws.send_frame(OP_TEXT, b"z" * 100_000)
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.close()


def test_abrupt_disconnects_do_not_affect_others(server):
    async def victim(cid: int) -> list:
        async with client(server.url) as ws:
            out = []
            for i in range(60):
                m = f"victim-{cid}-{i}"
                await ws.send(m)
                out.append((m, await asyncio.wait_for(ws.recv(), 10)))
                await asyncio.sleep(0.02)
            return out

    async def killer() -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", KILLED_CLIENT, server.url, stdout=subprocess.PIPE)
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line.strip() == b"ready", line
        await asyncio.sleep(0.3)  # let it stream a bit
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await asyncio.to_thread(_abrupt_raw_clients, server)

    async def go():
        victims = [asyncio.create_task(victim(c)) for c in range(10)]
        await asyncio.sleep(0.1)
        await killer()
        return await asyncio.gather(*victims)

    for pairs in asyncio.run(go()):
        assert len(pairs) == 60
        for sent, got in pairs:
            assert got == sent

    # the server still takes new connections afterwards
    ws = rawws.open_ws(server.host, server.port)
    try:
        ws.send_frame(OP_TEXT, b"after the carnage")
        assert ws.recv_message() == (OP_TEXT, b"after the carnage")
    finally:
        ws.close()
