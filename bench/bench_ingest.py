"""Benchmark of a scan's controller work without SSH: canned probe answers through the real scan path.

Run from the repo root: `python bench/bench_ingest.py [--hosts 100] [--runs-per-host 1000] [--rescans 1] [--later 0]`.
Serves every host's probe answer from memory (`probe_answers.py`, the bench's Debian hosts) through a
transport that costs nothing, then runs `scan.scan_fleet` into a new history, judging as `cronops scan` does: what is left is
parsing, pairing, storing and judging. Prints the first scan's and a rescan's CPU, µs per run and ms per host. To see
where it goes (the storing thread too): `py-spy record -r 200 -f raw -o out.txt -- python
bench/bench_ingest.py`."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_fleet import host_files  # noqa: E402
from probe_answers import answer  # noqa: E402

from cronops.inventory import Host  # noqa: E402
from cronops.policy import PolicyBook  # noqa: E402
from cronops.scan import scan_fleet  # noqa: E402
from cronops.store import RUN_COLUMNS, Store  # noqa: E402
from cronops.transport.base import HostStatus, Reply  # noqa: E402


class Canned:
    """A transport that answers the probe as each host would, at no cost."""

    def __init__(self, files: dict, later: timedelta = timedelta(0)) -> None:
        self.files = files
        self.later = later  # the hosts' clocks, this far ahead of ours

    async def run(self, host, command, stdin=b"", *, on_output=None, timeout=None) -> Reply:
        epoch = int(time.time() + self.later.total_seconds())
        stdout = answer(self.files[host.name], stdin.decode("utf-8", "surrogateescape"), epoch)
        return Reply(host, HostStatus.OK, latency_ms=1.0, stdout=stdout, exit_status=0)

    async def close(self) -> None:
        pass


async def scan(hosts: list[Host], store: Store, transport: Canned, judge: bool) -> int:
    new = 0
    # With a policy, as `cronops scan` runs it: each group's hosts judged as they are stored.
    # Without (--no-judge), what is left is parsing, pairing and storing alone.
    policy = PolicyBook() if judge else None

    def clock() -> datetime:
        return datetime.now(UTC) + transport.later

    async for outcome in scan_fleet(hosts, store, transport, 32, clock=clock, policy=policy):
        assert outcome.ok, outcome.error
        new += outcome.new_runs
    return new


def timed(
    hosts: list[Host], store: Store, transport: Canned, judge: bool
) -> tuple[int, float, float]:
    """A scan of the hosts: new runs, CPU seconds (every thread), wall seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    new = asyncio.run(scan(hosts, store, transport, judge))
    return new, time.process_time() - cpu, time.perf_counter() - wall


def dump_runs(store: Store, path: Path) -> None:
    """Every stored run, a line each in a fixed order: the same logs must store the same runs."""
    rows = store.db.execute(f"select {', '.join(RUN_COLUMNS)} from runs").fetchall()
    path.write_text("".join(f"{row!r}\n" for row in sorted(rows, key=repr)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--runs-per-host", type=int, default=1000)
    parser.add_argument("--rescans", type=int, default=1)
    # Rescans as of this many minutes later (the hosts' clocks too): their 5-minute jobs come
    # due as missed, so every host is judged again, as bench_fleet's rescans judge them.
    parser.add_argument("--later", type=float, default=0.0)
    parser.add_argument(
        "--no-judge", action="store_true", help="scan without a policy: no findings judged"
    )
    parser.add_argument(
        "--end", type=datetime.fromisoformat, help="the logs' end (UTC ISO), for repeatable runs"
    )
    parser.add_argument(
        "--dump", type=Path, help="write the stored runs here, sorted: compare two versions' files"
    )
    args = parser.parse_args()
    end = args.end or datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    files = {f.name: f for f in (host_files(i, args.runs_per_host, end) for i in range(args.hosts))}
    hosts = [Host(name, "127.0.0.1") for name in files]
    transport = Canned(files)
    with tempfile.TemporaryDirectory(prefix="cronops-bench-ingest-") as tmp:
        store = Store(Path(tmp) / "history.db")
        new, cpu, wall = timed(hosts, store, transport, not args.no_judge)
        runs = store.db.execute("select count(*) from runs").fetchone()[0]
        print(
            f"first scan: {new:,} new runs ({runs:,} stored), CPU {cpu:.2f} s "
            f"({cpu / max(runs, 1) * 1e6:.1f} µs a run, {cpu / len(hosts) * 1e3:.1f} ms a host), "
            f"wall {wall:.2f} s"
        )
        if args.dump:
            dump_runs(store, args.dump)
        for _ in range(args.rescans):
            later = Canned(files, timedelta(minutes=args.later))
            new, cpu, wall = timed(hosts, store, later, not args.no_judge)
            print(
                f"rescan: {new} new runs, CPU {cpu:.2f} s ({cpu / len(hosts) * 1e3:.2f} ms a host)"
            )
        store.close()


if __name__ == "__main__":
    main()
