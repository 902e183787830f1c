"""Bounded history: runs are kept for the retention, then folded into daily rollups (kept a year)
and deleted, a few thousand at a time, so that no scan or TUI ever waits for the pruning.

Days are UTC days, not the host's: a day folded never moves when a host's zone changes (or is
set in the inventory later), SQLite finds it by the stored text alone, and the retention ends at
the same instant for every host. A long window (`--since 90d`) is whole days anyway.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from cronops.inventory import DEFAULT_RETENTION, DEFAULT_ROLLUP_RETENTION

if TYPE_CHECKING:
    from cronops.store import Store

# Runs folded in one transaction: a day of one host's entries, cut into parts of about this many
# (one entry whole at least); each part is ~50 ms of holding the write lock.
BATCH_RUNS = 10_000
# Pruning after a scan stops starting batches after this long; the next scan goes on. A fleet of
# 100 hosts with 20 every-minute jobs folds a day of its runs in ~10 s (bench/bench_history.py).
AFTER_SCAN_S = 2.0


@dataclass
class Pruned:
    """What one pruning did."""

    runs_folded: int = 0
    runs_deleted: int = 0  # of those folded; the others are still needed and kept
    runs_released: int = 0  # runs kept earlier, deleted now that they are no longer needed
    days_dropped: int = 0  # rollups past their own retention
    batches: int = 0
    longest_batch_s: float = 0.0  # the longest any transaction held the write lock
    # (the WAL is copied back between them, with no lock that a scan or the TUI waits for)
    seconds: float = 0.0
    done: bool = True  # False: stopped at its time limit with runs left to fold


def raw_cutoff(now: datetime, retention: timedelta) -> datetime:
    """Runs that started before this are folded: the start of the UTC day `retention` ago."""
    return datetime.combine((now - retention).astimezone(UTC).date(), datetime.min.time(), UTC)


def rollup_cutoff(now: datetime, rollup_retention: timedelta) -> date:
    """Daily rollups before this day are dropped."""
    return (now - rollup_retention).astimezone(UTC).date()


def prune(
    store: Store,
    now: datetime,
    retention: timedelta = DEFAULT_RETENTION,
    rollup_retention: timedelta = DEFAULT_ROLLUP_RETENTION,
    time_limit: float | None = None,
    batch: int = BATCH_RUNS,
) -> Pruned:
    """Fold every run older than the retention (or as many as `time_limit` seconds allow), host
    by host and day by day, oldest first; then checkpoint the WAL. Safe to stop at any point and
    to run again: each batch is one transaction that folds and deletes the same runs."""
    started = time.monotonic()
    pruned = Pruned()

    def timed(step, *args):
        tick = time.monotonic()
        result = step(*args)
        pruned.longest_batch_s = max(pruned.longest_batch_s, time.monotonic() - tick)
        return result

    pruned.runs_released = timed(store.release_kept_runs)
    pruned.days_dropped = store.drop_run_days(rollup_cutoff(now, rollup_retention))
    cutoff = raw_cutoff(now, retention)
    with store.manual_checkpoints():
        for host in store.host_names():
            while (oldest := store.oldest_unfolded(host, cutoff)) is not None:
                if time_limit is not None and time.monotonic() - started >= time_limit:
                    pruned.done = False
                    break
                day = oldest.astimezone(UTC).date()
                folded, deleted = timed(store.fold_runs, host, day, batch)
                pruned.runs_folded += folded
                pruned.runs_deleted += deleted
                pruned.batches += 1
                # After each batch, outside its transaction: the WAL stays a batch long.
                store.checkpoint()
            if not pruned.done:
                break
    store.checkpoint()
    pruned.seconds = time.monotonic() - started
    return pruned
