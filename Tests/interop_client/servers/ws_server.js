#!/usr/bin/env node
// Reference server on Node `ws` (Debian node-ws) for the Duplex client interop tests.
//
//   NODE_PATH=/usr/share/nodejs node ws_server.js --port P [--no-deflate] [--tls CERT KEY]
//
// Prints "READY <port>" once listening. Same paths as websockets_server.py:
// /echo, /info, /push, /close/N, /reject, /redirect.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const crypto = require('crypto');
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
let port = 0, deflate = true, tls = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port') port = Number(args[++i]);
  else if (args[i] === '--no-deflate') deflate = false;
  else if (args[i] === '--tls') { tls = { cert: fs.readFileSync(args[++i]), key: fs.readFileSync(args[++i]) }; }
}

const MIB = 1024 * 1024;
const lorem = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. ';

function pushScript() {
  return [
    { data: 'héllo wörld ✓ 𝄞', binary: false },
    { data: Buffer.from([...Array(256).keys()]), binary: true },
    { data: lorem.repeat(Math.ceil(MIB / lorem.length)).slice(0, MIB), binary: false },
    { data: crypto.randomBytes(MIB), binary: true },
    { fragments: ['frag-one ', 'frag-two ', 'frag-three ✓'], binary: false },
    { data: '', binary: false },
    { data: Buffer.alloc(0), binary: true },
  ];
}

function describe(data, binary) {
  return binary ? `binary(${data.length} bytes)` : `text(${data.length} chars)`;
}

const wss = new WebSocketServer({
  noServer: true,
  maxPayload: 64 * MIB,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
  handleProtocols: (protocols) => ['chat.v1', 'chat.v2'].find((p) => protocols.has(p)) || false,
});

function push(ws) {
  const script = pushScript();
  const problems = [];
  let index = 0;
  const sendNext = () => {
    if (index === script.length) {
      let finished = false;
      const finish = (ponged) => {
        if (finished) return;
        finished = true;
        if (!ponged) problems.push('no pong');
        ws.send('RESULT ' + (problems.length ? problems.join('; ') : 'ok'));
        ws.close(4000, 'done');
      };
      ws.once('pong', () => finish(true));
      setTimeout(() => finish(false), 10000);
      ws.ping('are you there');
      return;
    }
    const item = script[index];
    if (item.fragments) {
      item.fragments.forEach((f, i) => ws.send(f, { binary: false, fin: i === item.fragments.length - 1 }));
    } else {
      ws.send(item.data, { binary: item.binary });
    }
  };
  ws.on('message', (data, isBinary) => {
    const item = script[index];
    const want = item.fragments ? item.fragments.join('') : item.data;
    const got = isBinary ? data : data.toString('utf8');
    const same = isBinary === item.binary && (isBinary ? Buffer.compare(got, want) === 0 : got === want);
    if (!same) problems.push(`sent ${describe(want, item.binary)} got ${describe(got, isBinary)}`);
    index++;
    sendNext();
  });
  sendNext();
}

wss.on('connection', (ws, request) => {
  const path = request.url.split('?')[0];
  if (path === '/info') {
    ws.send(JSON.stringify({
      path: request.url,
      headers: request.headers,
      subprotocol: ws.protocol || null,
      extensions: ws.extensions || '',
    }));
  }
  if (path === '/echo' || path === '/info') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  } else if (path === '/push') {
    push(ws);
  } else if (path.startsWith('/close/')) {
    ws.close(Number(path.split('/')[2]), 'bye');
  } else {
    ws.close(1008, 'unknown path');
  }
});

const server = tls ? https.createServer(tls) : http.createServer();
server.on('upgrade', (request, socket, head) => {
  const path = request.url.split('?')[0];
  if (path === '/reject') {
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nConnection: close\r\n\r\ngo away\n');
    return;
  }
  if (path === '/redirect') {
    socket.end('HTTP/1.1 302 Found\r\nLocation: ws://example.invalid/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
});
server.listen(port, '127.0.0.1', () => {
  console.log(`READY ${server.address().port}`);
});
