"""Contract 8: a server-wide memory budget (`--memory-budget MIB`).

Bytes held by unfinished inbound messages and unsent outbound data, summed over all
connections, stay under the budget: a connection whose growth would pass it is failed with
close 1013 (Try Again Later, the reason names the memory budget) and the server logs a
warning containing "memory budget".
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass, field

import abuse_net
import abuse_proc
import rawws
from abuse_proc import MB, MiB

BUDGET_MIB = 128
CONNECTIONS = 32
PER_CONNECTION = 15 * MiB      # under --max-message-size 16 MiB: only the budget can refuse it
FRAME = 1 * MiB
ZERO_KEY = b"\0\0\0\0"         # a valid masking key that leaves the payload as is (cheap to send)
TIME_LIMIT = 30.0


@dataclass
class Sender:
    """One connection sending one never-finished binary message in 1 MiB frames (FIN=0)."""
    ws: rawws.RawWebSocket
    pending: memoryview = field(init=False)
    sent: int = 0
    outcome: str = "sending"      # sending, all sent, close <code>, reset, eof
    close_code: int | None = None
    close_reason: str = ""
    parser: abuse_net.FrameParser = field(default_factory=abuse_net.FrameParser)

    def __post_init__(self):
        self.ws.sock.setblocking(False)
        self.pending = memoryview(b"")

    def next_chunk(self) -> None:
        if not self.pending and self.sent < PER_CONNECTION:
            opcode = rawws.OP_BINARY if self.sent == 0 else rawws.OP_CONT
            head = rawws.encode_frame(opcode, b"", fin=False, mask_key=ZERO_KEY, length=FRAME)
            self.pending = memoryview(head + bytes(FRAME))

    def on_writable(self) -> None:
        self.next_chunk()
        try:
            n = self.ws.sock.send(self.pending)
        except BlockingIOError:
            return
        except OSError:
            self.outcome = self.outcome if self.outcome.startswith("close") else "reset"
            return
        self.pending = self.pending[n:]
        if not self.pending:
            self.sent += FRAME
            if self.sent >= PER_CONNECTION:
                self.outcome = "all sent"

    def on_readable(self) -> None:
        try:
            data = self.ws.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = None
        if not data:
            if not self.outcome.startswith("close"):
                self.outcome = "reset" if data is None else "eof"
            return
        for frame in self.parser.feed(data):
            if frame.opcode == rawws.OP_CLOSE:
                self.close_code = frame.close_code
                self.close_reason = frame.close_reason.decode(errors="replace")
                self.outcome = f"close {self.close_code}"

    @property
    def writing(self) -> bool:
        return self.outcome == "sending"

    @property
    def listening(self) -> bool:
        return self.outcome in ("sending", "all sent")


def drive(server, senders: list[Sender]) -> int:
    """Runs all senders (and reads what the server says) until each is done or the time is
    up, plus 2 s for late closes; returns the peak VmRSS growth seen meanwhile."""
    start = abuse_proc.rss(server.pid)
    peak = 0
    t0 = time.monotonic()
    all_sent_at = None
    while time.monotonic() - t0 < TIME_LIMIT:
        peak = max(peak, abuse_proc.rss(server.pid) - start)
        listening = [s for s in senders if s.listening]
        writing = [s for s in senders if s.writing]
        if not writing:
            all_sent_at = all_sent_at or time.monotonic()
            if not listening or time.monotonic() - all_sent_at > 2:
                break
        readable, writable, _ = select.select([s.ws.sock for s in listening], [s.ws.sock for s in writing], [], 0.1)
        by_sock = {s.ws.sock: s for s in senders}
        for sock in readable:
            by_sock[sock].on_readable()
        for sock in writable:
            if by_sock[sock].writing:
                by_sock[sock].on_writable()
    return max(peak, abuse_proc.rss(server.pid) - start)


def run_budget_scenario(server) -> tuple[list[Sender], int, str]:
    abuse_net.echo_roundtrip(server.port)
    senders = [Sender(rawws.open_ws(abuse_net.HOST, server.port)) for _ in range(CONNECTIONS)]
    try:
        peak = drive(server, senders)
    finally:
        for s in senders:
            s.ws.close()
    outcomes: dict[str, int] = {}
    for s in senders:
        outcomes[s.outcome] = outcomes.get(s.outcome, 0) + 1
    reasons = sorted({s.close_reason for s in senders if s.close_code is not None})
    summary = (f"{CONNECTIONS} connections × {PER_CONNECTION // MiB} MiB unfinished: outcomes {outcomes}, "
               f"close reasons {reasons[:3]}, peak VmRSS growth {peak / MB:.1f} MB")
    return senders, peak, summary


def test_memory_budget_fails_connections_with_1013(start_server):
    """`duplex echo --memory-budget 128 --max-message-size 16777216`; 32 connections each
    send 15 MiB of one binary message in 1 MiB frames with FIN=0 (never finished): some get
    close 1013 naming the memory budget, VmRSS grows less than 128 MiB + 64 MB, the log
    warns about the memory budget, and once they are gone a 64 KiB echo works.

    Baseline (af820c7): FAILS — `--memory-budget` is an unknown option (exit status 64).
    Without the flag the baseline accepts all 32 × 15 MiB (no close at all) and its VmRSS
    grows by 506 MB.
    """
    server = start_server("echo", "--memory-budget", str(BUDGET_MIB), "--max-message-size", str(16 * MiB))
    senders, peak, summary = run_budget_scenario(server)
    print(summary)
    server.assert_alive()
    refused = [s for s in senders if s.close_code == 1013]
    assert refused, summary
    assert all("memory budget" in s.close_reason.lower() for s in refused), summary
    assert peak < BUDGET_MIB * MiB + 64 * MB, summary
    assert "memory budget" in server.log().lower(), f"no warning about the memory budget in {server.log_path}"
    time.sleep(0.5)  # the closed connections' memory goes back to the budget
    abuse_net.echo_roundtrip(server.port, size=64 * 1024, timeout=2.0)
