"""`duplex echo` talking to the Python `websockets` asyncio client (PyPI)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

MiB = 1024 * 1024


def run(coro):
    return asyncio.run(coro)


def client(url: str, **kw):
    opts = dict(compression=None, ping_interval=None, open_timeout=10, close_timeout=5, max_size=64 * MiB)
    opts.update(kw)
    return connect(url, **opts)


async def echo(url: str, message, **kw):
    async with client(url, **kw) as ws:
        await ws.send(message)
        return await asyncio.wait_for(ws.recv(), 20)


def test_text(server):
    got = run(echo(server.url, "hello duplex"))
    assert isinstance(got, str), f"text message came back as {type(got).__name__}"
    assert got == "hello duplex"


def test_binary(server):
    data = bytes(range(256)) * 4
    got = run(echo(server.url, data))
    assert isinstance(got, bytes), f"binary message came back as {type(got).__name__}"
    assert got == data


@pytest.mark.parametrize("message", ["", b""], ids=["text", "binary"])
def test_empty_message(server, message):
    got = run(echo(server.url, message))
    assert type(got) is type(message) and got == message


def test_unicode_round_trip(server):
    message = "你好，世界 — 中文消息 🌍🚀👩‍💻 ünïcödé ∑ 𝄞"
    got = run(echo(server.url, message))
    assert got == message
    assert got.encode("utf-8") == message.encode("utf-8")


def test_large_text_1mib(server):
    rnd = random.Random(1)
    # mixes 1-, 2-, 3- and 4-byte UTF-8 sequences, exactly 1 MiB encoded
    alphabet = "abcXYZ019 éß中文字🚀"
    chars, size = [], 0
    while size < MiB - 4:
        c = rnd.choice(alphabet)
        chars.append(c)
        size += len(c.encode())
    chars.append("x" * (MiB - size))
    message = "".join(chars)
    assert len(message.encode()) == MiB
    got = run(echo(server.url, message))
    assert isinstance(got, str)
    assert len(got.encode()) == MiB
    assert hashlib.sha256(got.encode()).hexdigest() == hashlib.sha256(message.encode()).hexdigest()


def test_large_binary_1mib(server):
    data = os.urandom(MiB)
    got = run(echo(server.url, data))
    assert isinstance(got, bytes)
    assert len(got) == MiB
    assert got == data


def test_fragmented_text_echoed_whole(server):
    fragments = ["Hello, ", "fragmented ", "world — ", "你好 🚀"]

    async def go():
        async with client(server.url) as ws:
            await ws.send(fragments)  # one frame per item: text + continuations
            return await asyncio.wait_for(ws.recv(), 10)

    assert run(go()) == "".join(fragments)


def test_fragmented_binary_async_iterable_echoed_whole(server):
    chunks = [os.urandom(n) for n in (1, 1000, 70_000, 3)]

    async def gen():
        for c in chunks:
            yield c
            await asyncio.sleep(0.01)  # fragments really arrive separately

    async def go():
        async with client(server.url) as ws:
            await ws.send(gen())
            return await asyncio.wait_for(ws.recv(), 10)

    assert run(go()) == b"".join(chunks)


def test_ping_pong_same_payload(server):
    async def go():
        async with client(server.url) as ws:
            # websockets resolves the waiter only for a pong carrying this exact payload
            waiter = await ws.ping(b"duplex-ping-\x00\xff-42")
            latency = await asyncio.wait_for(waiter, 5)
            # and the connection still works afterwards
            await ws.send("after ping")
            return latency, await asyncio.wait_for(ws.recv(), 5)

    latency, after = run(go())
    assert latency >= 0
    assert after == "after ping"


@pytest.mark.parametrize(
    "code,reason",
    [(1000, ""), (1000, "normal bye"), (1001, "going away"), (3000, "registered"),
     (4000, "custom reason ✓"), (4999, "")],
)
def test_close_code_echoed(server, code, reason):
    async def go():
        async with client(server.url) as ws:
            await ws.send("x")
            assert await asyncio.wait_for(ws.recv(), 5) == "x"
            t0 = time.monotonic()
            await ws.close(code, reason)
            return ws.protocol.close_rcvd, time.monotonic() - t0

    rcvd, elapsed = run(go())
    assert rcvd is not None, "server sent no close frame"
    assert rcvd.code == code, f"server answered close {code} with {rcvd.code}"
    # the server closes the TCP connection after the handshake; websockets
    # would otherwise wait close_timeout (5 s) before giving up
    assert elapsed < 4, f"closing handshake + TCP close took {elapsed:.1f}s"


def test_client_offering_permessage_deflate(server):
    """websockets offers permessage-deflate by default: whether the server
    accepts or declines, messages must round-trip."""
    message = "compressible " * 2000

    async def go():
        async with client(server.url, compression="deflate") as ws:
            await ws.send(message)
            got = await asyncio.wait_for(ws.recv(), 10)
            await ws.send(b"\x00" * 5000)
            got_b = await asyncio.wait_for(ws.recv(), 10)
            return got, got_b

    got, got_b = run(go())
    assert got == message
    assert got_b == b"\x00" * 5000


def test_many_messages_in_order_one_connection(server):
    async def go():
        async with client(server.url) as ws:
            sent = [f"msg-{i}" if i % 2 else f"msg-{i}".encode() for i in range(500)]
            for m in sent:
                await ws.send(m)
            got = [await asyncio.wait_for(ws.recv(), 10) for _ in sent]
            return sent, got

    sent, got = run(go())
    assert got == sent


def test_message_over_max_size_closes_1009(small_server):
    async def go():
        async with client(small_server.url) as ws:
            await ws.send("a" * 1024)  # exactly the limit: fine
            ok = await asyncio.wait_for(ws.recv(), 5)
            await ws.send("b" * 2000)
            with pytest.raises(ConnectionClosedError):
                await asyncio.wait_for(ws.recv(), 5)
            return ok, ws.protocol.close_rcvd

    ok, rcvd = run(go())
    assert ok == "a" * 1024
    assert rcvd is not None, "server dropped the connection without a close frame"
    assert rcvd.code == 1009, f"expected close 1009 (message too big), got {rcvd.code} {rcvd.reason!r}"


def test_suffix(suffix_server):
    assert run(echo(suffix_server.url, "Hello")) == "Hello!!!"
