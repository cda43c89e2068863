"""Server-wide behaviour of `duplex echo`: heartbeat, connection limit,
graceful shutdown on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import time

from websockets.asyncio.client import connect

import rawws
from rawws import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT


def test_heartbeat_ping_and_dead_peer_dropped(start_server):
    srv = start_server("ping1", ["--ping-interval", "1"])
    ws = rawws.open_ws(srv.host, srv.port)
    try:
        t0 = time.monotonic()
        f = ws.recv_frame(4)
        assert f.opcode == OP_PING, f"expected a heartbeat ping, got {f}"
        assert time.monotonic() - t0 < 3, "first heartbeat ping came too late for --ping-interval 1"
        # never answer: the server must give up on this peer
        t1 = time.monotonic()
        while True:
            try:
                f = ws.recv_frame(max(0.01, 10 - (time.monotonic() - t1)))
            except (rawws.EOFBeforeFrame, ConnectionError):
                break
            except TimeoutError:
                raise AssertionError("peer that never answers pings still connected 10 s later")
            assert f.opcode in (OP_PING, OP_CLOSE), f"unexpected frame {f}"
            if f.opcode == OP_CLOSE:
                assert ws.wait_eof(5), "close frame but no TCP close"
                break
    finally:
        ws.close()


def test_heartbeat_keeps_answering_peer(start_server):
    srv = start_server("ping1-alive", ["--ping-interval", "1"])
    ws = rawws.open_ws(srv.host, srv.port)
    try:
        pings, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < 4.5:
            f = ws.recv_frame(3)
            assert f.opcode == OP_PING, f
            pings += 1
            ws.send_frame(OP_PONG, f.payload)
        assert pings >= 3, f"only {pings} heartbeat pings in 4.5 s with --ping-interval 1"
        ws.send_frame(OP_TEXT, b"alive")
        assert ws.recv_message() == (OP_TEXT, b"alive")
    finally:
        ws.close()


def test_max_connections_503_and_slot_freed(start_server):
    srv = start_server("max2", ["--max-connections", "2"])
    a = rawws.open_ws(srv.host, srv.port)
    b = rawws.open_ws(srv.host, srv.port)
    try:
        request, _ = rawws.build_request(host=f"{srv.host}:{srv.port}")
        r = rawws.http_exchange(srv.host, srv.port, request)
        assert r.status == 503, f"third connection with --max-connections 2: got {r.status} {r.reason}"
        assert r.body.strip(), "503 without a reason"
        a.send_frame(OP_CLOSE, rawws.close_payload(1000))
        assert a.expect_close().close_code == 1000
        assert a.wait_eof(3)
        deadline = time.monotonic() + 3
        while True:  # the freed slot becomes available
            r = rawws.http_exchange(srv.host, srv.port, rawws.build_request(host=f"{srv.host}:{srv.port}")[0])
            if r.status == 101 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert r.status == 101, f"slot not freed after a clean close: {r.status}"
        b.send_frame(OP_TEXT, b"b still works")
        assert b.recv_message() == (OP_TEXT, b"b still works")
    finally:
        a.close()
        b.close()


def test_sigterm_closes_clients_with_1001_and_exits(start_server):
    srv = start_server("sigterm", [])

    async def go():
        clients = [await connect(srv.url, compression=None, ping_interval=None) for _ in range(3)]
        for i, ws in enumerate(clients):
            await ws.send(f"hi {i}")
            assert await ws.recv() == f"hi {i}"
        srv.proc.send_signal(signal.SIGTERM)
        for ws in clients:
            await asyncio.wait_for(ws.wait_closed(), 10)
        return [ws.protocol.close_rcvd for ws in clients]

    t0 = time.monotonic()
    rcvd = asyncio.run(go())
    for r in rcvd:
        assert r is not None, "client got no close frame on server shutdown"
        assert r.code == 1001, f"expected 1001 (going away) on shutdown, got {r.code} {r.reason!r}"
    status = srv.proc.wait(timeout=10)
    assert status == 0, f"duplex echo exited {status} after SIGTERM"
    assert time.monotonic() - t0 < 10
