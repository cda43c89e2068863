"""Frame-level behaviour of `duplex echo` seen through a raw socket:
reassembly, control frames, and the close codes of protocol violations."""

from __future__ import annotations

import os
import struct
import time

import pytest

import rawws
from rawws import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT


@pytest.fixture
def ws(server):
    conn = rawws.open_ws(server.host, server.port)
    yield conn
    conn.close()


def assert_server_fails(conn: rawws.RawWebSocket, code: int, timeout: float = 5.0) -> None:
    """The server sends a close frame with `code` (unmasked, FIN set), then
    closes the TCP connection."""
    try:
        frame = conn.expect_close(timeout)
    except rawws.EOFBeforeFrame as exc:
        raise AssertionError(f"expected close frame {code}, but the server closed TCP without one ({exc})")
    except TimeoutError:
        raise AssertionError(f"expected close frame {code}, got nothing within {timeout}s")
    assert frame.close_code == code, (
        f"expected close code {code}, got {frame.close_code} (reason {frame.close_reason!r})")
    assert frame.fin and not frame.masked and frame.rsv == 0, f"malformed server close frame {frame}"
    try:  # a polite client answers the close; the server may already be gone
        conn.send_frame(OP_CLOSE, rawws.close_payload(code))
    except OSError:
        pass
    assert conn.wait_eof(5), "server did not close the TCP connection after the close frame"


def echo_raw(conn: rawws.RawWebSocket, opcode: int, payload: bytes) -> None:
    conn.send_frame(opcode, payload)
    got_op, got = conn.recv_message()
    assert (got_op, got) == (opcode, payload)


# ----------------------------------------------------------------- well-formed traffic


def test_server_frames_are_unmasked_and_final(ws):
    ws.send_frame(OP_TEXT, b"hi")
    f = ws.recv_frame()
    assert f.opcode == OP_TEXT and f.payload == b"hi"
    assert not f.masked, "server frames must not be masked"
    assert f.rsv == 0


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_payload_length_encodings(ws, size):
    echo_raw(ws, OP_BINARY, os.urandom(size))


def test_fragments_with_interleaved_ping(ws):
    ws.send_frame(OP_TEXT, b"Hel", fin=False)
    ws.send_frame(OP_PING, b"mid-message")
    ws.send_frame(OP_CONT, b"lo ", fin=False)
    ws.send_frame(OP_CONT, b"world", fin=True)
    frames = [ws.recv_frame(), ws.recv_frame()]
    pongs = [f for f in frames if f.opcode == OP_PONG]
    data = [f for f in frames if f.opcode != OP_PONG]
    assert len(pongs) == 1 and pongs[0].payload == b"mid-message", frames
    assert len(data) == 1, frames
    assert data[0].opcode == OP_TEXT and data[0].payload == b"Hello world", data[0]


def test_utf8_code_point_split_across_fragments(ws):
    text = "€ 你好 🚀".encode()
    # split inside the 3-byte euro sign and inside the 4-byte emoji
    parts = [text[:1], text[1:2], text[2:-2], text[-2:]]
    ws.send_frame(OP_TEXT, parts[0], fin=False)
    for p in parts[1:-1]:
        ws.send_frame(OP_CONT, p, fin=False)
    ws.send_frame(OP_CONT, parts[-1], fin=True)
    assert ws.recv_message() == (OP_TEXT, text)


@pytest.mark.parametrize("payload", [b"", b"x", os.urandom(125)], ids=["empty", "1", "125"])
def test_ping_answered_with_same_payload(ws, payload):
    ws.send_frame(OP_PING, payload)
    f = ws.recv_frame()
    assert f.opcode == OP_PONG, f
    assert f.payload == payload
    assert f.fin and not f.masked


def test_unsolicited_pong_ignored(ws):
    ws.send_frame(OP_PONG, b"unsolicited")
    echo_raw(ws, OP_TEXT, b"still open")


@pytest.mark.parametrize("code", [1000, 1001, 1003, 3000, 4000, 4999])
def test_close_code_echoed_then_tcp_closed(ws, code):
    ws.send_frame(OP_CLOSE, rawws.close_payload(code, b"reason"))
    f = ws.expect_close()
    assert f.close_code == code
    assert ws.wait_eof(3), "server did not close TCP after the closing handshake"


def test_close_without_code(ws):
    ws.send_frame(OP_CLOSE, b"")
    f = ws.expect_close()
    # RFC 6455 7.4.1: 1005 must not be sent on the wire; empty or 1000 is fine
    assert f.close_code in (None, 1000), f
    assert ws.wait_eof(3)


# ----------------------------------------------------------------- violations


def test_invalid_utf8_text_1007(ws):
    ws.send_frame(OP_TEXT, b"valid start \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80 end")
    assert_server_fails(ws, 1007)


def test_invalid_utf8_across_fragments_1007(ws):
    ws.send_frame(OP_TEXT, b"abc\xe2\x82", fin=False)  # valid so far (incomplete euro sign)
    ws.send_frame(OP_CONT, b"(def", fin=True)  # 0x28 cannot continue it
    assert_server_fails(ws, 1007)


def test_invalid_utf8_fails_fast_before_final_fragment(ws):
    """The issue asks for fail-fast UTF-8 validation: the first fragment is
    already invalid, the final fragment never comes."""
    ws.send_frame(OP_TEXT, b"ok \xff\xfe never valid", fin=False)
    assert_server_fails(ws, 1007, timeout=3)


def test_invalid_utf8_close_reason_1007(ws):
    ws.send_frame(OP_CLOSE, rawws.close_payload(1000, b"\xff\xfe"))
    assert_server_fails(ws, 1007)


@pytest.mark.parametrize("rsv", [4, 2, 1], ids=["rsv1", "rsv2", "rsv3"])
def test_reserved_bit_1002(ws, rsv):
    ws.send_frame(OP_TEXT, b"reserved", rsv=rsv)
    assert_server_fails(ws, 1002)


@pytest.mark.parametrize("opcode", [0x3, 0x7, 0xB, 0xF])
def test_unknown_opcode_1002(ws, opcode):
    ws.send_frame(opcode, b"what")
    assert_server_fails(ws, 1002)


def test_unmasked_client_frame_1002(ws):
    ws.send_frame(OP_TEXT, b"not masked", mask=False)
    assert_server_fails(ws, 1002)


def test_continuation_without_start_1002(ws):
    ws.send_frame(OP_CONT, b"orphan", fin=True)
    assert_server_fails(ws, 1002)


def test_new_message_inside_fragmented_message_1002(ws):
    ws.send_frame(OP_TEXT, b"first", fin=False)
    ws.send_frame(OP_TEXT, b"second", fin=True)
    assert_server_fails(ws, 1002)


def test_control_frame_over_125_bytes_1002(ws):
    ws.send_frame(OP_PING, b"p" * 126)
    assert_server_fails(ws, 1002)


def test_fragmented_control_frame_1002(ws):
    ws.send_frame(OP_PING, b"part", fin=False)
    assert_server_fails(ws, 1002)


def test_close_with_one_byte_payload_1002(ws):
    ws.send_frame(OP_CLOSE, b"\x03")
    assert_server_fails(ws, 1002)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_invalid_close_code_1002(ws, code):
    ws.send_frame(OP_CLOSE, rawws.close_payload(code, b""))
    assert_server_fails(ws, 1002)


def test_64bit_length_with_msb_set_rejected(ws):
    """RFC 6455 5.2: the most significant bit of a 64-bit length MUST be 0.
    1002 (protocol error) or 1009 (too big for the max message size) are both
    acceptable; what matters is a prompt close without waiting for 2^63 bytes."""
    ws.send(struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 63) + os.urandom(4) + b"xx")
    f = ws.expect_close(5)
    assert f.close_code in (1002, 1009), f
    assert ws.wait_eof(5)


def test_no_data_after_close_is_processed(ws):
    ws.send_frame(OP_CLOSE, rawws.close_payload(1000))
    ws.send_frame(OP_TEXT, b"after close")
    f = ws.recv_frame()
    assert f.opcode == OP_CLOSE and f.close_code == 1000, f"expected the close answer first, got {f}"
    try:
        extra = ws.recv_frame(2)
    except (rawws.EOFBeforeFrame, TimeoutError):
        return
    raise AssertionError(f"server sent a frame after its close frame: {extra}")


# ----------------------------------------------------------------- size limit (1009)


@pytest.fixture
def small_ws(small_server):
    conn = rawws.open_ws(small_server.host, small_server.port)
    yield conn
    conn.close()


def test_max_size_exact_limit_accepted(small_ws):
    echo_raw(small_ws, OP_BINARY, os.urandom(1024))
    echo_raw(small_ws, OP_TEXT, b"t" * 1024)


def test_max_size_single_frame_1009(small_ws):
    small_ws.send_frame(OP_BINARY, os.urandom(1025))
    assert_server_fails(small_ws, 1009)


def test_max_size_over_fragments_1009(small_ws):
    for _ in range(2):
        small_ws.send_frame(OP_BINARY if _ == 0 else OP_CONT, os.urandom(400), fin=False)
    small_ws.send_frame(OP_CONT, os.urandom(400), fin=True)
    assert_server_fails(small_ws, 1009)


def test_max_size_announced_length_fails_fast(small_ws):
    """A header announcing 1 GiB: closed with 1009 at once, without the
    server waiting for (or buffering) the payload."""
    t0 = time.monotonic()
    small_ws.send(rawws.encode_frame(OP_BINARY, b"", length=1 << 30))  # header + mask key only
    assert_server_fails(small_ws, 1009, timeout=3)
    assert time.monotonic() - t0 < 3
