"""Benchmark of a scan's controller work without SSH: canned probe answers through the real scan path.

Run from the repo root: `python bench/bench_ingest.py [--hosts 100] [--runs-per-host 1000] [--profile FILE]`.
Serves every host's probe answer from memory (`probe_answers.py`, the bench's Debian hosts) through a
transport that costs nothing, then runs `scan.scan_fleet` into a new history: what is left is parsing,
pairing and storing. Prints the first scan's and a rescan's CPU, µs per run and ms per host. With
`--profile FILE`, the first scan runs under cProfile (both threads: the store's worker too) and FILE
gets its stats; the top functions are printed."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_fleet import host_files  # noqa: E402
from probe_answers import answer  # noqa: E402

from cronops.inventory import Host  # noqa: E402
from cronops.scan import scan_fleet  # noqa: E402
from cronops.store import Store  # noqa: E402
from cronops.transport.base import HostStatus, Reply  # noqa: E402


class Canned:
    """A transport that answers the probe as each host would, at no cost."""

    def __init__(self, files: dict) -> None:
        self.files = files

    async def run(self, host, command, stdin=b"", *, on_output=None, timeout=None) -> Reply:
        epoch = int(time.time())
        stdout = answer(self.files[host.name], stdin.decode("utf-8", "surrogateescape"), epoch)
        return Reply(host, HostStatus.OK, latency_ms=1.0, stdout=stdout, exit_status=0)

    async def close(self) -> None:
        pass


async def scan(hosts: list[Host], store: Store, transport: Canned) -> int:
    new = 0
    async for outcome in scan_fleet(hosts, store, transport, 32):
        assert outcome.ok, outcome.error
        new += outcome.new_runs
    return new


def timed(hosts, store, transport, profile: cProfile.Profile | None) -> tuple[int, float, float]:
    if profile is not None:
        threading.setprofile_all_threads(profile.enable) if hasattr(
            threading, "setprofile_all_threads"
        ) else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profile is not None:
        profile.enable()
    new = asyncio.run(scan(hosts, store, transport))
    if profile is not None:
        profile.disable()
    return new, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--runs-per-host", type=int, default=1000)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    files = {f.name: f for f in (host_files(i, args.runs_per_host, end) for i in range(args.hosts))}
    hosts = [Host(name, "127.0.0.1") for name in files]
    transport = Canned(files)
    with tempfile.TemporaryDirectory(prefix="cronops-bench-ingest-") as tmp:
        store = Store(Path(tmp) / "history.db")
        profile = cProfile.Profile() if args.profile else None
        new, cpu, wall = timed(hosts, store, transport, profile)
        runs = store.db.execute("select count(*) from runs").fetchone()[0]
        print(
            f"first scan: {new:,} new runs ({runs:,} stored), CPU {cpu:.2f} s "
            f"({cpu / max(runs, 1) * 1e6:.1f} µs a run, {cpu / len(hosts) * 1e3:.1f} ms a host), "
            f"wall {wall:.2f} s"
        )
        new, cpu, wall = timed(hosts, store, transport, None)
        print(f"rescan: {new} new runs, CPU {cpu:.2f} s ({cpu / len(hosts) * 1e3:.2f} ms a host)")
        store.close()
    if profile is not None:
        profile.dump_stats(args.profile)
        pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
