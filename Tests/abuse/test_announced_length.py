"""Contract 1: a frame header alone must not make the server allocate the payload length
the peer announces.

Baseline (af820c7): the server reserves the whole announced payload when the header
arrives (FrameReceiver.prepareTarget): numbers in the test's docstring.
"""

from __future__ import annotations

import abuse_net
import abuse_proc
import rawws
from abuse_proc import MB, MiB

CONNECTIONS = 300
ANNOUNCED = 16 * MiB   # the default --max-message-size: allowed, so it is not refused with 1009


def test_headers_announcing_16_mib_allocate_nothing(echo):
    """300 connections each send only the 14-byte header of a masked binary frame announcing
    16 MiB (127 + 8-byte length) and nothing more: the server stays alive, VmRSS grows less
    than 64 MB and VmData less than 256 MB, and a fresh client still gets its echo.

    Baseline (af820c7): FAILS on VmData — it grew by 5035 MB (16.8 MB per connection: the
    announced 16 MiB reserved at the header); VmRSS +2.4 MB (the pages are never touched);
    the fresh echo worked.
    """
    abuse_net.echo_roundtrip(echo.port)  # warm up: first connection's one-time allocations
    before = echo.settled_memory()
    sockets = []
    try:
        header = abuse_net.header_only(rawws.OP_BINARY, ANNOUNCED)
        assert len(header) == 14
        for _ in range(CONNECTIONS):
            ws = rawws.open_ws(abuse_net.HOST, echo.port)
            ws.send(header)
            sockets.append(ws)
        after = echo.settled_memory(1.0)
        growth = after.growth_since(before)
        echo.assert_alive()
        seconds = abuse_net.echo_roundtrip(echo.port, timeout=2.0)
        message = (f"{CONNECTIONS} headers announcing {ANNOUNCED} bytes: growth {growth} "
                   f"(before: {before}); fresh echo in {seconds:.2f} s")
        print(message)
        assert growth.rss < 64 * MB, message
        assert growth.vmdata < 256 * MB, message
    finally:
        for ws in sockets:
            ws.close()
