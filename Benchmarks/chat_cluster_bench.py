#!/usr/bin/env python3
"""`duplex chat` on several nodes through PostgreSQL (docs/chat.md, "Several nodes"): one
room of N clients (3,000 by default) spread evenly over 1 or 3 `duplex chat --postgres`
nodes on a throwaway PostgreSQL (Tests/pg_server.py); publishers (on every node) send
chat messages at a fixed total rate within the chat's rate limit; every message reaches
every member of every node.

Measured per node count: deliveries per second, the send-to-delivery latency p50/p99 (the
message text carries its send time; CLOCK_MONOTONIC is one clock for every process of the
machine), the nodes' and PostgreSQL's CPU, and each load process's CPU: the receivers are
split over several processes (raw asyncio WebSocket clients, Tests/chat/chat_load_driver.py),
or (the default) `duplex bench chat` does it all in SwiftNIO; either way the load's CPU
column shows whether it was the bottleneck.

    .venv/bin/python Benchmarks/chat_cluster_bench.py [--binary .build-release/release/duplex]
        [--clients 3000] [--rate 10] [--seconds 15] [--nodes 1,3] [--generator duplex|python]
        [--publishers 10] [--drivers 3] [--out Benchmarks/results/chat-cluster-DATE.md]

Build first: `swift build -c release --product duplex --traits Postgres --scratch-path .build-release`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "Tests"))
sys.path.insert(0, str(REPO / "Tests" / "chat"))
import duplex_process  # noqa: E402
from chat_load_driver import RawClient, open_many, percentile  # noqa: E402
from pg_server import PostgresServer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
ROOM = "bench"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start_nodes(binary: str, url: str, count: int, logs: str) -> list:
    """`count` `duplex chat --postgres url` nodes: [(port, process)]."""
    nodes = []
    for n in range(count):
        port = duplex_process.free_port()
        log = Path(logs) / f"node{n + 1}-{port}.log"
        nodes.append((port, duplex_process.start(
            [binary, "chat", "--port", str(port), "--postgres", url, "--node-name", f"node{n + 1}", "--log-level", "warning"],
            f"node{n + 1}", log, duplex_process.accepts_tcp(port))))
    return nodes


def postgres_pids(pg: PostgresServer) -> list[int]:
    """This PostgreSQL only (other servers may run on the machine): its postmaster and children."""
    postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    return [postmaster] + [int(p) for p in subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True,
                                                          text=True).stdout.split()]


# --- a load process: receivers only

async def drive(ports: list[int], count: int, sample_every: int, seconds: float) -> dict:
    """Opens `count` members spread over `ports`, says ready, waits for `go`, then counts
    the chat messages stamped within the window (and samples latencies)."""
    clients: list[RawClient] = []
    share = [count // len(ports) + (1 if i < count % len(ports) else 0) for i in range(len(ports))]
    for port, n in zip(ports, share):
        clients += await open_many(port, n, f"?room={ROOM}", concurrency=100, keep=False)
    received = 0
    latencies: list[float] = []
    window: list[int] = [0, 1 << 62]

    def on_envelope(client, envelope):
        nonlocal received
        if envelope.get("type") != 2:
            return
        sent = int(envelope["text"].split(" ", 1)[0])
        if window[0] <= sent <= window[1]:
            received += 1
            if client.sampled:
                latencies.append((time.monotonic_ns() - sent) / 1e6)
    for i, client in enumerate(clients):
        client.sampled = i % sample_every == 0
        client.on_envelope = on_envelope
    await asyncio.sleep(2)  # the joins' presence updates settle
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    start_ns = int(line.split()[1])
    window[0], window[1] = start_ns, start_ns + int(seconds * 1e9)
    cpu0 = sum(os.times()[:2])
    await asyncio.sleep(seconds + 5)  # the window, then the tail
    cpu = sum(os.times()[:2]) - cpu0
    for client in clients:
        client.close()
    return {"received": received, "latencies": latencies, "cpu": cpu, "wall": seconds + 5, "clients": len(clients)}


# --- the run

async def publish(ports: list[int], rate: float, seconds: float) -> int:
    """Publishers at `rate` in all, spread over the nodes, each at 2 messages/s at most
    (the chat's rate limit is 20 per 5 s)."""
    count = max(2 * len(ports), -(-int(rate) // 2))
    publishers = [await RawClient.open(ports[i % len(ports)], f"?room={ROOM}") for i in range(count)]
    for publisher in publishers:
        publisher.keep = False
        publisher.task = asyncio.ensure_future(publisher.pump())
    interval = 1.0 / rate
    sent = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        publisher = publishers[sent % len(publishers)]
        publisher.send_text(f"{time.monotonic_ns()} hello from the benchmark")
        sent += 1
        await asyncio.sleep(max(0.0, start + sent * interval - time.monotonic()))
    await asyncio.sleep(5)
    for publisher in publishers:
        publisher.close()
    return sent


def run(binary: str, pg: PostgresServer, nodes_count: int, args) -> dict:
    url = pg.create_database("bench_" + uuid.uuid4().hex[:8])
    nodes = start_nodes(binary, url, nodes_count, args.logs)
    ports = [port for port, _ in nodes]
    per_driver = [args.clients // args.drivers + (1 if i < args.clients % args.drivers else 0) for i in range(args.drivers)]
    drivers = [subprocess.Popen([sys.executable, __file__, "--driver", ",".join(map(str, ports)), "--clients", str(n),
                                 "--seconds", str(args.seconds), "--sample", str(args.sample)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for n in per_driver]
    try:
        for driver in drivers:
            assert driver.stdout.readline().strip() == "ready", "a load process did not get ready"
        pg_pids = postgres_pids(pg)
        node_cpu0 = sum(cpu_seconds(proc.pid) for _, proc in nodes)
        pg_cpu0 = sum(cpu_seconds(pid) for pid in pg_pids if Path(f"/proc/{pid}").exists())
        start_ns = time.monotonic_ns()
        for driver in drivers:
            driver.stdin.write(f"go {start_ns}\n")
            driver.stdin.flush()
        sent = asyncio.run(publish(ports, args.rate, args.seconds))
        results = [json.loads(driver.stdout.readline()) for driver in drivers]
        node_cpu = sum(cpu_seconds(proc.pid) for _, proc in nodes) - node_cpu0
        pg_cpu = sum(cpu_seconds(pid) for pid in pg_pids if Path(f"/proc/{pid}").exists()) - pg_cpu0
    finally:
        for driver in drivers:
            driver.kill()
        for _, proc in nodes:
            duplex_process.stop(proc, 20)
    latencies = [value for result in results for value in result["latencies"]]
    received = sum(result["received"] for result in results)
    wall = args.seconds + 5
    return {
        "nodes": nodes_count, "clients": sum(r["clients"] for r in results), "sent": sent,
        "expected": sent * sum(r["clients"] for r in results), "received": received,
        "per_second": received / args.seconds,
        "p50": percentile(latencies, 0.5) if latencies else None, "p99": percentile(latencies, 0.99) if latencies else None,
        "node_cpu": node_cpu / wall, "pg_cpu": pg_cpu / wall,
        "driver_cpu": [r["cpu"] / r["wall"] for r in results],
        "load": os.getloadavg()[0],
    }


def run_duplex_bench(binary: str, pg: PostgresServer, nodes_count: int, args) -> dict:
    """The same run with `duplex bench chat` as the load (SwiftNIO, every member's every
    delivery counted and timed): members round-robin over the nodes, `--publishers` of them
    talking at `rate / publishers` each."""
    url = pg.create_database("bench_" + uuid.uuid4().hex[:8])
    nodes = start_nodes(binary, url, nodes_count, args.logs)
    pg_pids = postgres_pids(pg)
    command = [binary, "bench", "chat", "--json", "--quiet", "--connections", str(args.clients),
               "--publishers", str(args.publishers), "--rate", str(args.rate / args.publishers),
               "--warmup", "3", "--duration", str(args.seconds), "--concurrency", "100", "--room", f"bench-{uuid.uuid4().hex[:6]}"]
    for port, proc in nodes:
        command += ["--port", str(port), "--server-pid", str(proc.pid)]
    try:
        pg_cpu0 = sum(cpu_seconds(pid) for pid in pg_pids if Path(f"/proc/{pid}").exists())
        t0 = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.seconds + 300)
        wall = time.monotonic() - t0
        pg_cpu = sum(cpu_seconds(pid) for pid in pg_pids if Path(f"/proc/{pid}").exists()) - pg_cpu0
    finally:
        for _, proc in nodes:
            duplex_process.stop(proc, 20)
    if not done.stdout.strip():
        sys.exit(f"duplex bench chat failed ({done.returncode}): {done.stderr}")
    r = json.loads(done.stdout)
    latency = r.get("latencyMicroseconds") or {}
    return {
        "nodes": nodes_count, "clients": r["connections"], "sent": r["sent"], "ok": done.returncode == 0,
        "expected": r["expected"], "received": r["received"], "missing": r["missing"],
        "per_second": r["messagesPerSecond"],
        "p50": latency.get("p50", 0) / 1000, "p99": latency.get("p99", 0) / 1000,
        "node_cpu": (r.get("serverCPUPercent") or 0) / 100, "pg_cpu": pg_cpu / wall,
        "driver_cpu": [r["clientCPUPercent"] / 100], "load": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(REPO / ".build-release" / "release" / "duplex"))
    parser.add_argument("--clients", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second in all")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--nodes", default="1,3")
    parser.add_argument("--drivers", type=int, default=3, help="load processes (--generator python)")
    parser.add_argument("--generator", choices=["duplex", "python"], default="duplex",
                        help="duplex: `duplex bench chat` (the default); python: raw asyncio clients in --drivers processes")
    parser.add_argument("--publishers", type=int, default=10, help="members that talk (--generator duplex)")
    parser.add_argument("--sample", type=int, default=10, help="latency from every Nth client")
    parser.add_argument("--driver", help=argparse.SUPPRESS)
    parser.add_argument("--logs", default=str(duplex_process.ARTIFACT_ROOT / "chat-cluster-bench"))
    parser.add_argument("--out", default=str(HERE / "results" / f"chat-cluster-{datetime.date.today()}.md"))
    args = parser.parse_args()
    if args.driver:
        ports = [int(p) for p in args.driver.split(",")]
        print(json.dumps(asyncio.run(drive(ports, args.clients, args.sample, args.seconds))), flush=True)
        return
    Path(args.logs).mkdir(parents=True, exist_ok=True)
    rows = []
    with PostgresServer() as pg:
        for count in [int(n) for n in args.nodes.split(",")]:
            row = (run_duplex_bench if args.generator == "duplex" else run)(args.binary, pg, count, args)
            print(json.dumps(row), flush=True)
            rows.append(row)
    lines = [
        f"# `duplex chat` on several nodes through PostgreSQL — {datetime.date.today()}",
        "",
        f"Generated by `Benchmarks/chat_cluster_bench.py` (release build): {args.clients} clients in one room, spread "
        f"evenly over the nodes (connected to them directly), publishers on every node sending {args.rate:g} messages/s "
        f"in all for {args.seconds:g} s; every message reaches every member. One throwaway PostgreSQL on the same "
        f"machine ({os.cpu_count()} cores shared by the nodes, PostgreSQL and the load). CPU columns are "
        "shares of one core; the load: " + (
            f"`duplex bench chat` ({args.publishers} publishers; every delivery to every member counted and timed; "
            "the nodes' CPU over the measured window)" if args.generator == "duplex" else
            f"{args.drivers} load processes (raw asyncio WebSocket clients; CPU over the window plus 5 s of tail)")
        + ": its CPU shows whether it kept up.",
        "",
        "| nodes | clients | messages | deliveries (of expected) | deliveries/s | latency p50 / p99 (ms) | nodes CPU | PostgreSQL CPU | load processes CPU | machine load average |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fmt = lambda v: f"{v:.1f}" if v is not None else "–"  # noqa: E731
        lines.append(f"| {r['nodes']} | {r['clients']} | {r['sent']} | {r['received']} / {r['expected']} | {r['per_second']:.0f} | "
                     f"{fmt(r['p50'])} / {fmt(r['p99'])} | {r['node_cpu']:.0%} | {r['pg_cpu']:.0%} | "
                     + ", ".join(f"{c:.0%}" for c in r["driver_cpu"]) + f" | {r['load']:.1f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
