"""Cron's lines spread over several log files, read by the real probe over SSH: the history is
whole and holds each run once.

sierra's rsyslog first writes cron's lines to /var/log/syslog only; then cron.log is enabled
beside it (both get them for a while); then syslog is told `cron.none` (cron.log alone).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cronops.cli import main
from cronops.store import Store, iso
from tests.conftest import own_fleet, syslog_day
from tests.fleet import HostSpec

pytestmark = pytest.mark.fleet

JOB = "/usr/local/bin/tick"
START = datetime.now(UTC).replace(second=1, microsecond=0) - timedelta(hours=3)


def lines(*minutes: int) -> str:
    """Debian cron -L 15's start and end lines of the runs at these minutes after START."""
    out = []
    for minute in minutes:
        at, pid = START + timedelta(minutes=minute), 2000 + 2 * minute
        out.append(f"{syslog_day(at)} sierra CRON[{pid}]: (root) CMD ([{pid + 1}] {JOB})")
        end = at + timedelta(seconds=5)
        out.append(f"{syslog_day(end)} sierra CRON[{pid}]: (root) END ([{pid + 1}] {JOB})")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def sierra(tmp_path_factory):
    spec = HostSpec(
        name="sierra",
        crontabs={"root": f"*/10 * * * * {JOB}\n"},
        log_files={"syslog": lines(0, 10, 20)},
    )
    yield from own_fleet(tmp_path_factory, "log-sources-fleet", spec)


def test_cron_log_enabled_later_and_syslog_stopped_after_keep_every_run_once(sierra, tmp_path):
    host = sierra.hosts["sierra"]
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(sierra.inventory_toml())
    db = tmp_path / "history.db"

    def scan() -> list[datetime]:
        assert main(["scan", "--inventory", str(inventory), "--db", str(db)]) == 0
        store = Store(db)
        try:
            runs = store.runs(["sierra"], START - timedelta(hours=1))
        finally:
            store.close()
        assert all(r.ended_at is not None for r in runs)
        return [r.started_at for r in runs]

    assert len(scan()) == 3
    # cron.log enabled: rsyslog writes the 30 and 40 runs to both files.
    with host.path("/var/log/syslog").open("a") as syslog:
        syslog.write(lines(30, 40))
    host.path("/var/log/cron.log").write_text(lines(30, 40))
    assert len(scan()) == 5
    # syslog gets `cron.none`: the 50 run is in cron.log alone.
    with host.path("/var/log/cron.log").open("a") as cron_log:
        cron_log.write(lines(50))
    starts = scan()
    assert starts == sorted(set(starts))
    assert [int((s - START).total_seconds() // 60) for s in starts] == [0, 10, 20, 30, 40, 50]


def journal_record(at: datetime, pid: int, message: str) -> str:
    """A line of `journalctl -o json`: the journal stamps cron's line to the microsecond."""
    micros = int(at.timestamp()) * 1_000_000 + 437_291
    fields = {"__CURSOR": f"s=1;i={micros}", "__REALTIME_TIMESTAMP": str(micros)}
    fields |= {"SYSLOG_IDENTIFIER": "CRON", "SYSLOG_PID": str(pid), "_HOSTNAME": "sierra"}
    return json.dumps(fields | {"MESSAGE": message})


def test_runs_in_both_the_journal_and_a_file_are_kept_once(sierra, tmp_path):
    # rsyslog writes cron's lines to a file while journald keeps them too, and the inventory
    # names both: the same runs, to the second in the file and to the microsecond in the journal.
    host = sierra.hosts["sierra"]
    job = "/usr/local/bin/both"
    minutes = (0, 10, 20)
    records = []
    for minute in minutes:
        at, pid = START + timedelta(minutes=minute), 2000 + 2 * minute  # as in lines()
        records.append(journal_record(at, pid, f"(root) CMD ([{pid + 1}] {job})"))
        end = at + timedelta(seconds=5)
        records.append(journal_record(end, pid, f"(root) END ([{pid + 1}] {job})"))
    host.path("/var/log/both.log").write_text(lines(*minutes).replace(JOB, job))
    # The machines under test run no journald: a journalctl that answers as one would.
    journalctl = host.path("/usr/sbin/journalctl")
    journalctl.write_text("#!/bin/sh\ncat <<'EOF'\n" + "\n".join(records) + "\nEOF\n")
    journalctl.chmod(0o755)
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(
        sierra.inventory_toml(extra_defaults={"logs": ["/var/log/both.log", "journal"]})
    )
    db = tmp_path / "history.db"
    try:
        for _ in range(2):  # and again, each source from its cursor
            assert main(["scan", "--inventory", str(inventory), "--db", str(db)]) == 0
    finally:
        journalctl.unlink()
    store = Store(db)
    try:
        runs = store.rows("select started_at, ended_at from runs where command = ?", [job])
    finally:
        store.close()
    assert [(r["started_at"], r["ended_at"]) for r in runs] == [
        (iso(START + timedelta(minutes=m)), iso(START + timedelta(minutes=m, seconds=5)))
        for m in minutes
    ]
