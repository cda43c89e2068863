"""Raw HTTP/1.1 over a socket for the framework tests: exact requests (a handshake with a
wrong version, an oversized polling body) and the whole answer, status line included."""

from __future__ import annotations

import socket


def exchange(port: int, request: bytes, body: bytes = b"", timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Sends `request` (head, ending in a blank line) and `body`; returns the status, the
    headers (lowercased names) and whatever body arrived before the server closed or the
    Content-Length was complete."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        try:
            sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a server may answer (and close) before the whole body is in
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            rest += chunk
        return status, headers, rest[:length]


def request_head(method: str, path: str, port: int, extra: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
