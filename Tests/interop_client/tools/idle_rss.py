#!/usr/bin/env python3
"""Resident memory per idle WebSocket connection of `duplex echo`, with and without
permessage-deflate.

    python idle_rss.py [--duplex PATH] [--connections 3000] [--modes off,shared,context-takeover]

For each mode a fresh `duplex echo` is started; its VmRSS (/proc/PID/status) is read, then
N clients connect (offering "permessage-deflate; client_max_window_bits", as browsers do),
each sends --messages compressible 2.4 KB messages (compressed when negotiated) and reads the echoes,
so every zlib state that would exist on a real connection exists; then they stay idle and
VmRSS is read again. Prints one line per mode: (after - before) / N.
"""

import argparse
import asyncio
import base64
import os
import socket
import struct
import subprocess
import sys
import time
import zlib

HOST = "127.0.0.1"
ECHOED = [0]
MESSAGE = ("{\"type\":\"message\",\"room\":\"lobby\",\"text\":\"hello everyone, this is a chat line\"}" * 30).encode()


def vmrss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def frame(payload, compressed):
    mask = os.urandom(4)
    b0 = 0x81 | (0x40 if compressed else 0)
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", b0, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    return b0, await reader.readexactly(n)


async def client(port, deflate_offer, hold, messages=1):
    reader, writer = await asyncio.open_connection(HOST, port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if deflate_offer:
        request += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    writer.write((request + "\r\n").encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    assert head.startswith("HTTP/1.1 101"), head
    negotiated = "permessage-deflate" in head.lower()
    no_takeover = "client_no_context_takeover" in head
    for i in range(messages):
        # Varied content, so that a context-takeover window really fills up.
        message = MESSAGE.replace(b"everyone", b"%08d" % (i * 7919 + len(MESSAGE)))
        if negotiated:
            compressor = zlib.compressobj(wbits=-15)
            data = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
            writer.write(frame(data[:-4], True))
        else:
            writer.write(frame(message, False))
        await writer.drain()
        await read_frame(reader)
    ECHOED[0] += 1
    await hold.wait()
    writer.close()
    return negotiated, no_takeover


async def measure(duplex, mode, count, messages):
    port_probe = socket.socket()
    port_probe.bind((HOST, 0))
    port = port_probe.getsockname()[1]
    port_probe.close()
    args = [duplex, "echo", "--port", str(port), "--ping-interval", "0", "--log-level", "error"]
    if mode != "off":
        args += ["--deflate", "--deflate-mode", mode]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        server.stdout.readline()
        # Warm up one connection (event loops, shared zlib streams) before the baseline.
        warm = asyncio.Event()
        task = asyncio.create_task(client(port, True, warm))
        await asyncio.sleep(0.3)
        warm.set()
        await task
        await asyncio.sleep(0.5)
        before = vmrss_kib(server.pid)
        ECHOED[0] = 0
        hold = asyncio.Event()
        tasks = []
        for i in range(count):
            tasks.append(asyncio.create_task(client(port, True, hold, messages)))
            if i % 200 == 199:
                await asyncio.sleep(0.05)
        # Wait until every client got its echo (they then idle on `hold`), and RSS settles.
        deadline = time.monotonic() + 180
        while ECHOED[0] < count and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)
        after = vmrss_kib(server.pid)
        hold.set()
        results = await asyncio.gather(*tasks)
        negotiated = sum(1 for n, _ in results if n)
        per = (after - before) * 1024 / count
        print(f"{mode:17s} connections={count} messages_each={messages} negotiated={negotiated} rss_before={before} KiB "
              f"rss_after={after} KiB per_connection={per / 1024:.1f} KiB", flush=True)
    finally:
        server.terminate()
        server.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duplex", default=os.environ.get("DUPLEX_BIN", ".build/debug/duplex"))
    ap.add_argument("--connections", type=int, default=3000)
    ap.add_argument("--modes", default="off,shared,context-takeover")
    ap.add_argument("--messages", type=int, default=1, help="messages each client sends before idling")
    a = ap.parse_args()
    for mode in a.modes.split(","):
        asyncio.run(measure(a.duplex, mode, a.connections, a.messages))


if __name__ == "__main__":
    sys.exit(main())
