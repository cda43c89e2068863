"""`duplex chat` under load, with real clients pushing past each bound (chat_load_driver:
raw asyncio WebSocket clients, cheap enough to open thousands from one process). The
thresholds are generous (a loaded 2-core CI box, the Python clients sharing it); the
targets and the measured numbers are in docs/chat.md."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from chat_load_driver import RawClient, cpu_seconds, open_many, percentile, rss_mib, wait_for

pytestmark = pytest.mark.timeout(90)


def test_a_large_idle_room_costs_next_to_no_cpu_and_sigterm_is_quick(chat_factory):
    """5,000 members in one room (10,000 in scripts/chat-scale; fewer here to stay under a
    minute on a debug build): joining does not cost N² (no per-member enter lines or lists
    in a large room), idling costs next to no CPU, SIGTERM ends within 5 s. The previous hub
    welcomed 3,422 of 10,000 in 600 s and burned 15 s of CPU per 30 s meanwhile."""
    server = chat_factory("--memory")
    pid = server.proc.pid
    members = 5_000

    async def scenario():
        started = time.monotonic()
        clients = await open_many(server.port, members, "?room=big", keep=False)
        await wait_for(lambda: all(c.welcomed_at for c in clients), 60, "every member welcomed")
        joined = time.monotonic() - started
        # the last presence update of the storm has gone out
        await asyncio.sleep(2)
        idle_from = cpu_seconds(pid)
        await asyncio.sleep(10)
        idle_cpu = cpu_seconds(pid) - idle_from
        # one message still reaches all 10,000
        counts = [c.received for c in clients]
        clients[0].send_text("to everyone")
        await wait_for(lambda: all(c.received > n for c, n in zip(clients, counts)), 20, "the message reached every member")
        # SIGTERM with every member connected
        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        code = await asyncio.get_running_loop().run_in_executor(None, server.proc.wait, 20)
        stopped = time.monotonic() - t0
        for c in clients:
            c.close()
        return joined, idle_cpu, stopped, code

    joined, idle_cpu, stopped, code = asyncio.run(scenario())
    print(f"{members} members: joined in {joined:.1f} s, idle CPU {idle_cpu:.2f} s in 10 s, SIGTERM took {stopped:.2f} s")
    assert joined < 45, f"{members} members took {joined:.0f} s to join"
    # at most one heartbeat round (a ping to each, every 30 s) falls in the window
    assert idle_cpu < 0.6, f"{members} idle members cost {idle_cpu:.2f} s CPU in 10 s"
    assert code == 0 and stopped < 5, f"SIGTERM took {stopped:.1f} s (exit {code})"


def test_a_join_storm_gets_every_welcome_quickly(chat_factory, tmp_path):
    """2,000 clients joining at once a room where two members talk (SQLite store: each
    joiner is a new identity, one row): every welcome arrives soon, none waits behind the
    others' store writes, and the next joiner is welcomed at once."""
    server = chat_factory("--db", str(tmp_path / "chat.sqlite"))
    storm = 2_000

    async def scenario():
        # a busy room to join: history to read, messages being written meanwhile
        talkers = await open_many(server.port, 2, "?room=storm")
        await wait_for(lambda: all(c.welcomed_at for c in talkers), 20, "talkers welcomed")
        sending = True

        async def talk(c):
            i = 0
            while sending:
                c.send_text(f"talk {i}")
                i += 1
                await asyncio.sleep(1)

        chatter = [asyncio.ensure_future(talk(c)) for c in talkers]
        # 500 handshakes in flight at a time: thousands at once overflow the kernel's accept
        # queue while a debug server on a loaded box accepts (the client sees resets);
        # scripts/chat-scale opens 4,000 at once against the release build
        clients = await open_many(server.port, storm, "?room=storm&token=", concurrency=500, keep=False)
        await wait_for(lambda: all(c.welcomed_at for c in clients), 60, "every joiner welcomed")
        sending = False
        await asyncio.gather(*chatter)
        # latency: from the upgrade (the server has the connection) to the welcome; the
        # Python side itself needs seconds to open 4,000 connections, that is not counted
        waits = [c.welcomed_at - c.upgraded for c in clients]
        # the next joiner after the storm is welcomed at once
        late = await RawClient.open(server.port, "?room=storm&token=")
        late_task = asyncio.ensure_future(late.pump())
        await wait_for(lambda: late.welcomed_at, 10, "the next joiner welcomed")
        next_wait = late.welcomed_at - late.started
        for c in clients + talkers + [late]:
            c.close()
        return waits, next_wait

    waits, next_wait = asyncio.run(scenario())
    p50, p99, worst = percentile(waits, 0.5), percentile(waits, 0.99), max(waits)
    print(f"{storm} join storm: welcome p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {worst * 1000:.0f} ms; next joiner {next_wait * 1000:.0f} ms")
    # a debug build sharing 2 loaded cores with the Python clients; the release build with
    # 4,000 at once: p50 0.2 s, p99 0.4 s (docs/chat.md); the previous hub welcomed 1,032
    # of 4,000 in 120 s
    assert p50 < 3 and p99 < 8, f"welcomes: p50 {p50:.2f} s, p99 {p99:.2f} s"
    assert next_wait < 3, f"the next joiner after the storm waited {next_wait:.2f} s"


def test_messages_beyond_capacity_are_refused_with_an_error_not_queued(chat_factory, tmp_path):
    """A small bound on messages waiting for the store (--max-pending 16): a burst from 100
    clients is partly refused with `overloaded` errors to the senders, none is dropped in
    silence, nobody is disconnected, and the server's memory does not follow the burst."""
    server = chat_factory("--db", str(tmp_path / "chat.sqlite"), "--max-pending", "16")
    pid = server.proc.pid
    senders, each = 100, 15

    async def scenario():
        clients = await open_many(server.port, senders, "?room=burst")
        await wait_for(lambda: all(c.welcomed_at for c in clients), 30, "welcomed")
        rss_before = rss_mib(pid)
        for i in range(each):
            for k, c in enumerate(clients):
                c.send_text(f"m {k} {i}")
        expected = senders * each

        def accounted():
            delivered = {e["text"] for e in clients[0].envelopes if e.get("type") == 2}
            refused = sum(1 for c in clients for e in c.envelopes if e.get("type") == 6)
            return len(delivered) + refused >= expected

        await wait_for(accounted, 60, "every message delivered or refused", step=0.2)
        delivered = {e["text"] for e in clients[0].envelopes if e.get("type") == 2}
        errors = [e for c in clients for e in c.envelopes if e.get("type") == 6]
        rss_after = rss_mib(pid)
        still_open = sum(1 for c in clients if not c.closed.done())
        for c in clients:
            c.close()
        return delivered, errors, still_open, rss_before, rss_after

    delivered, errors, still_open, rss_before, rss_after = asyncio.run(scenario())
    codes = {e["code"] for e in errors}
    print(f"burst of {senders * each}: {len(delivered)} delivered, {len(errors)} refused {codes}; RSS {rss_before:.0f} -> {rss_after:.0f} MiB")
    assert errors and codes == {"overloaded"}, codes
    assert all("busy" in e["msg"] for e in errors)
    assert len(delivered) + len(errors) == senders * each, "each message is delivered or refused, never lost"
    assert len(delivered) >= 4, "the room's share of the bound (16 / 4) is accepted"
    assert still_open == senders, "a refusal never disconnects"
    assert rss_after - rss_before < 100


def test_many_small_rooms_within_their_rate_limits_keep_a_low_latency(chat_factory):
    """1,000 clients in rooms of two, each sending 2 messages a second for 8 s (within the
    rate limit): rooms do not wait behind each other, latency stays low (the previous hub's
    one chain reached a 41 s median with 3,000 such clients)."""
    server = chat_factory("--memory")
    pairs = 500

    async def scenario():
        clients = []
        for r in range(pairs):
            clients += await open_many(server.port, 2, f"?room=pair{r}", keep=False)
        await wait_for(lambda: all(c.welcomed_at for c in clients), 30, "welcomed")
        latencies: list[float] = []

        def on_envelope(client, e):
            if e.get("type") == 2 and e.get("text", "").startswith("t "):
                latencies.append(time.time() - float(e["text"].split()[1]))

        for c in clients:
            c.on_envelope = on_envelope

        async def talk(c):
            for _ in range(16):
                c.send_text(f"t {time.time():.6f}")
                await asyncio.sleep(0.5)

        await asyncio.gather(*(talk(c) for c in clients))
        await wait_for(lambda: len(latencies) >= len(clients) * 16 * 2, 30, "all delivered")
        for c in clients:
            c.close()
        return latencies

    latencies = asyncio.run(scenario())
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(f"500 rooms of two, 2 msg/s each: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms over {len(latencies)} deliveries")
    assert p50 < 1.5 and p99 < 5, f"p50 {p50:.2f} s, p99 {p99:.2f} s"
