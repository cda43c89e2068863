#!/usr/bin/env python3
"""Cross-node Socket.IO broadcast through PostgreSQL (docs/cluster.md): 1, 2 and 3
`duplex-socketio-conformance --bench --postgres URL` nodes on a throwaway PostgreSQL server
(Tests/pg_server.py); the load is `duplex bench socketio --mode broadcast` (SwiftNIO, one
`--port` per node: connections round-robin over the nodes, the publishers on node 1), so
the generator is not the bottleneck. Each broadcast must reach every connection of every
node (io.emit through the PostgreSQL adapter).

Measured per node count (from the generator's JSON): deliveries per second, deliveries per
server CPU-second (the Duplex nodes' utime+stime summed over the window; PostgreSQL's CPU
apart), publish-to-delivery latency p50/p99 (one clock: the generator stamps and receives).

    .venv/bin/python Benchmarks/cluster_bench.py [--build-dir .build-release/release]
        [--connections 300] [--publishers 1] [--window 4] [--seconds 8] [--nodes 1,2,3]
        [--out Benchmarks/results/cluster-DATE.md]
"""

from __future__ import annotations

import argparse
import json
import datetime
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "Tests"))
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


def run_case(args, pg: PostgresServer, node_count: int) -> dict:
    url = pg.create_database(f"bench{node_count}_{int(time.time())}")
    nodes = []
    for i in range(node_count):
        port = duplex_process.free_port()
        log = Path("/tmp/duplex-artifacts/cluster-bench") / f"node{i + 1}-{port}.log"
        proc = duplex_process.start([str(args.build_dir / "duplex-socketio-conformance"), "--bench", "--port", str(port),
                                     "--postgres", url, "--threads", "1"],
                                    f"node{i + 1}", log, duplex_process.accepts_tcp(port), timeout=20)
        nodes.append((port, proc))
    time.sleep(1.5)  # INITIAL_HEARTBEAT answered: every node knows the others
    command = [str(args.build_dir / "duplex"), "bench", "socketio", "--mode", "broadcast", "--json", "--quiet",
               "--connections", str(args.connections), "--publishers", str(args.publishers),
               "--window", str(args.window), "--duration", str(args.seconds), "--warmup", "2",
               "--threads", "1", "--label", f"{node_count} node(s)"]
    for port, proc in nodes:
        command += ["--port", str(port), "--server-pid", str(proc.pid)]
    pg0 = postgres_cpu(pg.data_dir)
    t0 = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.seconds + 120)
    wall = time.monotonic() - t0
    pg_cpu = postgres_cpu(pg.data_dir) - pg0
    for _, proc in nodes:
        duplex_process.stop(proc)
    if done.returncode not in (0, 1) or not done.stdout.strip():
        sys.exit(f"duplex bench failed ({done.returncode}): {done.stderr}")
    result = json.loads(done.stdout)
    return {"nodes": node_count, "result": result, "ok": done.returncode == 0, "pg_cpu": pg_cpu / wall,
            "stderr": done.stderr.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", type=Path, default=REPO / ".build-release" / "release",
                        help="where duplex and duplex-socketio-conformance are (release build)")
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--publishers", type=int, default=1)
    parser.add_argument("--window", type=int, default=4, help="broadcasts in flight per publisher")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--out", default=str(HERE / "results" / f"cluster-{datetime.date.today()}.md"))
    args = parser.parse_args()
    for binary in ("duplex", "duplex-socketio-conformance"):
        if not (args.build_dir / binary).exists():
            sys.exit(f"{args.build_dir / binary} not built (swift build -c release --scratch-path .build-release "
                     "--product duplex and --product duplex-socketio-conformance)")

    load = os.getloadavg()
    rows = []
    with PostgresServer() as pg:
        for count in [int(n) for n in args.nodes.split(",")]:
            rows.append(run_case(args, pg, count))
            print(rows[-1]["stderr"] or f"{count} node(s): ok", flush=True)

    build = "release" if "release" in str(args.build_dir) else "debug"
    lines = [
        f"# Cross-node Socket.IO broadcast through PostgreSQL — {datetime.date.today()}",
        "",
        f"Generated by `Benchmarks/cluster_bench.py` ({build} build, load average {load[0]:.1f} before the run on "
        f"{os.cpu_count()} cores): `duplex bench socketio --mode broadcast`, {args.connections} WebSocket connections "
        f"round-robin over the nodes, {args.publishers} publisher(s) on node 1 with {args.window} broadcasts in "
        f"flight each, {args.seconds:g} s window; each broadcast must reach every connection of every node "
        "(io.emit through the PostgreSQL adapter). One throwaway PostgreSQL on the same machine: the generator, "
        "the nodes and PostgreSQL share the cores. **Per server CPU-second** = deliveries ÷ the Duplex nodes' "
        "utime+stime summed over the window; PostgreSQL's CPU is shown apart.",
        "",
        "| nodes | deliveries (missing) | deliveries/s | per server CPU-s | server CPU | generator CPU | PostgreSQL CPU | latency p50 / p99 (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r = row["result"]
        latency = r.get("latencyMicroseconds") or {}
        lines.append(
            f"| {row['nodes']} | {r['messages']} ({r['missing']}) | {r['messagesPerSecond']:.0f} | "
            f"{(r.get('messagesPerServerCPUSecond') or float('nan')):.0f} | {(r.get('serverCPUPercent') or 0):.0f}% | "
            f"{r['clientCPUPercent']:.0f}% | {row['pg_cpu'] * 100:.0f}% | "
            f"{latency.get('p50', 0) / 1000:.2f} / {latency.get('p99', 0) / 1000:.2f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
