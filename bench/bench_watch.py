"""Benchmark of a `cronops watch` round with nothing new on N real sshd hosts, against a rescan.

Run from the repo root as root: `python bench/bench_watch.py [--hosts 100] [--rounds 5]`. Uses
bench_scan.py's fleet (its hosts, crontabs and planted logs), a [[notify]] route to a local JSON
webhook, and prints the controller CPU of `cronops scan` (a rescan), of `cronops watch --once`
(a process that scans, then decides and notifies), and of one round of a running watch (the
steady state: a long-running watch has imported and opened everything once), against the
target: a round costs no more than the rescan."""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_scan  # noqa: E402  (the fleet machinery, from this directory)


def receiver() -> tuple[ThreadingHTTPServer, list[dict]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


def rounds_of_a_running_watch(argv: list[str], out: Path, rounds: int) -> list[float]:
    """CPU seconds of each round after the first of a `cronops watch` left running: its CPU read
    from /proc each time it prints a round's line."""
    with out.open("wb") as sink:
        process = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, env=bench_scan.installed_env()
        )
    marks: list[float] = []
    try:
        deadline = time.monotonic() + 600
        while len(marks) < rounds + 1 and time.monotonic() < deadline:
            lines = out.read_text(errors="replace").count(" round ")
            if lines > len(marks):
                marks.append(bench_scan.process_cpu(process.pid))
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    return [later - earlier for earlier, later in itertools.pairwise(marks)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the running watch")
    parser.add_argument(
        "--runs-per-host",
        type=int,
        default=bench_scan.RUNS_PER_HOST,
        help=f"job starts in each host's syslog (default {bench_scan.RUNS_PER_HOST})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    server, received = receiver()
    with bench_scan.bench_fleet("cronops-bench-watch-", args.keep) as (fleet, out):
        specs = bench_scan.host_specs(args.hosts, args.runs_per_host)
        fleet.start(specs)
        bench_scan.FLEET_PIDS[:] = [h.pid for h in fleet.hosts.values()]
        inventory = out / "hosts.toml"
        inventory.write_text(
            fleet.inventory_toml()
            + f'\n[[notify]]\nurl = "json://127.0.0.1:{server.server_address[1]}/hook"\n'
        )
        db = out / "history.db"
        bench_scan.warm_up()
        first = bench_scan.cronops_scan(inventory, db, out, "first-scan", args.hosts)
        common = ["--inventory", str(inventory), "--db", str(db)]
        watch = [sys.executable, "-m", "cronops", "watch", *common]
        told = bench_scan.measure(
            [*watch, "--once"], out, "watch-first", bench_scan.installed_env()
        )
        messages = len(received)
        rescan = bench_scan.cronops_scan(inventory, db, out, "rescan", args.hosts)
        once = bench_scan.measure([*watch, "--once"], out, "watch-once", bench_scan.installed_env())
        steady = rounds_of_a_running_watch(
            [*watch, "--every", "1s"], out / "watch-running.out", args.rounds
        )
        quiet = len(received) == messages

    rescan_cpu = rescan["m"].cpu_s
    round_cpu = sorted(steady)[len(steady) // 2] if steady else float("nan")
    print(f"{args.hosts} hosts, nothing new after the first round")
    print(
        f"  first scan                 cpu {first['m'].cpu_s:6.2f} s   wall {first['m'].wall_s:6.2f} s"
    )
    print(f"  first watch --once         cpu {told.cpu_s:6.2f} s   ({messages} message(s) sent)")
    print(
        f"  rescan (cronops scan)      cpu {rescan_cpu:6.2f} s   wall {rescan['m'].wall_s:6.2f} s"
    )
    print(f"  watch --once, nothing new  cpu {once.cpu_s:6.2f} s   wall {once.wall_s:6.2f} s")
    print(
        f"  running watch, per round   cpu {round_cpu:6.2f} s   (median of {len(steady)}: {', '.join(f'{c:.2f}' for c in steady)})"
    )
    print(f"  messages after the first round: {len(received) - messages} (expected 0)")
    ok = round_cpu <= rescan_cpu and quiet
    print(
        f"target: a running watch's round <= the rescan's CPU: {round_cpu / rescan_cpu:.2f}x {'OK' if ok else 'MISSED'}"
    )
    server.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
