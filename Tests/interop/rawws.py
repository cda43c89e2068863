"""Raw RFC 6455 helpers over a plain socket.

Used by the interop tests to send what a well-behaved client library refuses
to send (invalid frames, broken handshakes) and to see exactly what the server
puts on the wire (status lines, headers, frame bits, close codes).
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
from dataclasses import dataclass, field

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


def accept_for(key: str) -> str:
    """The Sec-WebSocket-Accept value a server must answer to `key`."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


def new_key() -> str:
    return base64.b64encode(os.urandom(16)).decode("ascii")


# --------------------------------------------------------------------------- HTTP


@dataclass
class HTTPResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    rest: bytes = b""  # bytes received after the head (frames, for a 101)

    def header(self, name: str) -> str | None:
        """Value of a header (case-insensitive name); repeated headers are joined with ', '."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


def connect(host: str, port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def build_request(
    path: str = "/",
    *,
    method: str = "GET",
    version: str = "HTTP/1.1",
    host: str = "127.0.0.1",
    key: str | None = "auto",
    headers: dict[str, str] | None = None,
    omit: tuple[str, ...] = (),
) -> tuple[bytes, str | None]:
    """A handshake request head. `headers` override defaults (by exact name),
    `omit` removes defaults by case-insensitive name."""
    if key == "auto":
        key = new_key()
    base: dict[str, str] = {
        "Host": host,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
    }
    if key is not None:
        base["Sec-WebSocket-Key"] = key
    for name in list(base):
        if name.lower() in {o.lower() for o in omit}:
            del base[name]
    if headers:
        for name, value in headers.items():
            for existing in list(base):
                if existing.lower() == name.lower():
                    del base[existing]
            base[name] = value
    lines = [f"{method} {path} {version}"] + [f"{k}: {v}" for k, v in base.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), key


def read_response(sock: socket.socket, timeout: float = 5.0, want_body: bool = True) -> HTTPResponse:
    """Read an HTTP/1.1 response head (and, if `want_body`, its body by
    Content-Length or until EOF, bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\r\n\r\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no complete response head within {timeout}s (got {buf[:200]!r})")
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a complete response head (got {buf[:200]!r})")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    resp = HTTPResponse(status, reason, headers, b"", rest)
    if status == 101 or not want_body:
        return resp
    length = resp.header("Content-Length")
    body = rest
    if length is not None:
        n = int(length)
        while len(body) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"body shorter than Content-Length {n} (got {len(body)})")
            sock.settimeout(remaining)
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        resp.body, resp.rest = body[:n], body[n:]
    elif (resp.header("Transfer-Encoding") or "").lower() == "chunked":
        resp.body, resp.rest = _read_chunked(sock, body, deadline), b""
    else:  # no length: body runs until the server closes
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, socket.timeout):
                break
            if not chunk:
                break
            body += chunk
        resp.body, resp.rest = body, b""
    return resp


def _read_chunked(sock: socket.socket, buf: bytes, deadline: float) -> bytes:
    def need(n: int) -> None:
        nonlocal buf
        while len(buf) < n:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("EOF inside chunked body")
            buf += chunk

    body = b""
    while True:
        while b"\r\n" not in buf:
            need(len(buf) + 1)
        size_line, buf = buf.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        need(size + 2)
        body += buf[:size]
        buf = buf[size + 2 :]
        if size == 0:
            return body


def http_exchange(host: str, port: int, request: bytes, timeout: float = 5.0) -> HTTPResponse:
    with connect(host, port, timeout) as sock:
        sock.sendall(request)
        return read_response(sock, timeout)


# --------------------------------------------------------------------------- frames


def encode_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    mask_key: bytes | None = None,
    length: int | None = None,
) -> bytes:
    """One frame. `rsv` is the 3-bit RSV1..RSV3 value (4 = RSV1); `length`
    overrides the announced payload length (the payload is still `payload`)."""
    first = (0x80 if fin else 0) | ((rsv & 0x7) << 4) | (opcode & 0xF)
    n = len(payload) if length is None else length
    mask_bit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", first, mask_bit | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, n)
    if not mask:
        return head + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return head + key + apply_mask(payload, key)


def apply_mask(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    repeated = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(data), "big")


def close_payload(code: int | None, reason: bytes = b"") -> bytes:
    return b"" if code is None else struct.pack("!H", code) + reason


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    payload: bytes

    @property
    def close_code(self) -> int | None:
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> bytes:
        return self.payload[2:]


class EOFBeforeFrame(ConnectionError):
    pass


@dataclass
class RawWebSocket:
    """A client connection after a successful raw handshake."""

    sock: socket.socket
    response: HTTPResponse
    key: str
    buf: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        self.buf += self.response.rest

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: bytes = b"", **kw) -> None:
        self.sock.sendall(encode_frame(opcode, payload, **kw))

    def _fill(self, n: int, deadline: float) -> None:
        while len(self.buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no frame within the timeout (have {len(self.buf)} of {n} bytes)")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 20)
            except ConnectionResetError as exc:
                raise EOFBeforeFrame(f"connection reset (have {len(self.buf)} of {n} bytes)") from exc
            if not chunk:
                raise EOFBeforeFrame(f"EOF (have {len(self.buf)} of {n} bytes)")
            self.buf += chunk

    def recv_frame(self, timeout: float = 5.0) -> Frame:
        deadline = time.monotonic() + timeout
        self._fill(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            self._fill(4, deadline)
            n = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif n == 127:
            self._fill(10, deadline)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        masked = bool(b1 & 0x80)
        key = b""
        if masked:
            self._fill(pos + 4, deadline)
            key = bytes(self.buf[pos : pos + 4])
            pos += 4
        self._fill(pos + n, deadline)
        payload = bytes(self.buf[pos : pos + n])
        del self.buf[: pos + n]
        if masked:
            payload = apply_mask(payload, key)
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 0x7, b0 & 0xF, masked, payload)

    def recv_message(self, timeout: float = 5.0) -> tuple[int, bytes]:
        """Next data message (reassembled), skipping control frames other than close."""
        deadline = time.monotonic() + timeout
        opcode, parts = None, []
        while True:
            f = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if f.opcode == OP_CLOSE:
                raise ConnectionError(f"close frame {f.close_code} {f.close_reason!r} instead of a message")
            if f.opcode in (OP_PING, OP_PONG):
                continue
            if opcode is None:
                opcode = f.opcode
            parts.append(f.payload)
            if f.fin:
                return opcode, b"".join(parts)

    def expect_close(self, timeout: float = 5.0) -> Frame:
        """Read until the server's close frame (data frames before it are
        dropped) and return it. Raises if the TCP connection ends first."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if f.opcode == OP_CLOSE:
                return f

    def wait_eof(self, timeout: float = 5.0) -> bool:
        """True if the server closes the TCP connection within `timeout`
        (any bytes still arriving are discarded)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, socket.timeout):
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def open_ws(host: str, port: int, path: str = "/", timeout: float = 5.0, **request_kw) -> RawWebSocket:
    """Raw handshake; asserts 101 and a correct Sec-WebSocket-Accept."""
    sock = connect(host, port, timeout)
    request, key = build_request(path, host=f"{host}:{port}", **request_kw)
    sock.sendall(request)
    resp = read_response(sock, timeout)
    if resp.status != 101:
        sock.close()
        raise AssertionError(f"handshake: expected 101, got {resp.status} {resp.reason} body={resp.body!r}")
    assert key is not None
    got = resp.header("Sec-WebSocket-Accept")
    if got != accept_for(key):
        sock.close()
        raise AssertionError(f"handshake: Sec-WebSocket-Accept {got!r}, expected {accept_for(key)!r}")
    return RawWebSocket(sock, resp, key)
