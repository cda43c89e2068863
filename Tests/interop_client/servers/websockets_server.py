#!/usr/bin/env python3
"""Reference server on Python `websockets` (asyncio) for the Duplex client interop tests.

    python websockets_server.py --port P [--no-deflate] [--tls CERT KEY]

Prints "READY <port>" once listening. Paths (the Node server has the same):
  /echo        echo every message
  /info        first sends JSON {path, headers, subprotocol, extensions}, then echoes
  /push        sends a script of messages (unicode, binary, 1 MiB text and binary,
               fragmented, empty), expects each back unchanged, pings, then sends
               "RESULT ok" (or "RESULT <what differed>") and closes with 4000 "done"
  /close/N     closes at once with code N, reason "bye"
  /reject      refuses the handshake: 403 with body "go away"
  /redirect    refuses the handshake: 302 to ws://example.invalid/
"""

import argparse
import asyncio
import hashlib
import http
import json
import os
import ssl
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

MIB = 1024 * 1024


def push_script():
    lorem = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. "
    return [
        "héllo wörld ✓ 𝄞",
        bytes(range(256)),
        (lorem * (MIB // len(lorem) + 1))[:MIB],
        os.urandom(MIB),
        ["frag-one ", "frag-two ", "frag-three ✓"],  # sent as one fragmented message
        "",
        b"",
    ]


def expected(message):
    return "".join(message) if isinstance(message, list) else message


def describe(message):
    if isinstance(message, (bytes, bytearray)):
        return "binary(%d bytes, sha1 %s)" % (len(message), hashlib.sha1(message).hexdigest()[:10])
    return "text(%d chars)" % len(message)


async def push(ws):
    problems = []
    for message in push_script():
        await ws.send(message)
        reply = await asyncio.wait_for(ws.recv(), 30)
        if reply != expected(message):
            problems.append("sent %s got %s" % (describe(expected(message)), describe(reply)))
    pong = await ws.ping(b"are you there")
    try:
        await asyncio.wait_for(pong, 10)
    except asyncio.TimeoutError:
        problems.append("no pong")
    await ws.send("RESULT " + ("ok" if not problems else "; ".join(problems)))
    await ws.close(4000, "done")


async def handler(ws):
    path = ws.request.path.split("?")[0]
    try:
        if path == "/info":
            await ws.send(json.dumps({
                "path": ws.request.path,
                "headers": {k.lower(): v for k, v in ws.request.headers.raw_items()},
                "subprotocol": ws.subprotocol,
                "extensions": ws.response.headers.get("Sec-WebSocket-Extensions", ""),
            }))
        if path in ("/echo", "/info"):
            async for message in ws:
                await ws.send(message)
        elif path == "/push":
            await push(ws)
        elif path.startswith("/close/"):
            await ws.close(int(path.split("/")[2]), "bye")
        else:
            await ws.close(1008, "unknown path")
    except ConnectionClosed:
        pass


def select_subprotocol(connection, offered):
    # Unlike `subprotocols=`, a client that offers none is still accepted.
    return next((p for p in ("chat.v1", "chat.v2") if p in offered), None)


def process_request(connection, request):
    path = request.path.split("?")[0]
    if path == "/reject":
        return connection.respond(http.HTTPStatus.FORBIDDEN, "go away\n")
    if path == "/redirect":
        response = connection.respond(http.HTTPStatus.FOUND, "")
        response.headers["Location"] = "ws://example.invalid/"
        return response
    return None


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--no-deflate", action="store_true")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    a = ap.parse_args()
    context = None
    if a.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(a.tls[0], a.tls[1])
    async with serve(handler, "127.0.0.1", a.port, compression=None if a.no_deflate else "deflate",
                     ssl=context, select_subprotocol=select_subprotocol, process_request=process_request,
                     max_size=64 * MIB, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        print("READY %d" % port, flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
