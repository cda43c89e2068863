// Node `ws` client (Debian package node-ws) for the interop tests.
//
//   NODE_PATH=/usr/share/nodejs node ws-client.js ws://127.0.0.1:PORT SCENARIO
//
// Runs one scenario against an echo server and prints one JSON line with what
// it sent and what it observed; the pytest side asserts on it. Exit status 0
// unless the script itself breaks (timeouts and errors are reported in JSON).
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const [url, scenario] = process.argv.slice(2);
const MiB = 1024 * 1024;

const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

function report(obj) {
  process.stdout.write(JSON.stringify({ scenario, ws_version: require('ws/package.json').version, ...obj }) + '\n');
  process.exit(0);
}

const timer = setTimeout(() => report({ error: 'timeout after 20 s' }), 20000);

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * MiB });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function nextMessage(ws) {
  return new Promise((resolve, reject) => {
    ws.once('message', (data, isBinary) => resolve({ data, isBinary }));
    ws.once('close', (code) => reject(new Error(`closed with ${code} while waiting for a message`)));
  });
}

function describe({ data, isBinary }) {
  return { binary: isBinary, length: data.length, sha256: sha(data) };
}

function closed(ws) {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

// Each scenario returns the JSON result.
const scenarios = {
  async text(ws) {
    const sent = 'hello from node ws ✓ 你好 🚀';
    const m = await nextMessageAfter(ws, () => ws.send(sent));
    return { sent, received: m.data.toString('utf8'), binary: m.isBinary };
  },

  async binary(ws) {
    const sent = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const m = await nextMessageAfter(ws, () => ws.send(sent));
    return { sent_hex: sent.toString('hex'), received_hex: m.data.toString('hex'), binary: m.isBinary };
  },

  async large_text(ws) {
    const sent = 'ab€中🚀'.repeat((MiB - 4) / 12) + 'abcd'; // 12 bytes per repeat: exactly 1 MiB of UTF-8
    const bytes = Buffer.from(sent, 'utf8');
    const m = await nextMessageAfter(ws, () => ws.send(sent));
    return { sent: { binary: false, length: bytes.length, sha256: sha(bytes) }, received: describe(m) };
  },

  async large_binary(ws) {
    const sent = crypto.randomBytes(MiB);
    const m = await nextMessageAfter(ws, () => ws.send(sent));
    return { sent: { binary: true, length: sent.length, sha256: sha(sent) }, received: describe(m) };
  },

  async fragmented_text(ws) {
    const parts = ['frag-1 ', 'frag-2 ', '中文 ', 'end'];
    const m = await nextMessageAfter(ws, () => {
      parts.forEach((p, i) => ws.send(p, { fin: i === parts.length - 1 }));
    });
    return { sent: parts.join(''), received: m.data.toString('utf8'), binary: m.isBinary, fragments: parts.length };
  },

  async fragmented_binary(ws) {
    const parts = [crypto.randomBytes(10), crypto.randomBytes(100000), crypto.randomBytes(1)];
    const m = await nextMessageAfter(ws, () => {
      parts.forEach((p, i) => ws.send(p, { binary: true, fin: i === parts.length - 1 }));
    });
    const whole = Buffer.concat(parts);
    return { sent: { binary: true, length: whole.length, sha256: sha(whole) }, received: describe(m) };
  },

  async ping(ws) {
    const payload = Buffer.from('node-ping-payload-\u00ff');
    const pong = await new Promise((resolve) => {
      ws.once('pong', (data) => resolve(data));
      ws.ping(payload);
    });
    const m = await nextMessageAfter(ws, () => ws.send('after ping'));
    return { sent_hex: payload.toString('hex'), pong_hex: pong.toString('hex'), after: m.data.toString() };
  },

  async close_1000(ws) {
    const c = closed(ws);
    ws.close(1000);
    return { sent_code: 1000, ...(await c) };
  },

  async close_4000(ws) {
    const c = closed(ws);
    ws.close(4000, 'node says bye');
    return { sent_code: 4000, ...(await c) };
  },

  async many(ws) {
    const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
    const received = [];
    const done = new Promise((resolve) => {
      ws.on('message', (data) => { received.push(data.toString()); if (received.length === sent.length) resolve(); });
    });
    sent.forEach((m) => ws.send(m));
    await done;
    return { sent, received };
  },
};

function nextMessageAfter(ws, action) {
  const p = nextMessage(ws);
  action();
  return p;
}

(async () => {
  const fn = scenarios[scenario];
  if (!fn) { console.error(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(', ')}`); process.exit(2); }
  let ws;
  try {
    ws = await open();
  } catch (e) {
    report({ error: `connect failed: ${e.message}` });
  }
  ws.on('error', (e) => report({ error: `ws error: ${e.message}` }));
  try {
    const result = await fn(ws);
    clearTimeout(timer);
    if (ws.readyState === WebSocket.OPEN) {
      ws.close(1000);
    }
    report(result);
  } catch (e) {
    report({ error: e.message });
  }
})();
