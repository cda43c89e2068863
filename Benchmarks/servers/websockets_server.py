"""Python `websockets` peer for Benchmarks/run: echo on every path, broadcast on /broadcast
(every message on /broadcast goes to every /broadcast connection, the sender included).

Usage: python websockets_server.py PORT [HOST]
"""
import asyncio
import sys

from websockets.asyncio.server import broadcast, serve

ROOM = set()


async def handler(websocket):
    if websocket.request.path == "/broadcast":
        ROOM.add(websocket)
        try:
            async for message in websocket:
                broadcast(ROOM, message)
        finally:
            ROOM.discard(websocket)
    else:
        async for message in websocket:
            await websocket.send(message)


async def main(port, host):
    async with serve(handler, host, port, compression=None, max_size=16 * 1024 * 1024, backlog=1024) as server:
        print(f"python websockets listening on ws://{host}:{port}/", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000, sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"))
    except KeyboardInterrupt:
        pass
