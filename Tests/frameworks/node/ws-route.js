// Node `ws` client (Debian package node-ws) for the framework tests.
//
//   NODE_PATH=/usr/share/nodejs node ws-route.js ws://127.0.0.1:PORT/echo SCENARIO
//
// Runs one scenario against the apps' Duplex echo route and prints one JSON line with what
// it saw; the pytest side asserts on it. Timeouts and errors are reported in the JSON.
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const [url, scenario] = process.argv.slice(2);

function report(obj) {
  process.stdout.write(JSON.stringify({ scenario, ...obj }) + '\n');
  process.exit(0);
}

setTimeout(() => report({ error: 'timeout after 20 s' }), 20000);
const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

const scenarios = {
  // Compression offered (ws's default offer); a compressible 40 000-byte text comes back.
  deflate_echo() {
    const ws = new WebSocket(url, { perMessageDeflate: true });
    const text = 'duplex in a framework '.repeat(2000).slice(0, 40000);
    ws.once('open', () => ws.send(text));
    ws.once('message', (data) => {
      const extensions = ws.extensions;
      report({ extensions, sent_sha: sha(Buffer.from(text)), received_sha: sha(data), received_length: data.length });
    });
    ws.once('error', (err) => report({ error: String(err) }));
  },
  // One byte over the route's 64 KiB limit: Duplex closes with 1009.
  too_big() {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => ws.send(Buffer.alloc(64 * 1024 + 1, 7)));
    ws.once('message', () => report({ error: 'the oversized message was echoed' }));
    ws.once('close', (code) => report({ close_code: code }));
    ws.once('error', () => {});  // the close event reports
  },
};

if (!scenarios[scenario]) report({ error: `unknown scenario ${scenario}` });
scenarios[scenario]();
