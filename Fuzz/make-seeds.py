#!/usr/bin/env python3
"""Writes the hand-made seed inputs under Fuzz/corpus/<target>/ (docs/fuzzing.md).

Each seed is a small valid or edge-case input, named for what it is. Run it again after
changing it; seeds found by fuzzing (regressions) are added as files directly, named
`regress-<what>`, and are not touched here.
"""
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def frame(opcode, payload=b"", fin=True, rsv1=False, masked=True, length=None):
    """A client frame; `length` overrides the announced payload length."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    m = 0x80 if masked else 0
    if n < 126:
        head += bytes([m | n])
    elif n <= 0xFFFF:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    return head + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


def close(code=None, reason=b""):
    return frame(0x8, b"" if code is None else struct.pack(">H", code) + reason)


def deflate(data):
    """RFC 7692 §7.2.1: raw deflate, sync flush, the 00 00 FF FF tail removed."""
    c = zlib.compressobj(wbits=-15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


# --- FuzzFrames: byte 0 = read size (0: one read), then client bytes after the handshake.
frames = {
    "text-hello": frame(0x1, "Hello"),
    "text-fragmented": frame(0x1, "Hel", fin=False) + frame(0x0, "lo"),
    "ping-between-fragments": frame(0x1, "Hel", fin=False) + frame(0x9, "p") + frame(0x0, "lo"),
    "binary-256": frame(0x2, bytes(range(256))),
    "binary-empty": frame(0x2, b""),
    "text-then-close": frame(0x1, "bye") + close(1000, b"done"),
    "close-empty": close(),
    "close-1005": close(1005),
    "close-one-byte": frame(0x8, b"\x03"),
    "close-invalid-utf8-reason": close(1000, b"\xff\xfe"),
    "close-4000": close(4000, "app reason".encode()),
    "unmasked": frame(0x1, "Hello", masked=False),
    "text-invalid-utf8": frame(0x1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"),
    "text-utf8-split": frame(0x1, b"\xce", fin=False) + frame(0x0, b"\xba"),
    "rsv1-without-deflate": frame(0x1, "x", rsv1=True),
    "opcode-reserved": frame(0x3, "x"),
    "ping-fragmented": frame(0x9, "p", fin=False),
    "ping-126": frame(0x9, b"p" * 126),
    "pong": frame(0xA, "unsolicited"),
    "continuation-alone": frame(0x0, "x"),
    "text-during-fragments": frame(0x1, "a", fin=False) + frame(0x1, "b"),
    "length-2-63": frame(0x2, b"", length=1 << 63),
    "length-64bit-small": bytes([0x82, 0xFF]) + struct.pack(">Q", 5) + MASK + b"12345",
    "length-16bit-small": bytes([0x82, 0xFE, 0x00, 0x05]) + MASK + b"12345",
    "over-size-limit": frame(0x2, b"", length=64 * 1024 + 1),
    "many-fragments": frame(0x1, "a", fin=False) + b"".join(frame(0x0, "a", fin=False) for _ in range(70)) + frame(0x0, "a"),
    "data-after-close": close(1000) + frame(0x1, "late"),
}
for name, data in frames.items():
    write("FuzzFrames", name, b"\x00" + data)
write("FuzzFrames", "text-hello-1-byte-reads", b"\x01" + frames["text-hello"])
write("FuzzFrames", "text-fragmented-3-byte-reads", b"\x03" + frames["text-fragmented"])
write("FuzzFrames", "binary-256-7-byte-reads", b"\x07" + frames["binary-256"])

# --- FuzzFramesDeflate: byte 0 = offer (bits 0-1), mode (bit 2), read size (bits 3-7);
# then ops: 0 raw(n, bytes) | 1 compressed(flags, n16, content) | 2 bomb(flags, byte, k16) | 3 control(kind, n, bytes)
def op_raw(data):
    out = b""
    for i in range(0, len(data), 255):
        chunk = data[i:i + 255]
        out += bytes([0, len(chunk)]) + chunk
    return out


def op_compressed(content, binary=False, fragments=1, keep=False):
    if isinstance(content, str):
        content = content.encode()
    flags = (1 if binary else 0) | ((fragments - 1) << 1) | (8 if keep else 0)
    return bytes([1, flags]) + struct.pack(">H", len(content)) + content


def op_bomb(byte, k, binary=False):
    return bytes([2, 1 if binary else 0, byte]) + struct.pack(">H", k)


def op_control(kind, payload=b""):
    return bytes([3, kind, len(payload)]) + payload


deflate_seeds = {
    "compressed-hello": (0, op_compressed("Hello, Hello, Hello, Hello")),
    "compressed-binary-fragmented": (1, op_compressed(bytes(range(200)) * 2, binary=True, fragments=3)),
    "compressed-context-takeover": (4, op_compressed("the same words again") + op_compressed("the same words again", keep=True)),
    "compressed-invalid-utf8": (1, op_compressed(b"ok \xff\xfe not ok")),
    "bomb-at-limit": (0, op_bomb(0x41, 0x1000)),
    "bomb-over-limit": (1, op_bomb(0x41, 0x1001, binary=True)),
    "window-9-offer": (3, op_compressed("small window " * 20)),
    "raw-python-deflate": (0, op_raw(frame(0x1, deflate(b"from python zlib " * 10), rsv1=True))),
    "raw-corrupt-deflate": (1, op_raw(frame(0x1, b"\xff\xff\xff\xff", rsv1=True))),
    "raw-deflate-bfinal": (0, op_raw(frame(0x1, zlib.compressobj(wbits=-15).compress(b"x") + zlib.compressobj(wbits=-15).flush(), rsv1=True))),
    "raw-rsv1-on-continuation": (0, op_raw(frame(0x1, deflate(b"ab"), fin=False, rsv1=True) + frame(0x0, b"", rsv1=True))),
    "raw-rsv1-on-ping": (0, op_raw(frame(0x9, b"", rsv1=True))),
    "ping-then-close": (2, op_control(0, b"ping") + op_compressed("after ping") + op_control(2, struct.pack(">H", 1000))),
    "close-then-compressed": (0, op_control(2, struct.pack(">H", 1001)) + op_compressed("too late")),
    "split-reads": (8 * 5, op_compressed("split into five-byte reads, five bytes each")),
}
for name, (setup, ops) in deflate_seeds.items():
    write("FuzzFramesDeflate", name, bytes([setup]) + ops)

# --- FuzzHTTP: byte 0 = read size, then raw client bytes.
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def upgrade(path="/chat", extra="", version="13", key=KEY):
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n").encode()


http = {
    "upgrade-then-text": upgrade() + frame(0x1, "Hello") + close(1000),
    "upgrade-subprotocols": upgrade(extra="Sec-WebSocket-Protocol: json, chat.v2\r\n"),
    "upgrade-deflate": upgrade(extra="Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
        + frame(0x1, deflate(b"Hello"), rsv1=True),
    "upgrade-deflate-params": upgrade(extra="Sec-WebSocket-Extensions: x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10; server_no_context_takeover, permessage-deflate\r\n"),
    "upgrade-extension-syntax-error": upgrade(extra="Sec-WebSocket-Extensions: permessage-deflate; =x;;\"\r\n"),
    "upgrade-extension-quoted": upgrade(extra="Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\"12\"\r\n"),
    "upgrade-version-8": upgrade(version="8"),
    "upgrade-bad-key": upgrade(key="short"),
    "upgrade-rejected-path": upgrade(path="/private/x"),
    "upgrade-query": upgrade(path="/chat?room=a%20b&x=%zz&&=&y"),
    "upgrade-post": upgrade().replace(b"GET", b"POST", 1),
    "upgrade-http10": upgrade().replace(b"HTTP/1.1", b"HTTP/1.0", 1),
    "get-root": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "get-keepalive-pipelined": b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b?q=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "long-poll-then-pipelined": b"GET /poll?sid=1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /poll HTTP/1.1\r\nContent-Length: 2\r\n\r\n40GET /b HTTP/1.1\r\n\r\n",
    "get-then-upgrade": b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n" + upgrade(),
    "post-body": b"POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n4hello\x1e2\x1e6",
    "post-chunked": b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "post-too-large": b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"a" * 5000,
    "http10-get": b"GET / HTTP/1.0\r\n\r\n",
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "bad-header": b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
    "bad-content-length": b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
}
for name, data in http.items():
    write("FuzzHTTP", name, b"\x00" + data)
write("FuzzHTTP", "upgrade-then-text-5-byte-reads", b"\x05" + http["upgrade-then-text"])

# --- FuzzEngineIO: one packet, a polling payload, or handshake JSON.
engineio = {
    "message": "4hello",
    "message-empty": "4",
    "ping-probe": "2probe",
    "pong": "3",
    "noop": "6",
    "upgrade": "5",
    "close": "1",
    "binary": "bAQIDBA==",
    "binary-empty": "b",
    "binary-bad-base64": "bAQ=D",
    "binary-unpadded": "bAQID",
    "type-7": "7x",
    "payload": "4hello\x1e2\x1ebAQIDBA==",
    "payload-empty-record": "4a\x1e\x1e4b",
    "payload-unicode": "4\u00e9\u00e8\U0001F600\x1e4\u4e2d\u6587",
    "open": '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}',
    "handshake-json": '{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":5000,"maxPayload":100}',
    "handshake-json-fraction": '{"sid":"abc","upgrades":["websocket"],"pingInterval":2.5,"pingTimeout":5000,"maxPayload":1e3}',
}
for name, data in engineio.items():
    write("FuzzEngineIO", name, data)
write("FuzzEngineIO", "invalid-utf8", b"4\xff\xfe")

# --- FuzzSocketIO: Engine.IO messages split by 0x1E; a record starting with 0xFF is an attachment.
socketio = {
    "connect": b"0",
    "connect-namespace-auth": b'0/admin,{"token":"abc"}',
    "disconnect": b"1/admin,",
    "event": b'2["chat message","hi"]',
    "event-namespace-ack": b'2/admin,12["ev",1,{"a":[true,null,-1.5e3]}]',
    "ack": b'3/admin,12["ok"]',
    "connect-error": b'4{"message":"Not authorized","data":{"code":1}}',
    "binary-event": b'51-["upload",{"_placeholder":true,"num":0}]\x1e\xff\x01\x02\x03',
    "binary-event-two": b'52-["files",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]\x1e\xffAB\x1e\xffCD',
    "binary-ack": b'61-/admin,7[{"_placeholder":true,"num":0}]\x1e\xffdata',
    "binary-zero-attachments": b'50-["x"]',
    "binary-missing-attachment": b'51-["x",{"_placeholder":true,"num":0}]\x1e2["y"]',
    "attachment-unexpected": b"\xff\x00",
    "placeholder-out-of-range": b'51-["x",{"_placeholder":true,"num":1}]',
    "reserved-event": b'2["disconnect"]',
    "ack-id-overflow": b'299999999999999999999999["x"]',
    "numeric-event-name": b'2[1,2]',
    "trailing": b'2["x"]]',
    "deep": b"2[" + b"[" * 200 + b"]" * 200 + b"]",
}
for name, data in socketio.items():
    write("FuzzSocketIO", name, data)

# --- FuzzJSON
json_docs = {
    "object": '{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
    "array-numbers": "[0,-0,1.5,-2.5e-3,1E10,123456789012345678901234567890,1e400,-1e-400]",
    "string-escapes": r'"\" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 \u0000"',
    "string-lone-surrogate": r'"\ud800"',
    "string-utf8": "\"h\u00e9llo \u4e2d\u6587 \U0001F600\"",
    "whitespace": " \t\r\n[ 1 , 2 ]\n",
    "duplicate-keys": '{"a":1,"a":2}',
    "empty-containers": '[{},[],"",0]',
    "deep-128": "[" * 128 + "]" * 128,
    "deep-129": "[" * 129 + "]" * 129,
    "leading-zero": "01",
    "trailing-comma": "[1,]",
    "literal-true": "true",
    "control-char-in-string": '"a\x01b"',
    "big-integer-16-digits": "1234567890123456",
    "fraction-exponent": "-0.000001e-7",
}
for name, data in json_docs.items():
    write("FuzzJSON", name, data)
write("FuzzJSON", "invalid-utf8", b'"\xc3\x28"')

# --- FuzzChatCommand
chat = {
    "say-plain": "hello everyone",
    "say-json": '{"cmd":"say","text":"hi"}',
    "nick": '{"cmd":"nick","name":"Alice"}',
    "nick-padded": ' {"cmd":"nick","name":" \\tAl ice \\t"}',
    "nick-control": '{"cmd":"nick","name":"A\\u0007b"}',
    "nick-long": '{"cmd":"nick","name":"' + "x" * 40 + '"}',
    "nick-combining": '{"cmd":"nick","name":" \\u0301x"}',
    "join": '{"cmd":"join","room":"random"}',
    "join-bad": '{"cmd":"join","room":"no spaces!"}',
    "join-unicode": '{"cmd":"join","room":"caf\u00e9-\u4e2d"}',
    "unknown": '{"cmd":"dance"}',
    "missing-field": '{"cmd":"say"}',
    "not-json": "{not json",
    "array": "[1,2]",
    "empty": "",
}
for name, data in chat.items():
    write("FuzzChatCommand", name, data)

# --- FuzzMessagePack (written by hand: the seeds must not depend on a msgpack package)
def mp_str(s):
    b = s.encode()
    return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b


attachment = (b"\x84" + mp_str("type") + b"\x03" + mp_str("data") + b"\x82" + mp_str("packet")
              + b"\x82" + mp_str("type") + b"\x02" + mp_str("data") + b"\x92" + mp_str("bin")
              + b"\xc4\x04\xde\xad\xbe\xef" + mp_str("opts") + b"\x83" + mp_str("rooms") + b"\x90"
              + mp_str("except") + b"\x90" + mp_str("flags") + b"\x80"
              + mp_str("uid") + mp_str("86f44ab166f37781") + mp_str("nsp") + mp_str("/"))
msgpack_seeds = {
    "attachment-broadcast": attachment,
    "scalars": b"\x9a\xc0\xc2\xc3\x7f\xe0\xcc\xff\xd1\x80\x00\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"
               b"\xca\x3f\xc0\x00\x00\xcf" + b"\xff" * 8,
    "str16-bin16": b"\x92\xda\x00\x03abc\xc5\x00\x02\x01\x02",
    "ext-timestamp": b"\xd6\xff\x00\x00\x00\x01",
    "ext8": b"\xc7\x03\x05\x01\x02\x03",
    "array32-huge-announced": b"\xdd\xff\xff\xff\xff\xc0",
    "bin32-huge-announced": b"\xc6\xff\xff\xff\xff\x00",
    "deep-64": b"\x91" * 64 + b"\xc0",
    "deep-65": b"\x91" * 65 + b"\xc0",
    "invalid-c1": b"\xc1",
    "bad-utf8": b"\xa2\xff\xfe",
}
for name, data in msgpack_seeds.items():
    write("FuzzMessagePack", name, data)
