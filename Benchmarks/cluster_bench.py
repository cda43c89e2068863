#!/usr/bin/env python3
"""Cross-node Socket.IO broadcast through PostgreSQL (docs/cluster.md): 1, 2 and 3
`duplex-socketio-conformance --bench --postgres URL` nodes on a throwaway PostgreSQL server
(Tests/cluster/pg_server.py), python-socketio clients (WebSocket) spread over them, one
publisher on node 1 sending "broadcast" at a fixed rate; each broadcast reaches every
client of every node.

Measured per node count: deliveries per second, deliveries per server CPU-second (the
Duplex nodes' utime+stime over the window, PostgreSQL's CPU shown apart), and the
publish-to-delivery latency p50/p99 (the generator stamps each broadcast; one process, one
clock). The generator is Python: it bounds the rate, so compare the per-CPU-second and
latency columns across node counts, not the absolute rate.

    .venv/bin/python Benchmarks/cluster_bench.py [--binary .build-release/release/duplex-socketio-conformance]
        [--clients 120] [--rate 50] [--seconds 6] [--nodes 1,2,3] [--out Benchmarks/results/cluster-DATE.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import socketio

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "Tests"))
sys.path.insert(0, str(REPO / "Tests" / "cluster"))
import duplex_process  # noqa: E402
from pg_server import PostgresServer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_cpu(data_dir: Path) -> float:
    """The postgres processes of this server (the postmaster and its children)."""
    total = 0.0
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    for pid in [postmaster] + [int(p) for p in subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True,
                                                               text=True).stdout.split()]:
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


async def run_case(args, pg: PostgresServer, node_count: int) -> dict:
    url = pg.create_database(f"bench{node_count}_{int(time.time())}")
    nodes = []
    for i in range(node_count):
        port = duplex_process.free_port()
        log = Path("/tmp/duplex-artifacts/cluster-bench") / f"node{i + 1}-{port}.log"
        proc = duplex_process.start([args.binary, "--bench", "--port", str(port), "--postgres", url, "--threads", "1"],
                                    f"node{i + 1}", log, duplex_process.accepts_tcp(port), timeout=20)
        nodes.append((port, proc))
    await asyncio.sleep(1.5)  # INITIAL_HEARTBEAT answered: every node knows the others

    latencies: list[float] = []
    received = 0
    measuring = False

    clients = []
    for i in range(args.clients):
        client = socketio.AsyncClient(reconnection=False)

        @client.on("message")
        async def on_message(stamp):
            nonlocal received
            if measuring:
                received += 1
                latencies.append(time.perf_counter() - stamp)
        port = nodes[i % node_count][0]
        await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"], wait_timeout=10)
        clients.append(client)
    publisher = socketio.AsyncClient(reconnection=False)
    await publisher.connect(f"http://127.0.0.1:{nodes[0][0]}", transports=["websocket"], wait_timeout=10)

    async def publish(seconds: float) -> int:
        sent = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            await publisher.emit("broadcast", time.perf_counter())
            sent += 1
            await asyncio.sleep(max(0.0, start + sent / args.rate - time.perf_counter()))
        return sent

    await publish(1.0)  # warm-up
    await asyncio.sleep(0.5)
    cpu0 = [cpu_seconds(p.pid) for _, p in nodes]
    pg0 = postgres_cpu(pg.data_dir)
    measuring = True
    t0 = time.perf_counter()
    sent = await publish(args.seconds)
    await asyncio.sleep(1.0)  # the last ones arrive
    measuring = False
    wall = time.perf_counter() - t0
    cpu = sum(cpu_seconds(p.pid) for _, p in nodes) - sum(cpu0)
    pg_cpu = postgres_cpu(pg.data_dir) - pg0

    for client in clients + [publisher]:
        await client.disconnect()
    for _, proc in nodes:
        duplex_process.stop(proc)
    latencies.sort()
    expected = sent * args.clients
    return {
        "nodes": node_count, "clients": args.clients, "sent": sent, "deliveries": received, "expected": expected,
        "rate": received / wall, "per_cpu": received / cpu if cpu > 0 else float("nan"), "server_cpu": cpu / wall,
        "pg_cpu": pg_cpu / wall,
        "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(REPO / ".build-release" / "release" / "duplex-socketio-conformance"))
    parser.add_argument("--clients", type=int, default=120)
    parser.add_argument("--rate", type=float, default=50.0, help="broadcasts per second")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--out", default=str(HERE / "results" / f"cluster-{datetime.date.today()}.md"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not built (swift build -c release --scratch-path .build-release --product duplex-socketio-conformance)")

    rows = []
    with PostgresServer() as pg:
        for count in [int(n) for n in args.nodes.split(",")]:
            rows.append(asyncio.run(run_case(args, pg, count)))
            print(rows[-1], flush=True)

    build = "release" if "release" in args.binary else "debug"
    lines = [
        f"# Cross-node Socket.IO broadcast through PostgreSQL — {datetime.date.today()}",
        "",
        f"Generated by `Benchmarks/cluster_bench.py` ({build} build): {args.clients} python-socketio clients "
        f"(WebSocket) spread over the nodes, one publisher on node 1 at {args.rate:g} broadcasts/s for "
        f"{args.seconds:g} s; each broadcast reaches every client of every node (io.emit). One throwaway "
        "PostgreSQL 15 on the same machine (2 cores shared by the generator, the nodes and PostgreSQL). "
        "**Per server CPU-second** = deliveries ÷ the Duplex nodes' utime+stime over the window; PostgreSQL's "
        "CPU is shown apart. The Python generator bounds the rate: compare across node counts.",
        "",
        "| nodes | deliveries (of expected) | deliveries/s | per server CPU-s | server CPU | PostgreSQL CPU | latency p50 / p99 (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['nodes']} | {r['deliveries']} / {r['expected']} | {r['rate']:.0f} | {r['per_cpu']:.0f} | "
                     f"{r['server_cpu'] * 100:.0f}% | {r['pg_cpu'] * 100:.0f}% | {r['p50']:.2f} / {r['p99']:.2f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
