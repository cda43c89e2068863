"""Contract 2: a client that pipelines plain HTTP requests and never reads the responses.
The server must stop reading while its responses are unwritten, so what it holds stays
bounded, and other clients are served meanwhile.

The flood uses a non-blocking socket and a time limit: once the server stops reading, the
sender stalls (the kernel buffers fill); that is the expected outcome. Kernel buffers on
loopback hold tens of MB (tcp_rmem up to 32 MiB here), so "sent" says little: the tests
bound what the server process itself read (sent − our send queue − its receive queue).
"""

from __future__ import annotations

import threading
import time

import abuse_net
import abuse_proc
import rawws
from abuse_proc import MB, MiB

TOTAL = 20 * MB
SERVER_READ_LIMIT = 4 * MiB     # a fifth of the flood; the fixed server reads far less
QUIET_WINDOW = 3.0              # s without reading that count as "stopped reading"
RSS_LIMIT = 64 * MB
PROBE_DEADLINE = 2.0            # s for another client's answer while the flood is held


class Prober(threading.Thread):
    """Asks the server something from another connection once a second while the flood runs."""

    def __init__(self, probe):
        super().__init__(daemon=True)
        self.probe = probe
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.done = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self.done.wait(1.0):
            started = time.monotonic() - self.t0
            outcome = timed_probe(self.probe)
            if isinstance(outcome, float):
                self.latencies.append(outcome)
            else:
                self.failures.append(f"at {started:.1f} s: {outcome}")

    def stop(self):
        self.done.set()
        self.join(5)


def pipelined_gets(port: int, path: str = "/") -> bytes:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    return request * (65536 // len(request))


def timed_probe(probe) -> float | str:
    t0 = time.monotonic()
    try:
        probe()
    except Exception as error:  # noqa: BLE001 - reported by the test
        return f"{type(error).__name__}: {error}"
    return time.monotonic() - t0


def run_flood(server, probe) -> tuple[abuse_net.FloodResult, abuse_net.Quiet, abuse_proc.MemorySample, Prober, float | str]:
    before = server.settled_memory()
    prober = Prober(probe)
    hog = rawws.connect(abuse_net.HOST, server.port)
    try:
        prober.start()
        result = abuse_net.flood(hog, pipelined_gets(server.port), TOTAL, pid=server.pid, time_limit=12)
        quiet = abuse_net.wait_until_quiet(hog, result, window=QUIET_WINDOW, within=10)
        held = server.memory().growth_since(before)
        prober.stop()
        last_probe = timed_probe(probe)  # once more, with the flood's responses still unwritten
    finally:
        prober.stop()
        hog.close()
    return result, quiet, held, prober, last_probe


def check(server, result, quiet, held, prober, last_probe):
    summary = (f"{result.describe()}; then {'stopped' if quiet.reached else 'still'} reading after "
               f"{quiet.waited:.1f} s, {quiet.server_read / 1e6:.2f} MB read in all; "
               f"VmRSS growth while held {held.rss / MB:.1f} MB; "
               f"probes {len(prober.latencies)} ok (max {max(prober.latencies, default=0):.2f} s), "
               f"failures {len(prober.failures)} {prober.failures[:2]}, last probe {last_probe}")
    print(summary)
    server.assert_alive()
    assert quiet.reached, summary
    assert quiet.server_read < SERVER_READ_LIMIT, summary
    assert max(result.peak_rss_growth, held.rss) < RSS_LIMIT, summary
    assert not prober.failures, summary
    assert isinstance(last_probe, float), summary
    assert max(prober.latencies + [last_probe]) < PROBE_DEADLINE, summary


def test_echo_stops_reading_pipelined_requests_it_cannot_answer(echo):
    """`duplex echo` answers every GET with 426 (~150 bytes each for ~40 bytes of request).

    Baseline (af820c7, debug build): FAILS — in 12 s it took 5.3–9.6 MB, read 2.4–4.8 MB of
    it and was still reading 10 s later (6.3 MB read in all in one run), VmRSS +77–113 MB
    while held, and 4–6 of ~12 probes from another client got no echo within 2 s.
    """
    check(echo, *run_flood(echo, lambda: abuse_net.echo_roundtrip(echo.port, timeout=PROBE_DEADLINE)))


def test_chat_stops_reading_pipelined_page_requests(chat):
    """`duplex chat` answers every GET / with the page (~20 KB).

    Baseline (af820c7, debug build): FAILS — in 12 s it took 7.2–7.5 MB, read 4.3–4.6 MB and
    kept reading (everything sent, 7.5 MB, was read 10 s later), VmRSS +121–124 MB while
    held, 0–2 /healthz probes over 2 s.
    """
    def healthz():
        response = abuse_net.http_get(chat.port, "/healthz", timeout=PROBE_DEADLINE)
        assert response.status == 200, response

    check(chat, *run_flood(chat, healthz))
