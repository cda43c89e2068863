"""`duplex connect` end to end against `duplex echo` (both spawned as processes)."""

from __future__ import annotations

import subprocess
import time

import pytest

from client_support import DUPLEX_BIN, DuplexEcho, connect, free_port


@pytest.mark.parametrize("mode", ["off", "shared", "context-takeover"])
def test_echo_with_and_without_deflate(spawn, mode):
    extra = [] if mode == "off" else ["--deflate", "--deflate-mode", mode]
    server = spawn(DuplexEcho, extra)
    big = "x" * 100_000
    result = connect(server.url(), "-x", "hello", "-x", "wörld ✓", "-x", big, "--wait", "1")
    assert result.code == 0, result
    assert result.messages == ["hello", "wörld ✓", big], result
    if mode == "off":
        assert "extensions" not in result.stderr
    elif mode == "shared":
        assert "extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover" in result.stderr, result
    else:
        # The client asks for no context takeover (its default); the server honours it.
        assert "extensions: permessage-deflate" in result.stderr, result


def test_suffix_and_interactive_stdin(spawn):
    server = spawn(DuplexEcho, ["--suffix", "!!!"])
    result = connect(server.url(), "--wait", "1", stdin="a\nb\n")
    assert result.code == 0, result
    assert result.messages == ["a!!!", "b!!!"]
    assert "Connected to" in result.stderr and "Disconnected (code: 1000" in result.stderr


def test_wss(spawn, certificate):
    server = spawn(DuplexEcho, ["--tls-cert", certificate[0], "--tls-key", certificate[1], "--deflate"])
    assert server.first_line.startswith("duplex echo listening on wss://")
    for host in ["127.0.0.1", "localhost"]:
        result = connect(server.url(host=host), "--ca-file", certificate[0], "-x", "secure", "--wait", "0.5")
        assert result.code == 0 and result.messages == ["secure"], result
    result = connect(server.url(), "-x", "secure")
    assert result.code == 1 and "TLS" in result.stderr, result


def test_handshake_failures_exit_non_zero():
    port = free_port()
    result = connect(f"ws://127.0.0.1:{port}/", "-x", "hi")
    assert result.code == 1 and "connection refused" in result.stderr, result
    result = connect("ws://no-such-host.invalid/", "-x", "hi")
    assert result.code == 1 and "cannot resolve host" in result.stderr, result
    result = connect("ftp://127.0.0.1/", "-x", "hi")
    assert result.code == 1 and "invalid WebSocket URL" in result.stderr, result


def test_server_shutdown_closes_the_client_with_1001(spawn):
    server = spawn(DuplexEcho, [])
    client = subprocess.Popen([DUPLEX_BIN, "connect", server.url()], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    client.stdin.write("before\n")
    client.stdin.flush()
    assert client.stdout.readline().strip() == "< before"
    server.stop()  # SIGTERM: graceful close 1001
    out, err = client.communicate(timeout=15)
    assert client.returncode == 0, err
    assert "Disconnected (code: 1001" in err, err
