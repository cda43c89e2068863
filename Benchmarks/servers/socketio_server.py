"""python-socketio peer for Benchmarks/run (asyncio server on aiohttp).

Events: "echo" acknowledges with its argument (42<id>["echo",x] -> 43<id>[x]);
"broadcast" emits "message" with its argument to every connected socket, the sender included.

Usage: python socketio_server.py PORT [HOST]
"""
import sys

import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", transports=["websocket"], cors_allowed_origins="*")
app = web.Application()
sio.attach(app)


@sio.on("echo")
async def echo(sid, data):
    return data


@sio.on("broadcast")
async def broadcast(sid, data):
    await sio.emit("message", data)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    web.run_app(app, host=host, port=port, backlog=1024, access_log=None,
                print=lambda *_: print(f"python-socketio listening on http://{host}:{port}/socket.io/", flush=True))
