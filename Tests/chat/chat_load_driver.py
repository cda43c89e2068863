"""A compact asyncio load driver for `duplex chat`: many cheap WebSocket clients over raw
asyncio streams (Python websockets costs too much per connection to open thousands from
one test process), plus the server's CPU time from /proc.

Each client does the RFC 6455 handshake itself, masks what it sends, answers pings and
decodes the server's (unmasked, uncompressed) frames into JSON envelopes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import time


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RawClient:
    """One chat client. `envelopes` is filled by `pump` (a task per client)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, started: float):
        self.reader, self.writer = reader, writer
        self.started = started  # before connecting
        self.upgraded = time.monotonic()  # the 101 response read
        self.welcomed_at: float | None = None
        self.welcome: dict | None = None
        self.envelopes: list[dict] = []
        self.keep = True  # False: count and drop envelopes (idle members of a big room)
        self.received = 0
        self.closed = asyncio.get_running_loop().create_future()
        self.on_envelope = None

    @classmethod
    async def open(cls, port: int, query: str = "") -> "RawClient":
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"handshake refused: {head[:200]!r}")
        return cls(reader, writer, started)

    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + masked)

    async def pump(self) -> None:
        """Reads frames until the connection ends; records envelopes and the welcome time."""
        try:
            while True:
                b0, b1 = await self.reader.readexactly(2)
                n = b1 & 0x7F
                if n == 126:
                    (n,) = struct.unpack("!H", await self.reader.readexactly(2))
                elif n == 127:
                    (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
                payload = await self.reader.readexactly(n)
                opcode = b0 & 0x0F
                if opcode == 0x9:
                    self._send(0xA, payload)
                elif opcode == 0x8:
                    # the closing handshake: answer with the same code, as clients do
                    self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    self._send(0x8, payload[:2])
                    await self.writer.drain()
                    break
                elif opcode == 0x1:
                    if not self.keep and self.welcomed_at is not None and self.on_envelope is None:
                        self.received += 1  # an idle member: counted, not decoded
                        continue
                    envelope = json.loads(payload)
                    envelope["_at"] = time.monotonic()
                    self.received += 1
                    if envelope.get("type") == 3 and self.welcomed_at is None:
                        self.welcomed_at = envelope["_at"]
                        self.welcome = envelope
                    if self.keep:
                        self.envelopes.append(envelope)
                    if self.on_envelope:
                        self.on_envelope(self, envelope)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if not self.closed.done():
                self.closed.set_result(True)

    def close(self) -> None:
        self.writer.close()


async def open_many(port: int, count: int, query: str = "", concurrency: int = 200, keep: bool = True) -> list[RawClient]:
    """Opens `count` clients, `concurrency` handshakes at a time, each with its pump running."""
    gate = asyncio.Semaphore(concurrency)
    clients: list[RawClient] = []

    async def one():
        async with gate:
            client = await RawClient.open(port, query)
        client.keep = keep
        client.task = asyncio.ensure_future(client.pump())
        clients.append(client)

    await asyncio.gather(*(one() for _ in range(count)))
    return clients


async def wait_for(predicate, timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(step)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]
