"""S3: every error response carries `X-Content-Type-Options: nosniff` (a browser must not
guess a script or a page out of an error body), and the chat page forbids being framed by
other sites (`Content-Security-Policy: … frame-ancestors …`).
"""

from __future__ import annotations

import pytest

import abuse_net
import rawws
from abuse_proc import MiB


def exchange(port: int, request: bytes) -> rawws.HTTPResponse:
    return rawws.http_exchange(abuse_net.HOST, port, request, timeout=5)


def malformed(server) -> rawws.HTTPResponse:
    return exchange(server.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon in this header line\r\n\r\n")


def bad_handshake(server) -> rawws.HTTPResponse:
    request, _ = rawws.build_request("/", host=f"127.0.0.1:{server.port}", omit=("Sec-WebSocket-Key",))
    return exchange(server.port, request)


def foreign_origin(server) -> rawws.HTTPResponse:
    return abuse_net.ws_upgrade(server.port, "/", {"Origin": "http://evil.example"})


def not_found(server) -> rawws.HTTPResponse:
    return abuse_net.http_get(server.port, "/no-such-page")


def unknown_session(server) -> rawws.HTTPResponse:
    return abuse_net.http_get(server.port, "/socket.io/?EIO=4&transport=polling&sid=no-such-session")


def body_too_large(server) -> rawws.HTTPResponse:
    size = 2 * MiB  # over the 1 MiB default of plain HTTP bodies
    head = f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: {size}\r\n\r\n".encode()
    return exchange(server.port, head + bytes(size))


def upgrade_required(server) -> rawws.HTTPResponse:
    return abuse_net.http_get(server.port, "/")


def over_connection_limit(server) -> rawws.HTTPResponse:
    first = rawws.open_ws(abuse_net.HOST, server.port)
    try:
        return abuse_net.ws_upgrade(server.port, "/")
    finally:
        first.close()


CASES = [
    # (id, command, flags, request, expected status)
    ("400-malformed-http", "echo", [], malformed, 400),
    ("400-bad-handshake", "echo", [], bad_handshake, 400),
    ("400-engine-io-unknown-sid", "chat", [], unknown_session, 400),
    ("403-foreign-origin", "chat", [], foreign_origin, 403),
    ("404-chat", "chat", [], not_found, 404),
    ("413-body-too-large", "echo", [], body_too_large, 413),
    ("426-plain-get-on-echo", "echo", [], upgrade_required, 426),
    ("503-connection-limit", "echo", ["--max-connections", "1"], over_connection_limit, 503),
]


@pytest.mark.parametrize("command,flags,make_request,status", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_responses_say_nosniff(start_server, command, flags, make_request, status):
    """Baseline: every case FAILS (no X-Content-Type-Options on any error; 403: 101 instead)."""
    server = start_server(command, *flags)
    response = make_request(server)
    text = f"{response.status} {response.reason} {response.headers} {response.body[:120]!r}"
    assert response.status == status, text
    assert (response.header("X-Content-Type-Options") or "").lower() == "nosniff", text


def test_chat_page_cannot_be_framed(chat):
    """Baseline: FAILS — the page has X-Content-Type-Options but no Content-Security-Policy."""
    response = abuse_net.http_get(chat.port, "/")
    assert response.status == 200
    policy = response.header("Content-Security-Policy") or ""
    assert "frame-ancestors" in policy, f"Content-Security-Policy: {policy!r}; headers {response.headers}"
    assert (response.header("X-Content-Type-Options") or "").lower() == "nosniff", response.headers
