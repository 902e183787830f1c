"""Benchmark of a 1,000-host fleet: `cronops scan` against asyncssh servers serving each host's probe answer.

Run from the repo root: `python bench/bench_fleet.py [--hosts 100,1000] [--runs-per-host 100] [--logs
growing|static|both]`. Prints, per fleet size, controller CPU per host (first scan and rescan), peak RSS, and
wall time against a bare asyncssh loop running the same probe on the same servers, then how each grows from
the smallest size to the largest. Growing logs (the default) are a working fleet's: each host's syslog gains
what cron writes for its jobs every minute, so a rescan reads and stores the runs since the last scan and
judges jobs that ran on time. Static logs are the old hosts': none grows, so on a rescan every frequent
job of every host looks missed; their rescan starts at once unless --rescan-after says otherwise."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_scan import (
    CONCURRENCY,
    alice_crontab,
    cron_d_file,
    cronops_scan,
    installed_env,
    make_syslog,
    process_cpu,
    root_crontab,
    run_bare,
    verdict,
    warm_up,
)
from probe_answers import HostFiles, answer

SERVERS = 2  # server processes, each serving a share of the hosts (a port each)


def host_files(index: int, runs: int, end: datetime, grow: bool = False) -> HostFiles:
    """Host `index`'s files: its syslog holds `runs` job starts up to `end`, then, when it
    grows, what cron writes each minute since, up to the moment of each probe."""
    name = f"host{index:04d}"
    return HostFiles(
        name,
        {
            "/etc/cron.d/app": ("system", "-", cron_d_file().encode()),
            "/var/spool/cron/crontabs/alice": ("user", "alice", alice_crontab().encode()),
            "/var/spool/cron/crontabs/root": ("user", "root", root_crontab().encode()),
        },
        make_syslog(name, seed=index, end=end, runs=runs).encode(),
        grows_from=int(end.timestamp()) if grow else None,
    )


# -- the servers --------------------------------------------------------------------------------


def serve(work: Path, first: int, count: int, runs: int, grow: bool) -> None:
    """One server process: hosts first..first+count-1, each on a port of its own, which it
    prints once all listen."""
    import asyncssh

    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    files = [host_files(i, runs, end, grow) for i in range(first, first + count)]
    hosts: dict[int, HostFiles] = {}
    host_key = asyncssh.read_private_key(str(work / "host_key"))
    authorized = asyncssh.read_authorized_keys(str(work / "client_key.pub"))

    async def probe(process: asyncssh.SSHServerProcess) -> None:
        port = process.channel.get_extra_info("sockname")[1]
        script = await process.stdin.read()
        process.stdout.write(answer(hosts[port], script.decode(), int(time.time())))
        process.exit(0)

    async def main() -> None:
        for host in files:
            listener = await asyncssh.listen(
                "127.0.0.1",
                0,
                server_host_keys=[host_key],
                authorized_client_keys=authorized,
                process_factory=probe,
                encoding=None,
                backlog=512,
            )
            hosts[listener.get_port()] = host
        print(json.dumps(list(hosts)), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start_servers(
    work: Path, hosts: int, runs: int, grow: bool
) -> tuple[list[subprocess.Popen], list[int]]:
    """The server processes, and each host's port."""
    import asyncssh

    host_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key.write_private_key(str(work / "host_key"))
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key.write_private_key(str(work / "client_key"))
    client_key.write_public_key(str(work / "client_key.pub"))
    share = -(-hosts // SERVERS)
    servers = []
    for first in range(0, hosts, share):
        argv = [sys.executable, __file__, "--serve", str(work), str(first)]
        argv += [str(min(share, hosts - first)), str(runs), "grow" if grow else "static"]
        servers.append(subprocess.Popen(argv, stdout=subprocess.PIPE, env=installed_env()))
    ports = []
    for server in servers:
        assert server.stdout is not None
        try:
            ports += json.loads(server.stdout.readline())
        except json.JSONDecodeError:
            stop_servers(servers)
            raise SystemExit("a server did not start") from None
    public = host_key.export_public_key().decode().strip()
    lines = [f"[127.0.0.1]:{port} {public}" for port in ports]
    (work / "known_hosts").write_text("\n".join(lines) + "\n")
    return servers, ports


def stop_servers(servers: list[subprocess.Popen]) -> None:
    for server in servers:
        server.kill()
        server.wait()


def inventory(work: Path, ports: list[int]) -> Path:
    path = work / f"hosts-{len(ports)}.toml"
    lines = [
        "[defaults]",
        'user = "root"',
        f'identity_file = "{work / "client_key"}"',
        f'known_hosts = "{work / "known_hosts"}"',
        f"concurrency = {CONCURRENCY}",
        "connect_timeout = 30",
        "command_timeout = 120",
    ]
    for i, port in enumerate(ports):
        lines += ["", "[[hosts]]", f'name = "host{i:04d}"', 'address = "127.0.0.1"']
        lines.append(f"port = {port}")
    path.write_text("\n".join(lines) + "\n")
    return path


# -- measuring ----------------------------------------------------------------------------------


def servers_cpu(servers: list[subprocess.Popen]) -> float:
    return sum(process_cpu(server.pid) for server in servers)


def size_figures(
    work: Path,
    servers: list[subprocess.Popen],
    ports: list[int],
    hosts: int,
    args: argparse.Namespace,
) -> dict:
    """First scans, rescans and bare loops on the first `hosts` hosts: the figures per size. A
    rescan starts `rescan_after` seconds after its first scan did, its logs grown meanwhile."""
    path = inventory(work, ports[:hosts])
    figures: dict[str, list] = {"first": [], "rescan": [], "bare": [], "server_cpu": []}
    for i in range(args.repeat):
        print(f"{hosts} hosts, run {i + 1}: load {os.getloadavg()[0]:.2f}", flush=True)
        db = work / f"history-{hosts}-{i}.db"
        started = time.monotonic()
        for key in ("first", "rescan"):
            if key == "rescan" and (wait := started + args.rescan_after - time.monotonic()) > 0:
                print(f"  waiting {wait:.0f} s before the rescan", flush=True)
                time.sleep(wait)
            before = servers_cpu(servers)
            done = cronops_scan(path, db, work, f"{key}-{hosts}-{i}", hosts)
            figures["server_cpu"].append((key, servers_cpu(servers) - before))
            figures[key].append(done)
            m = done["m"]
            print(f"  {key}: {m.wall_s:.2f} s wall, {m.cpu_s:.2f} s CPU, {m.maxrss_mb:.0f} MB")
        before = servers_cpu(servers)
        done = run_bare(path, work, hosts, with_probe=True)
        figures["server_cpu"].append(("bare", servers_cpu(servers) - before))
        figures["bare"].append(done)
        print(f"  bare asyncssh: {done['m'].wall_s:.2f} s wall, {done['m'].cpu_s:.2f} s CPU")
    return figures


def best_median(values: list[float]) -> tuple[float, float]:
    return min(values), statistics.median(values)


def summary(hosts: int, runs: int, figures: dict, grow: bool) -> dict:
    """Each figure of one fleet size as (best, median) over the repeats."""

    def of(key: str, field: str) -> list[float]:
        return [getattr(r["m"], field) for r in figures[key]]

    def against_bare(key: str) -> list[float]:
        pairs = zip(figures[key], figures["bare"], strict=True)
        return [done["m"].wall_s / bare["m"].wall_s for done, bare in pairs]

    def server(key: str) -> list[float]:
        return [cpu for scan, cpu in figures["server_cpu"] if scan == key]

    first_cpu, rescan_cpu = of("first", "cpu_s"), of("rescan", "cpu_s")
    # a first scan stores the planted runs (and, logs growing, those since); a rescan none of
    # them again: only, logs growing, the runs started since (none when no job was due)
    first_runs = [r["new_runs"] or 0 for r in figures["first"]]
    rescan_runs = [r["new_runs"] or 0 for r in figures["rescan"]]
    if grow:
        stored = all(n >= hosts * runs for n in first_runs)
    else:
        stored = all(n == hosts * runs for n in first_runs) and not any(rescan_runs)
    return {
        "hosts": hosts,
        "rescan_ms_per_host": best_median([cpu / hosts * 1e3 for cpu in rescan_cpu]),
        "first_ms_per_host": best_median([cpu / hosts * 1e3 for cpu in first_cpu]),
        "first_us_per_run": best_median(
            [cpu / max(n, 1) * 1e6 for cpu, n in zip(first_cpu, first_runs, strict=True)]
        ),
        "peak_rss_mb": best_median(
            list(map(max, of("first", "maxrss_mb"), of("rescan", "maxrss_mb")))
        ),
        "rescan_wall_ratio": best_median(against_bare("rescan")),
        "first_wall_ratio": best_median(against_bare("first")),
        "rescan_wall_s": best_median(of("rescan", "wall_s")),
        "first_wall_s": best_median(of("first", "wall_s")),
        "bare_wall_s": best_median(of("bare", "wall_s")),
        "server_cpu_rescan_s": best_median(server("rescan")),
        "server_cpu_first_s": best_median(server("first")),
        "rescan_runs_per_host": best_median([n / hosts for n in rescan_runs]),
        "ok": all(r["ok"] for key in ("first", "rescan", "bare") for r in figures[key]),
        "stored": stored,
    }


ROWS = [  # (what, key, target, limit: at most)
    ("controller CPU per host, rescan, ms", "rescan_ms_per_host", "<= 5", 5.0),
    ("controller CPU per host, first scan, ms", "first_ms_per_host", "", None),
    ("controller CPU per run, first scan, µs", "first_us_per_run", "", None),
    ("peak RSS of a scan, MB", "peak_rss_mb", "<= 300", 300.0),
    ("rescan wall / bare asyncssh wall", "rescan_wall_ratio", "<= 1.3", 1.3),
    ("first-scan wall / bare asyncssh wall", "first_wall_ratio", "", None),
    ("rescan wall, s", "rescan_wall_s", "", None),
    ("first-scan wall, s", "first_wall_s", "", None),
    ("bare asyncssh wall (same probe), s", "bare_wall_s", "", None),
    ("servers' CPU during a rescan, s", "server_cpu_rescan_s", "", None),
    ("servers' CPU during a first scan, s", "server_cpu_first_s", "", None),
    ("runs stored by a rescan, per host", "rescan_runs_per_host", "", None),
]
LOGS = {
    "growing": "growing logs (a working fleet: cron writes each job's lines every minute)",
    "static": "static logs (no log grows: on a rescan every host's frequent jobs look missed)",
}


def report(sizes: list[dict], logs: str) -> None:
    print(f"\n{LOGS[logs]}")
    head = "".join(f"{str(s['hosts']) + ' hosts':>20}" for s in sizes)
    print(f"{'figure (best; median)':<42}{head}  {'target':>8}  {'growth':>8}")
    print("-" * (60 + 20 * len(sizes) + 10))
    for name, key, target, limit in ROWS:
        cells = "".join(f"{s[key][0]:>11.2f}; {s[key][1]:>6.2f}" for s in sizes)
        growth = sizes[-1][key][0] / sizes[0][key][0] if sizes[0][key][0] else float("nan")
        judged = "" if limit is None else verdict(all(s[key][0] <= limit for s in sizes))
        print(f"{name:<42}{cells}  {target:>8}  {growth:>7.2f}x  {judged}")
    print(
        "growth: the largest size's best over the smallest's. Wall bound by the servers: the scan's "
        "wall is the bare loop's (ratio ~1) while the servers' CPU is what the wall spends"
    )
    for s in sizes:
        if not s["ok"]:
            print(f"WARNING: {s['hosts']} hosts: a scan or bare loop did not report every host ok")
        if not s["stored"]:
            print(
                f"WARNING: {s['hosts']} hosts: a first scan missed runs or a rescan stored old ones"
            )


def measure_fleet(work: Path, sizes: list[int], args: argparse.Namespace, logs: str) -> list[dict]:
    """Every size's figures on one fleet of servers, its logs growing or static."""
    grow = logs == "growing"
    if args.rescan_after is None:
        args = argparse.Namespace(**{**vars(args), "rescan_after": 120.0 if grow else 0.0})
    work.mkdir()
    started = time.perf_counter()
    servers, ports = start_servers(work, sizes[-1], args.runs_per_host, grow)
    try:
        print(
            f"{sizes[-1]} hosts ({args.runs_per_host} runs each, {LOGS[logs]}) served by "
            f"{len(servers)} asyncssh server processes, up in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        warm_up()
        results = []
        for hosts in sizes:
            figures = size_figures(work, servers, ports, hosts, args)
            results.append(summary(hosts, args.runs_per_host, figures, grow))
    finally:
        stop_servers(servers)
    report(results, logs)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="100,1000", help="fleet sizes, comma-separated")
    parser.add_argument("--runs-per-host", type=int, default=100, help="job starts per host's log")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each scenario per size")
    parser.add_argument(
        "--logs",
        choices=("growing", "static", "both"),
        default="growing",
        help="hosts' syslogs: growing as cron runs the jobs, static (every job looks missed), both",
    )
    parser.add_argument(
        "--rescan-after",
        type=float,
        help="seconds from a first scan's start to its rescan's (default: 120 growing, 0 static)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--serve", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        work, first, count, runs, logs = args.serve
        serve(Path(work), int(first), int(count), int(runs), logs == "grow")
        return 0
    sizes = sorted(int(n) for n in args.hosts.split(","))
    work = Path(tempfile.mkdtemp(prefix="cronops-bench-fleet-"))
    modes = ["growing", "static"] if args.logs == "both" else [args.logs]
    try:
        figures = {logs: measure_fleet(work / logs, sizes, args, logs) for logs in modes}
        (work / "figures.json").write_text(json.dumps(figures, indent=1))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
