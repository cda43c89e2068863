// Node `ws` peer for Benchmarks/run: echo on every path, broadcast on /broadcast
// (every message on /broadcast goes to every /broadcast connection, the sender included).
// Usage: NODE_PATH=/usr/share/nodejs node ws_server.js PORT [HOST]
'use strict';
const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2] || 3000);
const host = process.argv[3] || '127.0.0.1';
const wss = new WebSocketServer({ host, port, backlog: 1024, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
const room = new Set();

wss.on('connection', (ws, request) => {
  if (request.url === '/broadcast') {
    room.add(ws);
    ws.on('close', () => room.delete(ws));
    ws.on('message', (data, isBinary) => {
      for (const client of room) {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      }
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
wss.on('listening', () => console.log(`node ws listening on ws://${host}:${port}/`));
