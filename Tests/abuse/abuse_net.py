"""Raw-socket tools of the abuse tests: a sender that floods one connection without ever
reading (and notices when the server stops taking bytes), a frame parser for non-blocking
loops, and the "is the server still serving others" probes.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from dataclasses import dataclass, field

import abuse_proc
import rawws

HOST = "127.0.0.1"


# --------------------------------------------------------------------------- flooding


@dataclass
class FloodResult:
    sent: int                 # bytes the kernel took from us
    server_read: int          # of those, bytes the server process read (see abuse_proc)
    stalled: bool             # the server stopped taking bytes for `stall_after` seconds
    aborted: str | None       # why the flood stopped early (memory guard, connection error)
    seconds: float
    peak_rss_growth: int      # VmRSS above the value at the start, sampled while sending

    def describe(self) -> str:
        return (f"sent {self.sent / 1e6:.1f} MB, server read {self.server_read / 1e6:.1f} MB, "
                f"stalled={self.stalled}, aborted={self.aborted}, {self.seconds:.1f} s, "
                f"peak VmRSS growth {self.peak_rss_growth / 1e6:.1f} MB")


def flood(sock: socket.socket, chunk: bytes, total: int, *, pid: int, time_limit: float,
          stall_after: float = 2.0, rss_guard: int = 768 * abuse_proc.MB) -> FloodResult:
    """Writes `chunk` repeatedly to `sock` (never reading from it) until `total` bytes are
    sent, the server stops taking bytes for `stall_after` s (the expected outcome when the
    server applies backpressure), `time_limit` runs out, or the server's VmRSS grew by more
    than `rss_guard` (a server without bounds would otherwise eat the machine)."""
    sock.setblocking(False)
    start_rss = abuse_proc.rss(pid)
    peak = 0
    sent = 0
    view = memoryview(chunk)
    offset = 0
    t0 = last_progress = last_sample = time.monotonic()
    aborted = None
    stalled = False
    while sent < total:
        now = time.monotonic()
        if now - t0 > time_limit:
            aborted = f"time limit {time_limit:g} s"
            break
        if now - last_sample > 0.1:
            last_sample = now
            peak = max(peak, abuse_proc.rss(pid) - start_rss)
            if peak > rss_guard:
                aborted = f"server VmRSS grew by more than {rss_guard / 1e6:.0f} MB"
                break
        _, writable, _ = select.select([], [sock], [], 0.05)
        if not writable:
            if now - last_progress > stall_after:
                stalled = True
                break
            continue
        try:
            n = sock.send(view[offset:offset + min(len(chunk) - offset, total - sent)])
        except BlockingIOError:
            continue
        except OSError as error:
            aborted = f"connection error: {error!r}"
            break
        sent += n
        offset = (offset + n) % len(chunk)
        last_progress = time.monotonic()
    peak = max(peak, abuse_proc.rss(pid) - start_rss)
    try:
        read = abuse_proc.bytes_read_by_server(sock, sent)
    except OSError:
        read = sent
    return FloodResult(sent, read, stalled, aborted, time.monotonic() - t0, peak)


@dataclass
class Quiet:
    reached: bool       # the server read (almost) nothing for `window` seconds
    server_read: int    # bytes of the flood the server had read at the end
    waited: float


def wait_until_quiet(sock: socket.socket, flooded: FloodResult, *, window: float = 3.0,
                     within: float = 10.0, tolerance: int = 1024) -> Quiet:
    """After a flood (sending nothing more), waits up to `within` s for `window` s in a
    row in which the server reads at most `tolerance` bytes of it. A server that stops
    reading gets there; a server that keeps reading (however slowly) does not."""
    def read_now() -> int:
        try:
            return abuse_proc.bytes_read_by_server(sock, flooded.sent)
        except OSError:
            return flooded.sent
    t0 = time.monotonic()
    mark, mark_time = read_now(), t0
    while True:
        time.sleep(0.25)
        now, read = time.monotonic(), read_now()
        if read - mark > tolerance:
            mark, mark_time = read, now
        elif now - mark_time >= window:
            return Quiet(True, read, now - t0)
        if now - t0 >= within:
            return Quiet(False, read, now - t0)


# --------------------------------------------------------------------------- frames


@dataclass
class FrameParser:
    """Server frames (unmasked) out of bytes fed in pieces."""
    buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[rawws.Frame]:
        self.buf += data
        frames = []
        while len(self.buf) >= 2:
            b0, b1 = self.buf[0], self.buf[1]
            n, pos = b1 & 0x7F, 2
            if n == 126:
                if len(self.buf) < 4:
                    break
                n, pos = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                if len(self.buf) < 10:
                    break
                n, pos = struct.unpack("!Q", self.buf[2:10])[0], 10
            if b1 & 0x80:
                pos += 4  # a server never masks; skip a key anyway
            if len(self.buf) < pos + n:
                break
            frames.append(rawws.Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, bool(b1 & 0x80),
                                      bytes(self.buf[pos:pos + n])))
            del self.buf[:pos + n]
        return frames


def header_only(opcode: int, announced: int, *, fin: bool = True) -> bytes:
    """A masked client frame header announcing `announced` payload bytes, without them."""
    return rawws.encode_frame(opcode, b"", fin=fin, length=announced)


# --------------------------------------------------------------------------- probes


def echo_roundtrip(port: int, size: int = 32, timeout: float = 2.0) -> float:
    """A fresh WebSocket client echoes one text message; returns the seconds it took.
    Raises when it does not work within `timeout`."""
    t0 = time.monotonic()
    ws = rawws.open_ws(HOST, port, timeout=timeout)
    try:
        text = os.urandom(size // 2).hex().encode()
        ws.send_frame(rawws.OP_TEXT, text)
        remaining = max(0.05, timeout - (time.monotonic() - t0))
        opcode, payload = ws.recv_message(timeout=remaining)
        assert (opcode, payload) == (rawws.OP_TEXT, text), f"echo answered {opcode} {payload[:60]!r}"
    finally:
        ws.close()
    return time.monotonic() - t0


def http_get(port: int, path: str = "/", headers: dict[str, str] | None = None,
             timeout: float = 2.0) -> rawws.HTTPResponse:
    """One plain GET on a fresh connection (Host: 127.0.0.1:PORT unless `headers` say otherwise)."""
    head = {"Host": f"{HOST}:{port}", **(headers or {})}
    request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
    return rawws.http_exchange(HOST, port, request.encode("latin-1"), timeout=timeout)


def ws_upgrade(port: int, path: str = "/", headers: dict[str, str] | None = None,
               timeout: float = 3.0) -> rawws.HTTPResponse:
    """A WebSocket handshake on a fresh connection; returns the response (101 or an error
    with its body). Host defaults to 127.0.0.1:PORT."""
    request, _ = rawws.build_request(path, host=f"{HOST}:{port}", headers=headers)
    return rawws.http_exchange(HOST, port, request, timeout=timeout)


def assert_refused(response, what: str, about: str) -> None:
    """A 403 whose reason names what it is about (`origin`, `host`)."""
    text = f"{response.status} {response.reason} {response.body[:200]!r}"
    assert response.status == 403, f"{what}: expected 403, got {text}"
    assert about in (response.reason + response.body.decode(errors="replace")).lower(), \
        f"{what}: the 403 does not say it is about the {about}: {text}"
