"""Contract 3: requests pipelined behind a held Engine.IO long-poll.

A polling GET without packets to deliver is held by the server (until the next ping,
25 s by default). Requests on the same connection must wait for its answer (HTTP/1.1
answers in order); the server must stop reading them meanwhile instead of queueing all
that arrives.
"""

from __future__ import annotations

import json
import select

import abuse_net
import rawws
from abuse_proc import MB, MiB

TOTAL = 300 * MB
BODY = 64 * 1024
SERVER_READ_LIMIT = 4 * MiB
RSS_LIMIT = 64 * MB


def engine_io_handshake(sock, port: int) -> str:
    sock.sendall(f"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    response = rawws.read_response(sock, timeout=5)
    assert response.status == 200, f"Engine.IO handshake: {response.status} {response.body[:200]!r}"
    assert response.body.startswith(b"0"), response.body[:200]
    return json.loads(response.body[1:])["sid"]


def pipelined_posts(port: int) -> bytes:
    """One POST with a 64 KiB body to a plain path, repeated: each is a complete request."""
    head = (f"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {BODY}\r\n\r\n").encode()
    return (head + b"x" * BODY) * 4


def test_requests_behind_a_held_poll_are_not_read(chat):
    """The Engine.IO handshake, then the polling GET that the server holds, then up to
    300 MB of POSTs (64 KiB bodies) on the same connection: the server must stop reading,
    VmRSS grows less than 64 MB and it reads less than 4 MiB of them.

    Baseline (af820c7): FAILS — all 300 MB taken in 0.7–0.8 s and read (queued as parts
    behind the poll), VmRSS +305 MB.
    """
    before = chat.settled_memory()
    sock = rawws.connect(abuse_net.HOST, chat.port)
    try:
        sid = engine_io_handshake(sock, chat.port)
        sock.sendall(f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                     f"Host: 127.0.0.1:{chat.port}\r\n\r\n".encode())
        readable, _, _ = select.select([sock], [], [], 0.5)
        assert not readable, "the poll was answered at once: nothing is held, the test would prove nothing"

        result = abuse_net.flood(sock, pipelined_posts(chat.port), TOTAL, pid=chat.pid, time_limit=10)
        quiet = abuse_net.wait_until_quiet(sock, result, window=3, within=8)
        held = chat.memory().growth_since(before)
        summary = (f"{result.describe()}; then {'stopped' if quiet.reached else 'still'} reading after "
                   f"{quiet.waited:.1f} s, {quiet.server_read / 1e6:.2f} MB read in all; "
                   f"VmRSS growth while held {held.rss / MB:.1f} MB")
        print(summary)
        chat.assert_alive()
        assert quiet.reached, summary
        assert quiet.server_read < SERVER_READ_LIMIT, summary
        assert max(result.peak_rss_growth, held.rss) < RSS_LIMIT, summary
        probe = abuse_net.http_get(chat.port, "/healthz", timeout=2)
        assert probe.status == 200, probe
    finally:
        sock.close()
