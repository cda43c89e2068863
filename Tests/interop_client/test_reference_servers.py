"""The Duplex client (`duplex connect`) against Python `websockets` and Node `ws` servers:
with and without permessage-deflate, over ws:// and wss://."""

from __future__ import annotations

import json

import pytest

from client_support import ReferenceServer, connect

KINDS = ["websockets", "node-ws"]


@pytest.fixture(params=[(kind, deflate, tls) for kind in KINDS for deflate in (True, False) for tls in (False, True)],
                ids=lambda p: f"{p[0]}-{'deflate' if p[1] else 'plain'}-{'wss' if p[2] else 'ws'}")
def server(request, spawn, certificate):
    kind, deflate, tls = request.param
    server = spawn(ReferenceServer, kind, deflate, certificate if tls else None)
    server.deflate = deflate
    server.tls_args = ["--ca-file", certificate[0]] if tls else []
    return server


def test_push_script_echoed_back(server):
    """Unicode, binary, 1 MiB text and binary, a fragmented message, empty messages and a
    ping from the server: the client echoes all of it unchanged and answers the ping."""
    result = connect(server.url("/push"), "--echo", *server.tls_args, timeout=60)
    assert result.code == 0, result
    assert "RESULT ok" in result.messages, result
    assert 'Disconnected (code: 4000, reason: "done")' in result.stderr, result
    if server.deflate:
        assert "extensions: permessage-deflate" in result.stderr, result
    else:
        assert "extensions" not in result.stderr, result


def test_execute_prints_replies(server):
    result = connect(server.url("/echo"), *server.tls_args, "-x", "first", "-x", "second ✓", "--wait", "1")
    assert result.code == 0, result
    assert result.messages == ["first", "second ✓"], result
    assert 'Disconnected (code: 1000, reason: "")' in result.stderr, result


def test_headers_subprotocol_and_extensions_seen_by_the_server(server):
    result = connect(server.url("/info?room=1"), *server.tls_args, "-p", "chat.v2", "-p", "other",
                     "-H", "X-Token: s3cret", "-H", "Origin: https://example.com", "--wait", "0.5", "-x", "ping")
    assert result.code == 0, result
    info = json.loads(result.messages[0])
    assert info["path"] == "/info?room=1"
    assert info["headers"]["x-token"] == "s3cret"
    assert info["headers"]["origin"] == "https://example.com"
    assert info["headers"]["sec-websocket-protocol"] == "chat.v2, other"
    assert info["subprotocol"] == "chat.v2"
    assert "protocol: chat.v2" in result.stderr
    if server.deflate:
        assert info["extensions"].startswith("permessage-deflate"), info
        # The client offers the zero-state mode: no context takeover either way.
        offer = info["headers"]["sec-websocket-extensions"]
        assert "server_no_context_takeover" in offer and "client_no_context_takeover" in offer
    else:
        assert info["extensions"] == ""
    assert result.messages[1] == "ping"


def test_no_deflate_flag_offers_nothing(server):
    result = connect(server.url("/info"), *server.tls_args, "--no-deflate", "--wait", "0.3", "-x", "x")
    assert result.code == 0, result
    info = json.loads(result.messages[0])
    assert "sec-websocket-extensions" not in info["headers"]
    assert info["extensions"] == ""


@pytest.mark.parametrize("code", [1000, 1001, 4001])
def test_close_codes_from_the_server(server, code):
    result = connect(server.url(f"/close/{code}"), *server.tls_args, "--wait", "5", "-x", "hi")
    assert result.code == 0, result
    assert f'Disconnected (code: {code}, reason: "bye")' in result.stderr, result


def test_refused_handshakes(server):
    result = connect(server.url("/reject"), *server.tls_args, "-x", "hi")
    assert result.code == 1, result
    assert "403" in result.stderr and "Forbidden" in result.stderr, result
    result = connect(server.url("/redirect"), *server.tls_args, "-x", "hi")
    assert result.code == 1, result
    assert "302" in result.stderr and "ws://example.invalid/" in result.stderr and "not followed" in result.stderr, result


def test_interactive_lines_from_stdin(server):
    lines = ["one", "two ✓", "three"]
    result = connect(server.url("/echo"), *server.tls_args, "--wait", "1", stdin="\n".join(lines) + "\n")
    assert result.code == 0, result
    assert result.messages == lines, result


@pytest.mark.parametrize("kind", KINDS)
def test_compression_on_the_wire(kind, spawn, proxy):
    """Through a byte-counting relay: a 100 KB repetitive message costs a few KB each way
    with permessage-deflate, and its full size without."""
    server = spawn(ReferenceServer, kind, True, None)
    relay = proxy(server.port)
    message = "all work and no play makes jack a dull boy " * 2300  # ~100 KB
    result = connect(f"ws://127.0.0.1:{relay.port}/echo", "-x", message, "--wait", "1")
    assert result.code == 0 and result.messages == [message], result
    assert relay.up < 20_000, f"client sent {relay.up} bytes for a {len(message)}-byte message"
    assert relay.down < 20_000, f"server sent {relay.down} bytes"

    relay = proxy(server.port)
    result = connect(f"ws://127.0.0.1:{relay.port}/echo", "--no-deflate", "-x", message, "--wait", "1")
    assert result.code == 0 and result.messages == [message], result
    assert relay.up > len(message)


def test_wss_with_the_host_name(spawn, certificate):
    server = spawn(ReferenceServer, "websockets", True, certificate)
    result = connect(server.url("/echo", host="localhost"), "--ca-file", certificate[0], "-x", "by name", "--wait", "0.5")
    assert result.code == 0 and result.messages == ["by name"], result


def test_wss_untrusted_certificate_fails(spawn, certificate):
    server = spawn(ReferenceServer, "node-ws", True, certificate)
    result = connect(server.url("/echo"), "-x", "hi")
    assert result.code == 1, result
    assert "TLS" in result.stderr, result
    result = connect(server.url("/echo"), "--insecure", "-x", "hi", "--wait", "0.5")
    assert result.code == 0 and result.messages == ["hi"], result
