"""Benchmark of the history's size: bytes per 1M runs, and a fleet's history kept bounded.

Run from the repo root: `python bench/bench_history.py [--hosts 100] [--jobs 5] [--days 90]
[--retention 35]`. Writes runs through the Store's own write API (write_run_rows, in one
transaction per 16 hosts, as a scan stores a group), never by scanning:

1. 1,000,000 runs of every-minute jobs: the history's size per 1M runs.
2. `--days` simulated days of `--hosts` hosts, each with `--jobs` every-minute jobs (2 by default:
   a health check and a queue poller, say; hourly and daily jobs add next to nothing beside
   1,440 runs a day each; 1 in 50 failing), with
   the retention on: each day's runs are written, then that day's pruning done (what the scans of
   a day do in bounded steps, here at once), timed. Prints the history's size and rows every 10
   days, the time spent pruning per day, and the longest single prune transaction.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cronops.retention import prune  # noqa: E402
from cronops.store import Store, iso  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
GROUP_HOSTS = 16  # hosts stored in one transaction, as scan.GROUP_HOSTS


def host_day(host: str, jobs: int, day: datetime) -> list[tuple]:
    """One host's runs of one day, in RUN_COLUMNS order, as a scan makes them."""
    rows = []
    for minute in range(1440):
        for job in range(jobs):
            started = day + timedelta(minutes=minute, seconds=job)
            took = 2 + (minute * 7 + job) % 40  # 2..41 s
            status = 1 if (minute + job) % 50 == 0 else 0
            command = f"/usr/local/bin/job{job} --quiet"
            at = iso(started)
            pid = 1000 + (minute * jobs + job) % 30000
            rows.append(
                (
                    host,
                    f"{host}-e{job}",
                    "root",
                    command,
                    at,
                    iso(started + timedelta(seconds=took)),
                    status,
                    None,
                    pid,
                    "/var/log/syslog",
                    "debian",
                    "cron",
                    None,
                    None,  # still_open: ended
                )
            )
    return rows


def write_day(store: Store, hosts: list[str], jobs: int, day: datetime) -> tuple[int, float]:
    """A day of the fleet's runs, a scan group at a time: runs written, seconds."""
    tick, written = time.perf_counter(), 0
    for start in range(0, len(hosts), GROUP_HOSTS):
        with store.transaction() as db:
            for host in hosts[start : start + GROUP_HOSTS]:
                rows = host_day(host, jobs, day)
                store.write_run_rows(db, rows)
                written += len(rows)
    return written, time.perf_counter() - tick


def setup(path: Path, hosts: list[str]) -> Store:
    store = Store(path)
    with store.transaction() as db:
        for host in hosts:
            store.write_host_state(db, {"name": host, "address": host, "status": "ok"})
    return store


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6


def per_million(folder: Path) -> None:
    path = folder / "million.db"
    hosts = [f"host-{i:03d}" for i in range(70)]  # 70 hosts x 10 jobs x 1,440 = 1,008,000 runs
    store = setup(path, hosts)
    written, seconds = write_day(store, hosts, 10, START)
    store.close()  # the last connection: the WAL is copied back and removed
    megabytes = size_mb(path) * 1_000_000 / written
    print(f"1M runs: {megabytes:.0f} MB per 1M runs ({written:,} written in {seconds:.1f} s,")
    print(f"  {seconds / written * 1e6:.1f} µs a run through write_run_rows)")


def fleet(folder: Path, hosts_n: int, jobs: int, days: int, retention: int) -> None:
    path = folder / "fleet.db"
    hosts = [f"host-{i:03d}" for i in range(hosts_n)]
    store = setup(path, hosts)
    print(
        f"\n{hosts_n} hosts x {jobs} every-minute jobs = {hosts_n * jobs * 1440:,} runs a day, "
        f"{days} days, retention {retention} days:"
    )
    print(" day   size MB  raw runs  day rows  write s  prune s  longest lock ms")
    pruning, longest = [], 0.0
    for n in range(days):
        day = START + timedelta(days=n)
        _, wrote = write_day(store, hosts, jobs, day)
        pruned = prune(store, day + timedelta(days=1), timedelta(days=retention))
        pruning.append(pruned.seconds)
        longest = max(longest, pruned.longest_batch_s)
        if (n + 1) % 10 == 0 or n + 1 == days:
            runs = store.db.execute("select count(*) from runs").fetchone()[0]
            rollups = store.db.execute("select count(*) from run_days").fetchone()[0]
            print(
                f"{n + 1:4d} {size_mb(path):9.0f} {runs:9,} {rollups:9,} {wrote:8.1f} "
                f"{pruned.seconds:8.2f} {pruned.longest_batch_s * 1000:15.0f}"
            )
    folding = [s for s in pruning if s > 0.05]
    print(
        f"pruning: {sum(folding) / max(len(folding), 1):.2f} s per day once folding starts "
        f"(max {max(pruning):.2f} s); the longest single prune transaction {longest * 1000:.0f} ms"
    )
    wal = (folder / "fleet.db-wal").stat().st_size / 1e6
    print(f"final: {size_mb(path):.0f} MB in all (WAL {wal:.0f} MB)")
    store.close()
    print(f"closed: {size_mb(path):.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2, help="every-minute jobs per host")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--retention", type=int, default=35, help="days")
    parser.add_argument("--skip-million", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cronops-bench-history-") as tmp:
        if not args.skip_million:
            per_million(Path(tmp))
        fleet(Path(tmp), args.hosts, args.jobs, args.days, args.retention)


if __name__ == "__main__":
    main()
