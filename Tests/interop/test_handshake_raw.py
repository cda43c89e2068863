"""Opening handshake of `duplex echo` with hand-written HTTP over a socket."""

from __future__ import annotations

import base64
import os
import socket
import time

import pytest

import rawws
from rawws import OP_TEXT


def exchange(server, **request_kw) -> rawws.HTTPResponse:
    request, _ = rawws.build_request(host=f"{server.host}:{server.port}", **request_kw)
    return rawws.http_exchange(server.host, server.port, request)


def assert_rejected(resp: rawws.HTTPResponse, status: int) -> None:
    assert resp.status == status, f"expected {status}, got {resp.status} {resp.reason} body={resp.body!r}"
    body = resp.body.decode("utf-8", "replace")
    assert body.strip(), f"{status} without a reason in the body"
    assert "\n" not in body.rstrip("\r\n"), f"reason body is not one line: {body!r}"
    assert resp.header("Sec-WebSocket-Accept") is None


# ----------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    "connection,upgrade",
    [
        ("Upgrade", "websocket"),
        ("upgrade", "WebSocket"),
        ("keep-alive, Upgrade", "websocket"),
        ("Keep-Alive,UPGRADE", "websocket"),
        ("upgrade, keep-alive", "WEBSOCKET"),
    ],
)
def test_handshake_accepted(server, connection, upgrade):
    ws = rawws.open_ws(server.host, server.port, headers={"Connection": connection, "Upgrade": upgrade})
    try:
        r = ws.response
        assert r.status == 101
        assert (r.header("Upgrade") or "").lower() == "websocket", r.headers
        assert "upgrade" in [t.strip().lower() for t in (r.header("Connection") or "").split(",")], r.headers
        assert r.header("Sec-WebSocket-Accept") == rawws.accept_for(ws.key)  # also checked by open_ws
        assert r.header("Sec-WebSocket-Extensions") is None, "no extension was offered"
        # and it really is a WebSocket now
        ws.send_frame(OP_TEXT, b"after handshake")
        assert ws.recv_message() == (OP_TEXT, b"after handshake")
    finally:
        ws.close()


def test_lowercase_header_names_accepted(server):
    key = rawws.new_key()
    req = (f"GET /any/path?x=1 HTTP/1.1\r\nhost: {server.host}\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
           f"sec-websocket-key: {key}\r\nsec-websocket-version: 13\r\n\r\n").encode()
    with rawws.connect(server.host, server.port) as s:
        s.sendall(req)
        r = rawws.read_response(s)
    assert r.status == 101
    assert r.header("sec-websocket-accept") == rawws.accept_for(key)


def test_known_accept_value(server):
    """The RFC 6455 section 1.3 example key."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    r = exchange(server, key=key)
    assert r.status == 101
    assert r.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


# ----------------------------------------------------------------- rejected


def test_missing_key_400(server):
    assert_rejected(exchange(server, key=None), 400)


@pytest.mark.parametrize(
    "key",
    [
        "abc",
        base64.b64encode(os.urandom(15)).decode(),
        base64.b64encode(os.urandom(17)).decode(),
        "!!!!!!!!!!!!!!!!!!!!!!==",
        "",
    ],
    ids=["short", "15-bytes", "17-bytes", "not-base64", "empty"],
)
def test_bad_key_400(server, key):
    assert_rejected(exchange(server, key=key), 400)


@pytest.mark.parametrize("version", ["8", "12", "14"])
def test_unsupported_version_426(server, version):
    r = exchange(server, headers={"Sec-WebSocket-Version": version})
    assert r.status == 426, f"expected 426, got {r.status} {r.reason} body={r.body!r}"
    versions = [v.strip() for v in (r.header("Sec-WebSocket-Version") or "").split(",")]
    assert "13" in versions, f"426 without Sec-WebSocket-Version: 13 (headers {r.headers})"


def test_missing_version_rejected(server):
    r = exchange(server, omit=("Sec-WebSocket-Version",))
    assert r.status in (400, 426), f"got {r.status} {r.reason}"


def test_post_400(server):
    assert_rejected(exchange(server, method="POST"), 400)


def test_http10_400(server):
    assert_rejected(exchange(server, version="HTTP/1.0"), 400)


def test_wrong_upgrade_token_400(server):
    assert_rejected(exchange(server, headers={"Upgrade": "h2c"}), 400)


def test_connection_without_upgrade_token_400(server):
    assert_rejected(exchange(server, headers={"Connection": "keep-alive"}), 400)


def test_missing_upgrade_header_not_upgraded(server):
    r = exchange(server, omit=("Upgrade",))
    assert 400 <= r.status < 500, f"got {r.status} {r.reason}"


def test_rejection_does_not_disturb_the_server(server):
    for _ in range(20):
        assert exchange(server, key="bad").status == 400
    ws = rawws.open_ws(server.host, server.port)
    try:
        ws.send_frame(OP_TEXT, b"ok")
        assert ws.recv_message() == (OP_TEXT, b"ok")
    finally:
        ws.close()


# ----------------------------------------------------------------- slowloris


def _time_until_dropped(sock: socket.socket, limit: float) -> tuple[float | None, bytes]:
    t0 = time.monotonic()
    received = b""
    sock.settimeout(limit)
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    except (TimeoutError, socket.timeout):
        return None, received
    except ConnectionResetError:
        pass
    return time.monotonic() - t0, received


def test_slowloris_half_head_dropped(hs_server):
    with rawws.connect(hs_server.host, hs_server.port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")  # never finished
        elapsed, got = _time_until_dropped(s, 6)
    assert elapsed is not None, "slow client still connected 6 s after the 1 s handshake timeout"
    assert 0.5 <= elapsed <= 4, f"dropped after {elapsed:.2f}s, expected about 1s (--handshake-timeout 1)"
    assert not got.startswith(b"HTTP/1.1 101"), got


def test_silent_client_dropped(hs_server):
    with rawws.connect(hs_server.host, hs_server.port) as s:
        elapsed, got = _time_until_dropped(s, 6)
    assert elapsed is not None, "client that sent nothing still connected 6 s after the 1 s handshake timeout"
    assert 0.5 <= elapsed <= 4, f"dropped after {elapsed:.2f}s"


def test_handshake_timeout_does_not_hit_open_connections(hs_server):
    ws = rawws.open_ws(hs_server.host, hs_server.port)
    try:
        time.sleep(2.0)
        ws.send_frame(OP_TEXT, b"still here")
        assert ws.recv_message() == (OP_TEXT, b"still here")
    finally:
        ws.close()
