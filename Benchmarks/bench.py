#!/usr/bin/env python3
"""Runs every scenario against every server with `duplex bench`, interleaved over rounds,
and writes Benchmarks/results/<date>.md (+ .json with every run, + .png chart).

Called by Benchmarks/run (which builds the release binary and raises the file limit).
"""
import argparse
import datetime
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"


class Server:
    def __init__(self, key, name, command, kind, env=None, broadcast=True):
        self.key, self.name, self.command, self.kind = key, name, command, kind
        self.env, self.broadcast = env or {}, broadcast


class Scenario:
    def __init__(self, key, title, kind, args, metric="messages", needs_broadcast=False, target=None):
        self.key, self.title, self.kind, self.args = key, title, kind, args
        self.metric, self.needs_broadcast, self.target = metric, needs_broadcast, target


def servers(args):
    duplex = os.path.abspath(args.duplex)
    node_env = {"NODE_PATH": os.environ.get("NODE_PATH", "/usr/share/nodejs")}
    py = sys.executable
    here = os.path.join(ROOT, "Benchmarks", "servers")
    # Every peer runs on one thread, so Duplex is measured on one event loop too ("duplex")
    # and, for reference, with its default of one event loop per core ("duplex-mt").
    loops = os.cpu_count() or 1
    echo = [duplex, "echo", "--host", HOST, "--port", "{port}", "--log-level", "error"]
    has_broadcast = duplex_has_broadcast(duplex)
    result = [
        Server("duplex", "Duplex", echo + ["--threads", "1"], "ws", broadcast=has_broadcast),
        Server("duplex-mt", f"Duplex, {loops} loops", echo, "ws", broadcast=has_broadcast),
        Server("node-ws", "Node ws", ["node", os.path.join(here, "ws_server.js"), "{port}", HOST], "ws", env=node_env),
        Server("python-websockets", "Python websockets", [py, os.path.join(here, "websockets_server.py"), "{port}", HOST], "ws"),
        Server("python-socketio", "python-socketio", [py, os.path.join(here, "socketio_server.py"), "{port}", HOST], "socketio"),
    ]
    # Duplex's Socket.IO server: the benchmark mode of duplex-socketio-conformance (built
    # next to duplex by Benchmarks/run), or any command line with {port} in
    # DUPLEX_SOCKETIO_COMMAND.
    sio = os.environ.get("DUPLEX_SOCKETIO_COMMAND")
    sio_binary = os.path.join(os.path.dirname(duplex), "duplex-socketio-conformance")
    if sio:
        result.insert(3, Server("duplex-socketio", "Duplex Socket.IO", sio.split(), "socketio"))
    elif os.path.exists(sio_binary):
        sio_command = [sio_binary, "--bench", "--host", HOST, "--port", "{port}"]
        result.insert(4, Server("duplex-socketio", "Duplex Socket.IO", sio_command + ["--threads", "1"], "socketio"))
        result.insert(5, Server("duplex-socketio-mt", f"Duplex Socket.IO, {loops} loops", sio_command, "socketio"))
    # Servers built outside this repository (uWebSockets, say), measured alongside:
    # --extra-server 'KEY=KIND:COMMAND' with KIND ws or socketio and {port} in COMMAND.
    for spec in args.extra_server:
        key, _, rest = spec.partition("=")
        kind, _, command = rest.partition(":")
        if not key or kind not in ("ws", "socketio") or "{port}" not in command:
            sys.exit(f"bench: --extra-server wants KEY=ws:COMMAND or KEY=socketio:COMMAND with {{port}}, got {spec!r}")
        result.append(Server(key, key, command.split(), kind))
    return result


def duplex_has_broadcast(duplex):
    """`duplex echo` broadcasts on /broadcast once its help says so (DUPLEX_BROADCAST=1/0 overrides)."""
    if os.environ.get("DUPLEX_BROADCAST") in ("0", "1"):
        return os.environ["DUPLEX_BROADCAST"] == "1"
    try:
        out = subprocess.run([duplex, "echo", "--help"], capture_output=True, text=True, timeout=20).stdout
    except Exception:
        return False
    return "/broadcast" in out


def scenarios(args):
    q = args.quick
    c_big = 1000
    c_idle = 2000 if q else 10000
    return [
        Scenario("echo-20B-100", "Echo, 100 connections × 20 B text", "ws", ["echo", "-c", "100", "-s", "20"],
                 target=("node-ws", 1.5)),
        Scenario("echo-20B-1000", f"Echo, {c_big} connections × 20 B text", "ws", ["echo", "-c", str(c_big), "-s", "20"],
                 target=("node-ws", 1.5)),
        Scenario("echo-16KiB-100", "Echo, 100 connections × 16 KiB binary", "ws",
                 ["echo", "-c", "100", "-s", "16384", "--binary"], target=("node-ws", 3.0)),
        Scenario("broadcast-1000", f"Broadcast to {c_big} connections (4 publishers, 32 B)", "ws",
                 ["broadcast", "-c", str(c_big), "--publishers", "4", "-s", "32"], needs_broadcast=True,
                 target=("node-ws", 3.0)),
        Scenario("connect-10k" if not q else "connect-2k", f"{c_idle} idle connections", "ws",
                 ["connect", "-c", str(c_idle), "--hold", "1" if q else "3"], metric="rss"),
        Scenario("socketio-echo-100", "Socket.IO echo with acks, 100 connections × 20 B", "socketio",
                 ["socketio", "--mode", "echo", "-c", "100", "-s", "20"], target=("python-socketio", 10.0)),
        Scenario("socketio-broadcast-1000", f"Socket.IO broadcast to {c_big} connections (4 publishers)", "socketio",
                 ["socketio", "--mode", "broadcast", "-c", str(c_big), "--publishers", "4", "-s", "32"]),
    ]


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_listening(port, process, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start listening")


def start_server(server, log):
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in server.command]
    env = dict(os.environ, **server.env)
    process = subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=ROOT, start_new_session=True)
    wait_listening(port, process)
    time.sleep(0.2)  # let it settle (imports, JIT warm-up happen in the generator's warm-up)
    return process, port


def stop_server(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_one(args, server, scenario, round_index, log):
    process, port = start_server(server, log)
    try:
        command = [os.path.abspath(args.duplex), "bench", *scenario.args, "--port", str(port),
                   "--server-pid", str(process.pid), "--json", "--quiet", "--label", f"{scenario.key}/{server.key}"]
        if scenario.metric != "rss":
            command += ["--warmup", str(args.warmup), "--duration", str(args.duration)]
        if args.threads:
            command += ["--threads", str(args.threads)]
        started = time.time()
        completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
        log.write(completed.stderr)
        log.flush()
        entry = {"scenario": scenario.key, "server": server.key, "round": round_index,
                 "wall_seconds": round(time.time() - started, 2), "exit": completed.returncode}
        try:
            entry["result"] = json.loads(completed.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            entry["error"] = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        if completed.returncode != 0 and "error" not in entry:
            entry["error"] = entry["result"].get("firstError") or "run failed (missing or malformed messages)"
        return entry
    finally:
        stop_server(process)


def value_of(entry, scenario):
    r = entry.get("result")
    if not r or entry.get("error"):
        return None
    if scenario.metric == "rss":
        return r.get("serverRSSPerConnectionBytes")
    return r.get("messagesPerServerCPUSecond")


def machine_description():
    def first_line(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except Exception:
            return "?"
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    os_name = "?"
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    versions = {}
    try:
        from importlib.metadata import version
        for package in ("websockets", "python-socketio", "python-engineio", "aiohttp"):
            try:
                versions[package] = version(package)
            except Exception:
                pass
    except ImportError:
        pass
    try:
        versions["ws (node)"] = json.load(open("/usr/share/nodejs/ws/package.json"))["version"]
    except (OSError, ValueError, KeyError):
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory": mem, "os": os_name, "kernel": platform.release(),
        "swift": first_line(["swift", "--version"]), "node": first_line(["node", "--version"]),
        "python": platform.python_version(), "packages": versions,
        "loadavg_at_start": open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None,
    }


def fmt_count(v):
    if v is None:
        return "–"
    if v >= 10_000_000:
        return f"{v / 1e6:.1f}M"
    if v >= 10_000:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def fmt_range(values, fmt=fmt_count):
    if not values:
        return "–"
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def collect(entries, scenario, server, key):
    out = []
    for e in entries:
        if e["scenario"] == scenario.key and e["server"] == server.key and e.get("result") and not e.get("error"):
            v = e["result"].get(key)
            if v is not None:
                out.append(v)
    return out


def scenario_table(entries, scenario, server_list):
    lines = []
    duplex_key = "duplex-socketio" if scenario.kind == "socketio" else "duplex"
    duplex_values = [v for v in (value_of(e, scenario) for e in entries
                                 if e["scenario"] == scenario.key and e["server"] == duplex_key) if v]
    duplex_median = statistics.median(duplex_values) if duplex_values else None
    if scenario.metric == "rss":
        lines.append("| Server | RSS per connection (KB) | handshakes/s | handshakes per server CPU-s | Duplex vs. this (RSS) |")
        lines.append("|---|---|---|---|---|")
    else:
        unit = "deliveries" if "broadcast" in scenario.key else "acks" if "socketio-echo" in scenario.key else "msgs"
        lines.append(f"| Server | {unit} per server CPU-s | {unit}/s | server CPU | generator CPU | latency p50 / p99 (ms) | Duplex ÷ this (per CPU-s) |")
        lines.append("|---|---|---|---|---|---|---|")
    for server in server_list:
        runs = [e for e in entries if e["scenario"] == scenario.key and e["server"] == server.key]
        if not runs:
            continue
        failures = [e for e in runs if e.get("error")]
        values = [v for v in (value_of(e, scenario) for e in runs) if v]
        note = f" ({len(failures)} of {len(runs)} runs failed: {failures[0]['error'][:80]})" if failures else ""
        if scenario.metric == "rss":
            kb = [v / 1000 for v in values]
            ratio = (f"{statistics.median(values) / duplex_median:.2f}× the memory" if duplex_median and values and server.key != duplex_key
                     else "—")
            lines.append(f"| {server.name}{note} | {fmt_range(kb, lambda x: f'{x:.1f}')} | "
                         f"{fmt_range(collect(entries, scenario, server, 'handshakesPerSecond'))} | "
                         f"{fmt_range(collect(entries, scenario, server, 'handshakesPerServerCPUSecond'))} | {ratio} |")
        else:
            ratio = "—"
            if duplex_median and values and server.key != duplex_key:
                ratio = f"**{duplex_median / statistics.median(values):.2f}×**"
            lat = [e["result"]["latencyMicroseconds"] for e in runs if e.get("result") and not e.get("error") and e["result"].get("latencyMicroseconds")]
            lat_s = (f"{statistics.median([l['p50'] for l in lat]) / 1000:.2f} / {statistics.median([l['p99'] for l in lat]) / 1000:.2f}"
                     if lat else "–")
            srv = collect(entries, scenario, server, "serverCPUPercent")
            gen = collect(entries, scenario, server, "clientCPUPercent")
            srv_s = f"{statistics.median(srv):.0f}%" if srv else "–"
            gen_s = f"{statistics.median(gen):.0f}%" if gen else "–"
            lines.append(f"| {server.name}{note} | {fmt_range(values)} | "
                         f"{fmt_range(collect(entries, scenario, server, 'messagesPerSecond'))} | "
                         f"{srv_s} | {gen_s} | {lat_s} | {ratio} |")
    return lines


def summary_table(entries, scenario_list, server_list, kind):
    """One line per scenario of `kind`: medians per server CPU-second (RSS for connect) and the target."""
    group = [s for s in server_list if s.kind == kind]
    chosen = [s for s in scenario_list if s.kind == kind]
    if not group or not chosen:
        return []
    lines = ["| Scenario | " + " | ".join(s.name for s in group) + " | Target | Now |",
             "|---|" + "---|" * len(group) + "---|---|"]
    duplex_key = "duplex-socketio" if kind == "socketio" else "duplex"
    for scenario in chosen:
        cells, medians = [], {}
        for server in group:
            values = [v for v in (value_of(e, scenario) for e in entries
                                  if e["scenario"] == scenario.key and e["server"] == server.key) if v]
            if values:
                medians[server.key] = statistics.median(values)
                cells.append(f"{statistics.median(values) / 1000:.1f} KB" if scenario.metric == "rss" else fmt_count(statistics.median(values)))
            else:
                cells.append("n/a")
        target, now = "", ""
        if scenario.metric == "rss" and scenario.key != "connect-10k":
            target = "≤ 4 KB at 10,000"  # fixed costs weigh more at fewer connections
            now = "not measured (--quick)"
        elif scenario.metric == "rss":
            target = "≤ 4 KB"
            d = medians.get(duplex_key)
            now = f"{d / 1000:.1f} KB {'✅' if d <= 4000 else '❌'}" if d else "n/a"
        elif scenario.target:
            peer, factor = scenario.target
            target = f"≥ {factor:g}× {peer}"
            d, p = medians.get(duplex_key), medians.get(peer)
            now = f"{d / p:.2f}× {'✅' if d / p >= factor else '❌'}" if d and p else "n/a"
        lines.append(f"| {scenario.title} | " + " | ".join(cells) + f" | {target} | {now} |")
    return lines


def write_chart(path, entries, scenario_list, server_list):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib missing, no chart", file=sys.stderr)
        return False
    shown = [s for s in scenario_list if any(e["scenario"] == s.key and value_of(e, s) for e in entries)]
    if not shown:
        return False
    cols = 2
    rows = (len(shown) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(12, 3.2 * rows), squeeze=False)
    colors = {"duplex": "#e4572e", "duplex-socketio": "#e4572e", "node-ws": "#4c9f38",
              "python-websockets": "#3f7cac", "python-socketio": "#3f7cac"}
    for ax, scenario in zip(axes.flat, shown):
        names, medians, lo, hi, cs = [], [], [], [], []
        for server in server_list:
            values = [v for v in (value_of(e, scenario) for e in entries
                                  if e["scenario"] == scenario.key and e["server"] == server.key) if v]
            if not values:
                continue
            scale = 1000 if scenario.metric == "rss" else 1000
            m = statistics.median(values) / scale
            names.append(server.name)
            medians.append(m)
            lo.append(m - min(values) / scale)
            hi.append(max(values) / scale - m)
            cs.append(colors.get(server.key, "#888888"))
        ax.barh(names, medians, xerr=[lo, hi], color=cs, capsize=3)
        ax.invert_yaxis()
        ax.set_title(scenario.title, fontsize=10)
        ax.set_xlabel("KB of server RSS per connection (lower is better)" if scenario.metric == "rss"
                      else "thousand per server CPU-second (higher is better)", fontsize=8)
        ax.tick_params(labelsize=8)
        for i, m in enumerate(medians):
            ax.text(m, i, f" {m:.1f}", va="center", fontsize=8)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    fig.suptitle("Duplex vs. peers — medians with min–max over rounds, same generator (duplex bench), loopback", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def run_all(args, server_list, scenario_list, log_path):
    machine = machine_description()
    skipped = []
    entries = []
    started = time.time()
    with open(log_path, "w") as log:
        for round_index in range(args.rounds):
            for scenario in scenario_list:
                group = [s for s in server_list if s.kind == scenario.kind]
                # Interleave: rotate the order of servers every round.
                shift = round_index % len(group) if group else 0
                for server in group[shift:] + group[:shift]:
                    if scenario.needs_broadcast and not server.broadcast:
                        if round_index == 0:
                            skipped.append(f"{scenario.key} on {server.name}: no broadcast endpoint yet")
                        continue
                    label = f"round {round_index + 1}/{args.rounds} {scenario.key} {server.name}"
                    print(f"bench: {label} …", file=sys.stderr, flush=True)
                    try:
                        entry = run_one(args, server, scenario, round_index, log)
                    except Exception as error:  # a server that does not start, a generator that hangs
                        entry = {"scenario": scenario.key, "server": server.key, "round": round_index, "error": str(error)}
                    entries.append(entry)
                    v = value_of(entry, scenario)
                    shown = (f"{v / 1000:.1f} KB/conn" if scenario.metric == "rss" else f"{fmt_count(v)} per server CPU-s") if v else "—"
                    extra = ""
                    if entry.get("result") and scenario.metric != "rss":
                        r = entry["result"]
                        extra = f", {fmt_count(r['messagesPerSecond'])}/s, server {r.get('serverCPUPercent') or 0:.0f}% gen {r['clientCPUPercent']:.0f}%"
                    print(f"bench:   {shown}{extra}" + (f"  ERROR {entry['error']}" if entry.get("error") else ""), file=sys.stderr, flush=True)
    elapsed = time.time() - started
    return machine, entries, skipped, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duplex", default=os.path.join(ROOT, ".build-release/release/duplex"), help="the duplex binary")
    parser.add_argument("--quick", action="store_true", help="smoke check: short windows, 1 round, 2k idle connections")
    parser.add_argument("--rounds", type=int, help="rounds (default 3; --quick: 1)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per run (default 2; --quick: 0.5)")
    parser.add_argument("--duration", type=float, help="measured seconds per run (default 6; --quick: 1.5)")
    parser.add_argument("--threads", type=int, help="generator threads (default: one per core)")
    parser.add_argument("--scenarios", help="comma-separated scenario keys (default: all)")
    parser.add_argument("--servers", help="comma-separated server keys (default: all)")
    parser.add_argument("--extra-server", action="append", default=[], metavar="KEY=KIND:COMMAND",
                        help="another server to measure, e.g. 'uws=ws:/path/uws_server {port}' (repeatable)")
    parser.add_argument("--out", default=os.path.join(ROOT, "Benchmarks", "results"), help="results folder")
    parser.add_argument("--name", help="results file name without extension (default: the date; --quick: quick-<date>)")
    parser.add_argument("--no-build", action="store_true", help="(handled by Benchmarks/run) do not build")
    parser.add_argument("--note", action="append", default=[], help="a line for the results file's Notes section (repeatable)")
    parser.add_argument("--from-json", help="do not run: rewrite the .md and .png from this results .json (same --out/--name)")
    args = parser.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 2.0)
    args.duration = args.duration if args.duration is not None else (1.5 if args.quick else 6.0)
    if not args.from_json and not os.path.exists(args.duplex):
        sys.exit(f"bench: no duplex binary at {args.duplex} (run Benchmarks/run, which builds it)")

    server_list = servers(args)
    scenario_list = scenarios(args)
    if args.servers:
        wanted = args.servers.split(",")
        server_list = [s for s in server_list if s.key in wanted]
    if args.scenarios:
        wanted = args.scenarios.split(",")
        scenario_list = [s for s in scenario_list if s.key in wanted]

    os.makedirs(args.out, exist_ok=True)
    today = datetime.date.today().isoformat()
    name = args.name or (os.path.splitext(os.path.basename(args.from_json))[0] if args.from_json
                         else f"quick-{today}" if args.quick else today)
    log_path = os.path.join("/tmp", f"duplex-bench-{name}.log")
    if args.from_json:
        saved = json.load(open(args.from_json))
        machine, entries, skipped = saved["machine"], saved["entries"], saved.get("skipped", [])
        args.rounds, args.warmup, args.duration = saved["rounds"], saved["warmup"], saved["duration"]
        elapsed = saved.get("elapsed_seconds", 0)
        args.note = saved.get("notes", []) + args.note
        today = saved.get("date", today)
    else:
        machine, entries, skipped, elapsed = run_all(args, server_list, scenario_list, log_path)

    json_path = os.path.join(args.out, f"{name}.json")
    with open(json_path, "w") as f:
        json.dump({"date": today, "machine": machine, "rounds": args.rounds, "warmup": args.warmup,
                   "duration": args.duration, "elapsed_seconds": round(elapsed), "skipped": skipped,
                   "notes": args.note, "entries": entries}, f, indent=1)
    png_name = f"{name}.png"
    has_chart = write_chart(os.path.join(args.out, png_name), entries, scenario_list, server_list)

    md = [f"# Duplex benchmark results — {today}{' (quick)' if args.quick else ''}", ""]
    md.append(f"Generated by `Benchmarks/run{' --quick' if args.quick else ''}` in {elapsed / 60:.1f} min: "
              f"{args.rounds} round(s), servers interleaved (order rotated each round), every run "
              f"{args.warmup:g} s warm-up + {args.duration:g} s measured, each server started fresh for each run. "
              "Load generator: `duplex bench` (one message outstanding per connection). "
              "Figures are medians with min–max over rounds. **Per server CPU-second** = completed messages ÷ the "
              "server's utime+stime (/proc/PID/stat) over the measured window: the fair figure when the "
              "generator and the server share two cores. Method: docs/performance.md.")
    md.append("")
    md.append("## Summary (per server CPU-second; memory per idle connection)")
    md.append("")
    md += summary_table(entries, scenario_list, server_list, "ws")
    md.append("")
    sio = summary_table(entries, scenario_list, server_list, "socketio")
    if sio:
        md += sio + [""]
    if has_chart:
        md += [f"![chart]({png_name})", ""]
    for scenario in scenario_list:
        md.append(f"## {scenario.title}")
        md.append("")
        md.append("`duplex bench " + " ".join(scenario.args) + "`")
        md.append("")
        md += scenario_table(entries, scenario, [s for s in server_list if s.kind == scenario.kind])
        md.append("")
    if skipped:
        md.append("Not run: " + "; ".join(skipped) + ".")
        md.append("")
    if args.note:
        md += ["## Notes", ""] + [f"- {note}" for note in args.note] + [""]
    md.append("## Machine")
    md.append("")
    for key, value in machine.items():
        md.append(f"- {key}: {value}")
    md.append("")
    md_path = os.path.join(args.out, f"{name}.md")
    with open(md_path, "w") as f:
        f.write("\n".join(md))
    print(f"bench: wrote {md_path}, {json_path}" + (f", {png_name}" if has_chart else "") + f"; log {log_path}", file=sys.stderr)
    failures = [e for e in entries if e.get("error")]
    if failures:
        print(f"bench: {len(failures)} of {len(entries)} runs failed (see the table)", file=sys.stderr)
    print("\n".join(md))


if __name__ == "__main__":
    main()
