"""Benchmark of a first scan of a big log: a 1 GB syslog (and a rotated archive) on one real sshd host.

Run from the repo root as root: `python bench/bench_big_log.py [--gb 1] [--archive-mb 128]`. Scans
until the host has nothing more to read; prints each scan's wall time and peak RSS, the scans needed,
and checks the runs stored against the runs planted."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_scan import bench_fleet, installed_env, measure, syslog_stamp, tail

TARGETS = {
    "peak_rss_mb": 300.0,  # any one scan's peak RSS, at most
    "scan_wall_s": 60.0,  # any one scan's wall time: the default command timeout
}
JOBS_PER_MINUTE = 20  # cron lines: a start and an end for each
NOISE = [  # what else a busy host logs, one line a template
    "sshd[{pid}]: Accepted publickey for deploy from 10.0.{a}.{b} port {port} ssh2: ED25519 "
    "SHA256:q7Yd1Uo2xv0qkq6bJ3jyXHgGGu0bvlS3o1F9R6wIhHc",
    "sshd[{pid}]: pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)",
    "sshd[{pid}]: Received disconnect from 10.0.{a}.{b} port {port}:11: disconnected by user",
    "kernel: [{port}.{pid:06d}] EXT4-fs (sda1): re-mounted. Opts: errors=remount-ro",
    "systemd[1]: Started session-{b}.scope - Session {b} of User deploy.",
    "app[{pid}]: GET /api/v1/items/{port} 200 {b}ms user={a} trace=4f9a{pid:08x}",
    'nginx[{pid}]: 10.0.{a}.{b} - - "GET /static/app.{port}.js HTTP/1.1" 200 {pid}',
]


def write_log(out, start: datetime, end: datetime, size: int, pid: int) -> tuple[int, int]:
    """Write about `size` bytes of syslog from `start` to `end`: JOBS_PER_MINUTE cron jobs each
    minute (Debian `cron -L 15`: a start and an end line), other programs' lines between them.
    Returns (runs written, the next pid)."""
    minutes = max(1, int((end - start).total_seconds() // 60))
    cron_bytes = minutes * JOBS_PER_MINUTE * 2 * 70
    noise_per_minute = max(0, (size - cron_bytes) // minutes // 110)
    runs, written = 0, 0
    for minute in range(minutes):
        at = start + timedelta(minutes=minute)
        head = f"{syslog_stamp(at)} big "
        lines = []
        for job in range(JOBS_PER_MINUTE):
            lines.append(f"{head}CRON[{pid}]: (root) CMD ([{pid + 1}] /usr/local/bin/job-{job})")
            lines.append(f"{head}CRON[{pid}]: (root) END ([{pid + 1}] /usr/local/bin/job-{job})")
            pid += 2
            runs += 1
        for n in range(noise_per_minute):
            template = NOISE[n % len(NOISE)]
            text = template.format(pid=pid + n, a=n % 10, b=n % 250, port=30000 + n)
            lines.append(head + text)
        block = "\n".join(lines) + "\n"
        out.write(block)
        written += len(block)
        if written >= size:
            break
    return runs, pid


def plant(host, gb: float, archive_mb: int) -> tuple[int, int]:
    """The host's /var/log/syslog (gb GB, the last days) and syslog.1.gz (archive_mb MB
    decompressed, the days before); returns (runs planted, bytes planted)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    runs, pid, planted = 0, 1000, 0
    if archive_mb:
        start, end = now - timedelta(days=7), now - timedelta(days=5)
        path = host.path("/var/log/syslog.1.gz")
        with gzip.open(path, "wt", compresslevel=1) as out:
            count, pid = write_log(out, start, end, archive_mb << 20, pid)
        os.utime(path, (end.timestamp(), end.timestamp()))
        runs += count
        planted += archive_mb << 20
    path = host.path("/var/log/syslog")
    with path.open("w") as out:
        count, pid = write_log(out, now - timedelta(days=5), now, int(gb * (1 << 30)), pid)
    runs += count
    planted += path.stat().st_size
    return runs, planted


@dataclass
class Scan:
    wall_s: float
    maxrss_mb: float
    new_runs: int
    more: list[str]
    status: str


def scan(inventory: Path, db: Path, out_dir: Path, number: int, pieces: list[str]) -> Scan:
    """One `cronops scan` as a subprocess (the piece sizes set first, when asked)."""
    setup = "".join(f"probe.{p}; " for p in pieces)
    code = (
        f"import sys; from cronops import probe; {setup}from cronops.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    argv = [sys.executable, "-c", code, "scan", "--inventory", str(inventory), "--db", str(db)]
    m = measure([*argv, "--format", "json"], out_dir, f"scan{number}", installed_env())
    try:
        (host,) = json.loads(m.stdout.read_text())["hosts"]
    except (json.JSONDecodeError, ValueError, KeyError):
        print(tail(m.stderr))
        raise
    if host["status"] != "ok":
        print(f"  scan {number}: {host['status']}: {host['error']}")
    more = host.get("more_to_read", [])  # a cronops that reads a log whole says nothing of it
    return Scan(m.wall_s, m.maxrss_mb, host["new_runs"], more, host["status"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0, help="size of /var/log/syslog (GB)")
    parser.add_argument(
        "--archive-mb", type=int, default=128, help="syslog.1.gz, decompressed (MB); 0: none"
    )
    parser.add_argument(
        "--piece",
        action="append",
        default=[],
        metavar="NAME=BYTES",
        help="set a piece size for the scans, e.g. LOG_READ_BYTES=1<<40 (the old, unbounded read)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    from cronops import probe
    from tests.fleet import HostSpec

    with bench_fleet("cronops-bench-big-log-", args.keep) as (fleet, out_dir):
        (host,) = fleet.start([HostSpec(name="big")])
        t = time.perf_counter()
        expected, planted = plant(host, args.gb, args.archive_mb)
        print(
            f"planted {planted / 1e9:.2f} GB of log ({args.archive_mb} MB of it in syslog.1.gz, "
            f"decompressed), {expected} runs, in {time.perf_counter() - t:.0f} s",
            flush=True,
        )
        inventory = out_dir / "hosts.toml"
        inventory.write_text(fleet.inventory_toml())
        db = out_dir / "history.db"
        pieces = args.piece or [
            f"{name}={getattr(probe, name)}"
            for name in ("LOG_READ_BYTES", "LOG_SEND_BYTES")
            if hasattr(probe, name)
        ]
        print(f"pieces: {', '.join(pieces)}")
        scans: list[Scan] = []
        while not scans or (scans[-1].more and scans[-1].status == "ok" and len(scans) < 200):
            scans.append(scan(inventory, db, out_dir, len(scans) + 1, pieces))
            s = scans[-1]
            print(
                f"  scan {len(scans):3d}: {s.wall_s:6.2f} s wall, peak RSS {s.maxrss_mb:6.0f} MB, "
                f"{s.new_runs:7d} new runs{', more to read' if s.more else ''}",
                flush=True,
            )
        rescan = scan(inventory, db, out_dir, len(scans) + 1, pieces)

    stored = sum(s.new_runs for s in scans)
    peak = max(s.maxrss_mb for s in scans)
    slowest = max(s.wall_s for s in scans)
    print()
    print(f"first read: {len(scans)} scans, {sum(s.wall_s for s in scans):.1f} s wall in all")
    print(f"runs stored {stored} (planted {expected}); rescan: {rescan.new_runs} new runs")
    print(f"{'figure':<40} {'value':>10}  {'target':>10}")
    print("-" * 70)
    for name, value, target in (
        ("peak RSS of any scan (MB)", peak, TARGETS["peak_rss_mb"]),
        ("wall time of the slowest scan (s)", slowest, TARGETS["scan_wall_s"]),
    ):
        verdict = "PASS" if value <= target else "FAIL"
        print(f"{name:<40} {value:10.1f}  {'<= ' + str(target):>10}  {verdict}")
    if stored != expected or rescan.new_runs:
        print(f"WARNING: {stored} runs stored, {expected} planted; rescan {rescan.new_runs} new")
    if any(s.status != "ok" for s in scans):
        print("WARNING: a scan did not end ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
