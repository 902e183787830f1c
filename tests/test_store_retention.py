"""Bounded history: runs older than the retention folded into daily rollups, and deleted.

The history is written through the Store's own write methods, as a scan writes it."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cronops.audit import run_audit
from cronops.cli import main
from cronops.inventory import Host, Inventory
from cronops.records import RunDay
from cronops.report import audit_headline, audit_json
from cronops.retention import prune, raw_cutoff
from cronops.store import Store, iso

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SCHEMAS = Path(__file__).parent / "schemas"
OLD_DAY = date(2026, 10, 1)  # 52 days before NOW: past the default retention of 35 days
DAY_START = datetime(2026, 10, 1, tzinfo=UTC)


def run(entry: str, started: datetime, took: float | None = 10, **changes) -> dict:
    return {
        "id": f"{entry}@{iso(started)}",
        "host": "alpha",
        "entry_id": entry,
        "user": "root",
        "command": f"/bin/{entry}",
        "started_at": iso(started),
        "ended_at": None if took is None else iso(started + timedelta(seconds=took)),
        "status": None if took is None else 0,
        "signal": None,
        "pid": 100,
        "source": "/var/log/syslog",
        "dialect": "debian",
        "trigger": "cron",
        "output_tail": None,
    } | changes


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "history.db")
    with store.transaction() as db:
        store.write_host_state(db, {"name": "alpha", "address": "10.0.0.1", "status": "ok"})
    yield store
    store.close()


def write(store: Store, runs: list[dict], processes: list[dict] = ()) -> None:
    with store.transaction() as db:
        store.write_runs(db, runs)
        store.write_processes(db, "alpha", list(processes))


def a_day_of_backup(store: Store) -> None:
    """20 runs of `backup` on OLD_DAY taking 1..20 s, then one that failed, one killed, one
    with no end, and today's run (its latest, which stays)."""
    runs = [run("backup", DAY_START + timedelta(minutes=i), took=i) for i in range(1, 21)]
    runs += [
        run("backup", DAY_START + timedelta(hours=2), took=30, status=1),
        run("backup", DAY_START + timedelta(hours=3), took=40, status=None, signal=9),
        run("backup", DAY_START + timedelta(hours=4), took=None),
        run("backup", NOW - timedelta(hours=1)),
    ]
    write(store, runs)


def raw_runs(store: Store) -> list[tuple[str, str, int | None]]:
    return store.db.execute(
        "select entry_id, started_at, folded from runs order by started_at"
    ).fetchall()


def test_a_day_is_folded_into_counts_by_outcome_and_percentiles(store):
    a_day_of_backup(store)

    pruned = prune(store, NOW)

    assert store.entry_run_days("backup") == [
        RunDay(
            host="alpha",
            entry_id="backup",
            day=OLD_DAY,
            runs=23,
            ok=20,
            failed=1,
            killed=1,
            unknown=1,
            manual=0,
            # nearest rank over the 22 runs with an end (1..20, 30, 40 s): the 11th and the 21st
            p50=timedelta(seconds=11),
            p95=timedelta(seconds=30),
            longest=timedelta(seconds=40),
        )
    ]
    assert (pruned.runs_folded, pruned.runs_deleted, pruned.done) == (23, 23, True)
    assert raw_runs(store) == [("backup", iso(NOW - timedelta(hours=1)), None)]
    assert store.run_days(["alpha"], OLD_DAY) == store.entry_run_days("backup")
    assert store.run_days(["alpha"], OLD_DAY + timedelta(days=1)) == []


def test_only_whole_utc_days_past_the_retention_are_folded(store):
    cutoff = raw_cutoff(NOW, timedelta(days=35))
    assert cutoff == datetime(2026, 10, 18, tzinfo=UTC)  # 35 days back, at its UTC midnight
    write(store, [run("backup", cutoff - timedelta(seconds=1)), run("backup", cutoff)])

    prune(store, NOW)

    assert raw_runs(store) == [("backup", iso(cutoff), None)]
    assert [(d.day, d.runs) for d in store.entry_run_days("backup")] == [(date(2026, 10, 17), 1)]


def test_runs_still_needed_are_kept_and_counted_once(store):
    write(
        store,
        [
            run("backup", DAY_START),  # the entry's latest run: its "last run"
            run("report", DAY_START, took=None, pid=4242),  # still running
            run("report", DAY_START + timedelta(hours=1), trigger="manual"),  # a rerun
            run("report", DAY_START + timedelta(hours=2), took=None, pid=77),  # ended unseen
            run("report", DAY_START + timedelta(hours=3)),  # report's latest
            run(None, DAY_START + timedelta(hours=5)),  # no entry: folded like any other
        ],
        processes=[{"host": "alpha", "pid": 4242, "entry_id": "report", "started_at": "x"}],
    )

    prune(store, NOW)

    kept = [(e, s) for e, s, folded in raw_runs(store) if folded]
    assert kept == [
        ("backup", iso(DAY_START)),
        ("report", iso(DAY_START)),
        ("report", iso(DAY_START + timedelta(hours=1))),
        ("report", iso(DAY_START + timedelta(hours=3))),
    ]
    assert len(raw_runs(store)) == 4
    days = {d.entry_id: d for d in store.run_days(["alpha"], OLD_DAY)}
    assert (days["report"].runs, days["report"].unknown, days["report"].manual) == (4, 2, 1)
    assert (days["backup"].runs, days[None].runs) == (1, 1)

    # A later run of each, and the process gone: the kept ones are deleted, not counted again;
    # the rerun stays with the audit trail's action that made it.
    write(store, [run("backup", NOW - timedelta(hours=1)), run("report", NOW)])
    again = prune(store, NOW)

    assert again.runs_released == 3 and again.runs_folded == 0
    assert [(e, s) for e, s, _ in raw_runs(store)] == [
        ("report", iso(DAY_START + timedelta(hours=1))),
        ("backup", iso(NOW - timedelta(hours=1))),
        ("report", iso(NOW)),
    ]
    assert store.run_days(["alpha"], OLD_DAY) == list(days.values())


def test_pruning_twice_or_after_a_crash_counts_each_run_once(store):
    a_day_of_backup(store)
    write(store, [run("report", DAY_START + timedelta(days=1, minutes=i)) for i in range(3)])
    # A crash between the rollup and the deletion: the transaction takes both back.
    store.db.execute(
        "create temp trigger crash before delete on runs begin select raise(abort, 'crash'); end"
    )
    with pytest.raises(Exception, match="crash"):
        prune(store, NOW)
    assert store.run_days(["alpha"], OLD_DAY) == []
    assert len(raw_runs(store)) == 27
    store.db.execute("drop trigger crash")

    first = prune(store, NOW)
    days = store.run_days(["alpha"], OLD_DAY)
    second = prune(store, NOW)

    assert store.run_days(["alpha"], OLD_DAY) == days
    assert [(d.entry_id, d.day, d.runs) for d in days] == [
        ("backup", OLD_DAY, 23),
        ("report", OLD_DAY + timedelta(days=1), 3),
    ]
    assert (first.runs_folded, second.runs_folded, second.batches) == (26, 0, 0)


def test_small_batches_fold_the_same_as_one_and_a_time_limit_stops_between_them(store):
    entries = [f"job{i}" for i in range(5)]
    write(store, [run(e, DAY_START + timedelta(minutes=m)) for e in entries for m in range(10)])
    write(store, [run(e, NOW) for e in entries])

    stopped = prune(store, NOW, batch=20, time_limit=0)
    assert (stopped.done, stopped.runs_folded) == (False, 0)

    pruned = prune(store, NOW, batch=20)

    # 20 runs at most, two entries of 10 at a time: three transactions for five entries.
    assert (pruned.batches, pruned.runs_folded, pruned.done) == (3, 50, True)
    assert [(d.entry_id, d.runs, d.ok) for d in store.run_days(["alpha"], OLD_DAY)] == [
        (e, 10, 10) for e in entries
    ]
    assert pruned.longest_batch_s > 0


def test_daily_rollups_are_dropped_after_their_own_retention(store):
    a_day_of_backup(store)
    prune(store, NOW)

    kept = prune(store, NOW + timedelta(days=300))
    dropped = prune(store, NOW + timedelta(days=366))

    # By then today's run was folded too (and kept: it is still the latest).
    assert (kept.days_dropped, dropped.days_dropped) == (0, 2)
    assert store.entry_run_days("backup") == []


def test_the_wal_is_checkpointed_after_pruning(store, tmp_path):
    write(store, [run("backup", DAY_START + timedelta(seconds=i)) for i in range(3000)])
    prune(store, NOW)
    busy, in_wal, copied = store.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and in_wal == copied  # nothing was left to copy


def test_a_history_of_schema_6_is_upgraded_and_then_folded(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript((SCHEMAS / "v6.sql").read_text())
    old.execute("insert into hosts (name, address, status) values ('alpha', 'x', 'ok')")
    values = run("backup", DAY_START)
    old.execute(
        f"insert into runs ({', '.join(values)}) values ({', '.join('?' for _ in values)})",
        list(values.values()),
    )
    old.commit()
    old.close()

    store = Store(path)
    write(store, [run("backup", NOW)])
    prune(store, NOW)

    assert [(d.day, d.runs, d.ok) for d in store.entry_run_days("backup")] == [(OLD_DAY, 1, 1)]
    assert raw_runs(store) == [("backup", iso(NOW), None)]


def test_cronops_prune_folds_all_at_once_and_says_what_it_did(store, tmp_path, capsys):
    now = datetime.now(UTC)  # the command's clock
    write(store, [run("backup", now - timedelta(days=50, minutes=i)) for i in range(3)])
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(
        '[defaults]\nretention = "60d"\n[[hosts]]\nname = "alpha"\naddress = "x"\n'
    )

    def prune_command(*options: str) -> str:
        assert main(["prune", "-i", str(inventory), "--db", str(store.path), *options]) == 0
        return capsys.readouterr().out

    # 50 days back is within 60 days: nothing to fold yet.
    assert prune_command().startswith("folded 0 runs into daily counts in 0 transactions")
    inventory.write_text(inventory.read_text().replace("60d", "35d"))
    pruned = json.loads(prune_command("--format", "json"))
    assert (pruned["runs_folded"], pruned["runs_deleted"], pruned["done"]) == (3, 2, True)


def test_a_window_past_the_retention_counts_the_folded_days(store):
    a_day_of_backup(store)
    prune(store, NOW)
    inventory = Inventory(Path("hosts.toml"), [Host("alpha", "10.0.0.1")])

    recent = run_audit(store, inventory.policy, inventory.hosts, NOW - timedelta(days=1), NOW)
    long = run_audit(store, inventory.policy, inventory.hosts, NOW - timedelta(days=90), NOW)

    assert (recent.folded, recent.runs_checked) == ([], 1)
    assert long.folded == store.entry_run_days("backup")
    assert audit_json(long)["folded_days"] == {
        "from": OLD_DAY,
        "runs": 23,
        "ok": 20,
        "failed": 1,
        "killed": 1,
        "unknown": 1,
        "manual": 0,
    }
    assert audit_headline(long).endswith(
        "; before the retention, 23 runs from 2026-10-01 counted by day "
        "(1 failed, 1 killed, 1 unknown)"
    )


def entry_row(entry: str, schedule: str, line: int = 1) -> dict:
    return {
        "id": entry,
        "host": "alpha",
        "source": "/etc/crontab",
        "user": "root",
        "schedule": schedule,
        "command": f"/bin/{entry}",
        "env": {},
        "line": line,
        "text": f"{schedule} root /bin/{entry}",
        "disabled": 0,
        "paused": None,
        "log_off": 0,
    }


# The first of each month from 2025-12 to 2026-10: all before the retention at NOW.
FIRSTS = [datetime(2025 + (m > 12), (m - 1) % 12 + 1, 1, 3, tzinfo=UTC) for m in range(12, 23)]


def test_a_monthly_job_is_judged_slow_against_its_folded_days(store):
    """Its raw runs of the month hold one run: the year folded before it is its baseline."""
    firsts = FIRSTS
    with store.transaction() as db:
        store.write_entries(db, "alpha", [entry_row("monthly", "0 3 1 * *")], iso(firsts[0]))
    write(store, [run("monthly", first, took=300) for first in firsts])
    write(store, [run("monthly", datetime(2026, 11, 1, 3, tzinfo=UTC), took=1200)])
    inventory = Inventory(Path("hosts.toml"), [Host("alpha", "10.0.0.1")])

    def slow_runs() -> list[str]:
        audit = run_audit(store, inventory.policy, inventory.hosts, NOW - timedelta(days=30), NOW)
        return [f.detail for f in audit.findings if f.kind == "slow"]

    assert slow_runs() == []  # the month's two runs read: too few for a baseline
    prune(store, NOW)
    assert len(store.entry_run_days("monthly")) == 11

    (slow,) = slow_runs()
    assert "ran 20m" in slow
    assert "the median of the 11 runs around it is 5m; 11 of them are folded days" in slow


def test_an_entrys_latest_success_and_latest_end_are_kept_until_later_ones_come(store):
    write(
        store,
        [
            run("yearly", DAY_START),  # its last success
            run("yearly", DAY_START + timedelta(hours=1), status=2),  # its last end
            run("yearly", DAY_START + timedelta(hours=2), took=None),  # its latest: no end
            run(None, DAY_START + timedelta(hours=3)),  # no entry: nothing to keep it for
        ],
    )

    prune(store, NOW)
    assert [(e, s) for e, s, folded in raw_runs(store) if folded] == [
        ("yearly", iso(DAY_START + timedelta(hours=h))) for h in range(3)
    ]
    assert len(raw_runs(store)) == 3
    assert store.entry_run_days("yearly")[0].runs == 3

    # A later failure ends: the earlier failure is no longer the last end; a later success
    # releases the last one too.
    write(store, [run("yearly", NOW - timedelta(hours=2), status=1)])
    assert prune(store, NOW).runs_released == 2
    write(store, [run("yearly", NOW - timedelta(hours=1))])
    assert prune(store, NOW).runs_released == 1
    assert raw_runs(store) == [
        ("yearly", iso(NOW - timedelta(hours=2)), None),
        ("yearly", iso(NOW - timedelta(hours=1)), None),
    ]
    assert store.entry_run_days("yearly")[0].runs == 3  # counted once, when folded


def test_only_the_days_of_jobs_with_few_ended_runs_are_read_for_baselines(store):
    entries = [entry_row("monthly", "0 3 1 * *"), entry_row("hourly", "0 * * * *", line=2)]
    with store.transaction() as db:
        store.write_entries(db, "alpha", entries, iso(FIRSTS[0]))
    write(store, [run(e, first) for e in ("monthly", "hourly") for first in FIRSTS])
    prune(store, NOW)  # the latest run of each is kept, and counted in its day
    since = NOW - timedelta(days=38)
    hourly = [run("hourly", NOW - timedelta(hours=h), took=None) for h in range(1, 7)]
    write(store, hourly)

    def read() -> set[str | None]:
        return {day.entry_id for day in store.short_history_days(["alpha"], since, 5)}

    assert read() == {"monthly", "hourly"}  # the hourly job's runs have no end: too few
    judged = store.short_history_days(["alpha"], since, 5, ["hourly"])  # a rescan's few
    assert {day.entry_id for day in judged} == {"hourly"}
    write(store, [run("hourly", NOW - timedelta(hours=h), took=10) for h in range(1, 6)])
    assert read() == {"monthly", "hourly"}  # five ended: still too few
    write(store, [run("hourly", NOW - timedelta(hours=6), took=10)])
    assert read() == {"monthly"}
    # A host whose log writes no ends has no durations to read.
    with store.transaction() as db:
        store.write_host_state(db, {"name": "alpha", "ends_logged": 0})
    assert read() == set()
