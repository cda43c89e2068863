"""`duplex chat --metrics`: /metrics in Prometheus' text format, scraped under load, and the
counts checked against what the clients did (issue 13)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import urllib.request

import pytest
import socketio
from websockets.asyncio.client import connect

pytestmark = pytest.mark.timeout(90)

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not Prometheus text format: {line!r}"
        name, labels, value = match.groups()
        pairs = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels or ""))
        samples[(name, pairs)] = float(value)
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_endpoint_is_off_by_default(chat):
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"http://127.0.0.1:{chat.port}/metrics", timeout=5)
    assert error.value.code == 404


def test_metrics_count_what_the_clients_did(chat_factory):
    server = chat_factory("--memory", "--metrics", "--history", "0")
    ws_clients, sio_clients, per_ws, per_sio = 20, 5, 15, 10

    async def scenario():
        sockets = []
        for i in range(ws_clients):
            ws = await connect(f"ws://127.0.0.1:{server.port}/?room=load&name=ws{i}", max_queue=None)
            sockets.append(ws)
        sios = []
        for i in range(sio_clients):
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"],
                                 auth={"room": "load", "name": f"sio{i}"})
            sios.append(client)

        # Load: every client talks at once (each within the chat's rate limit).
        async def talk_ws(ws, i):
            for n in range(per_ws):
                await ws.send(f"ws{i} says {n}")

        async def talk_sio(client, i):
            for n in range(per_sio):
                await client.emit("chat message", f"sio{i} says {n}")

        load = asyncio.gather(*(talk_ws(ws, i) for i, ws in enumerate(sockets)),
                              *(talk_sio(c, i) for i, c in enumerate(sios)))
        during = await asyncio.to_thread(scrape, server.port)  # a scrape under load parses
        await load
        assert value(during, "duplex_websocket_connections") == ws_clients + sio_clients

        expected_received = ws_clients * per_ws + sio_clients * (per_sio + 1)  # + each CONNECT
        chat_messages = ws_clients * per_ws + sio_clients * per_sio
        for _ in range(200):
            samples = await asyncio.to_thread(scrape, server.port)
            if value(samples, "duplex_websocket_messages_received_total") >= expected_received \
                    and value(samples, "socket_io_events_received_total", namespace="/") >= sio_clients * per_sio \
                    and value(samples, "socket_io_events_sent_total", namespace="/") >= chat_messages * sio_clients:
                break
            await asyncio.sleep(0.05)
        assert value(samples, "duplex_websocket_connections") == ws_clients + sio_clients
        assert value(samples, "duplex_websocket_handshakes_total", result="accepted") == ws_clients + sio_clients
        # Socket.IO heartbeats (25 s) do not come in a test this short: the count is exact.
        assert value(samples, "duplex_websocket_messages_received_total") == expected_received
        assert value(samples, "socket_io_connected", namespace="/") == sio_clients
        assert value(samples, "socket_io_connect_total", namespace="/") == sio_clients
        assert value(samples, "socket_io_events_received_total", namespace="/") == sio_clients * per_sio
        # Every message reaches every member of the room (25), the sender included.
        assert value(samples, "duplex_websocket_messages_sent_total") >= chat_messages * ws_clients
        assert value(samples, "socket_io_events_sent_total", namespace="/") >= chat_messages * sio_clients
        assert value(samples, "duplex_websocket_sent_bytes_total") > value(samples, "duplex_websocket_messages_sent_total")
        assert value(samples, "duplex_chat_messages_total") == chat_messages
        assert value(samples, "duplex_chat_members") == ws_clients + sio_clients
        assert value(samples, "duplex_chat_rooms") == 1
        assert value(samples, "duplex_chat_messages_refused_total") == 0

        # A refused handshake is counted with its status.
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        b"Sec-WebSocket-Version: 13\r\n\r\n")  # no key: 400
            assert raw.recv(100).startswith(b"HTTP/1.1 400")

        for ws in sockets:
            await ws.close(code=1000)
        for client in sios:
            await client.disconnect()
        for _ in range(100):
            samples = await asyncio.to_thread(scrape, server.port)
            if value(samples, "duplex_websocket_connections") == 0 \
                    and value(samples, "socket_io_disconnect_total", namespace="/") == sio_clients \
                    and value(samples, "duplex_chat_rooms") == 0:
                break
            await asyncio.sleep(0.05)
        assert value(samples, "duplex_websocket_connections") == 0
        assert value(samples, "duplex_websocket_closes_total", code="1000") >= ws_clients
        assert value(samples, "duplex_websocket_handshakes_total", result="rejected", status="400") == 1
        assert value(samples, "socket_io_connected", namespace="/") == 0
        assert value(samples, "socket_io_disconnect_total", namespace="/") == sio_clients
        assert value(samples, "duplex_chat_members") == 0
        assert value(samples, "duplex_chat_rooms") == 0

    asyncio.run(scenario())
