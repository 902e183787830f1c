"""A rescan judges only the entries whose verdicts can have changed (incidents.judge_scanned,
due.Dues): the same fixed history, scanned at the same moments with every entry of every host
judged each scan, must store the same incidents and findings.

Histories filled as scans fill them (tests/history.py): two hosts' crontabs and cron logs, new
runs on some hosts, slots coming due, a pause running out, a crontab edited, a host going
silent and back. An incident's last_seen differs by design: it is the last scan that judged it.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from cronops import incidents
from cronops.crontab import PauseInfo
from cronops.inventory import Host
from cronops.kinds import CRONTAB_KINDS
from cronops.policy import PolicyBook
from cronops.scan import HostReport, record_group
from cronops.store import Store, iso
from cronops.transport import HostStatus
from tests import history
from tests.test_judge_due import processes

ZONE = "UTC"
ROOT = "/var/spool/cron/crontabs/root"
T0 = datetime(2026, 11, 28, 10, 10, tzinfo=UTC)
INSTALLED = {ROOT: T0 - timedelta(days=30)}
POLL, BACKUP, REPORT, SYNC, CLEAN = (
    f"/usr/local/bin/{name}" for name in ("poll", "backup", "report", "sync", "clean")
)
PAUSED_UNTIL = T0 + timedelta(minutes=50)
BOOK = PolicyBook.from_tables(jobs=[{"command": BACKUP, "max_duration": "10m"}])
# Every column but the id (new incidents are numbered in the order they are written) and
# last_seen (the last scan that judged it: an entry not judged keeps its incidents' rows).
COMPARED = (
    "host, entry_id, kind, severity, state, first_seen, opened_at, count, streak, streak_since, "
    "summary, detail, evidence, runbook, jobs, resolved_at, resolved_why, ack_by, ack_at, "
    "ack_note, ack_until, finding"
)


def crontab(sync: str = "15 * * * *") -> str:
    pause = PauseInfo(by="alice@ops", at=T0 - timedelta(days=1), until=PAUSED_UNTIL)
    return (
        f"*/5 * * * * {POLL}\n0,30 * * * * {BACKUP}\n0 3 * * * {REPORT}\n{sync} {SYNC}\n"
        f"{pause.marker()}45 * * * * {CLEAN}\n"
    )


def ran(host: str, command: str, at: datetime, status: int = 0) -> str:
    """A Debian -L 15 run: its start, a failure line unless it exited 0, and its end."""
    return started(host, command, at) + ended(host, command, at, status)


def _pid(command: str, at: datetime) -> int:
    return int(at.timestamp()) % 30000 + 100 + sum(map(ord, command)) % 50


def started(host: str, command: str, at: datetime) -> str:
    pid = _pid(command, at)
    return history.syslog(at, ZONE, host, f"CRON[{pid}]: (root) CMD ([{pid + 1}] {command})")


def ended(host: str, command: str, at: datetime, status: int = 0) -> str:
    """The lines a run started at `at` ends with, 20 s later."""
    pid, end = _pid(command, at), at + timedelta(seconds=20)
    lines = ""
    if status:
        failure = f"(CRON) error (grandchild #{pid + 1} failed with exit status {status})"
        lines += history.syslog(end, ZONE, host, f"CRON[{pid}]: {failure}")
    return lines + history.syslog(
        end, ZONE, host, f"CRON[{pid}]: (root) END ([{pid + 1}] {command})"
    )


def runs(
    host: str,
    start: datetime,
    end: datetime,
    skip: tuple[tuple[str, datetime], ...] = (),
    failed: tuple[tuple[str, datetime], ...] = (),
    sync_minute: int = 15,
    running: tuple[tuple[str, datetime], ...] = (),
) -> str:
    """The log lines of every run the crontab makes on `host` from `start` to before `end`
    (1 s after each minute), but the `skip`ped ones; the `failed` ones exit 2, the `running`
    ones have not ended."""
    lines = ""
    at = start.replace(second=0)
    while at < end:
        due = [POLL] if at.minute % 5 == 0 else []
        due += [BACKUP] if at.minute in (0, 30) else []
        due += [REPORT] if (at.hour, at.minute) == (3, 0) else []
        due += [SYNC] if at.minute == sync_minute else []
        for command in due:
            second = at + timedelta(seconds=1)
            if (command, at) in running:
                lines += started(host, command, second)
            elif (command, at) not in skip:
                status = 2 if (command, at) in failed else 0
                lines += ran(host, command, second, status)
        at += timedelta(minutes=1)
    return lines


def scan(db, host: str, at: datetime, log: str = "", **read) -> None:
    """A scan of `host` at `at` that read these new `log` lines and, as `read` says, its
    crontab, the crontab's mtime, the backup still running since `job_since`, and whether
    cron is stopped."""
    history.scan(
        db,
        host,
        {ROOT: read.get("crontab", crontab())},
        at,
        zone=ZONE,
        log=log,
        log_read=True,
        mtimes=read.get("mtimes", INSTALLED),
        policy=BOOK,
        processes=[
            process
            for process in processes(at, read.get("job_since"))
            if not read.get("cron_stopped") or process.pid != 1  # cron's
        ],
    )


def silent(db, host: str, at: datetime) -> None:
    """A scan of `host` at `at` that could not reach it."""
    store = Store(db)
    try:
        report = HostReport(
            Host(name=host, address="127.0.0.1"), HostStatus.TIMEOUT, "timed out", 5.0
        )
        record_group(store, [report], at - history.WINDOW, at, lambda: at, BOOK)
    finally:
        store.close()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def m(hour: int, minute: int) -> datetime:
    return T0.replace(hour=hour, minute=minute)


# The scans, in order: (moment, host, log lines new since its last scan, or None: it did not
# answer; what else the scan read).
DAYS = T0 - timedelta(days=2)
YESTERDAY = T0 - timedelta(days=1, minutes=-3)  # 10:13: "at 10:13" turns "at 11-27 10:13"
SCANS = [
    (
        T0,
        "web1",  # and yesterday at 10:13 the daily report, run by cron at an odd time, failed
        lambda: (
            runs("web1", DAYS, YESTERDAY)
            + ran("web1", REPORT, YESTERDAY + timedelta(seconds=1), 2)
            + runs("web1", YESTERDAY, T0, failed=((BACKUP, m(10, 0)),))
        ),
        {},
    ),
    (T0, "web2", lambda: runs("web2", DAYS, T0, skip=((SYNC, m(8, 15)),)), {}),
    (at(3), "web1", lambda: "", {}),  # nothing new
    (at(6), "web1", lambda: runs("web1", T0, at(6), failed=((SYNC, m(10, 15)),)), {}),
    (at(6), "web2", lambda: runs("web2", T0, at(6), skip=((POLL, m(10, 15)),)), {}),
    (at(22), "web1", lambda: runs("web1", at(6), at(22)), {}),  # the backup ran fine at 10:30
    (at(22), "web2", lambda: "", {}),  # its polls at 10:20 and 10:25 come due as missed
    (
        at(45),
        "web1",  # the sync moved to :20 (a crontab edit), and its runs
        lambda: runs("web1", at(22), at(45), sync_minute=20),
        {"crontab": crontab("20 * * * *"), "mtimes": {ROOT: at(40)}},
    ),
    (at(45), "web2", lambda: runs("web2", at(25), at(45)), {}),
    (at(52), "web2", lambda: "", {}),  # its pause ran out at 11:00
    (at(52), "web1", lambda: "", {"crontab": crontab("20 * * * *"), "mtimes": {ROOT: at(40)}}),
    (at(70), "web2", None, {}),  # silent
    (
        at(71),
        "web1",  # the sync started at 11:20: its end is not logged yet
        lambda: runs("web1", at(45), at(71), sync_minute=20, running=((SYNC, m(11, 20)),)),
        {"crontab": crontab("20 * * * *"), "mtimes": {ROOT: at(40)}},
    ),
    (
        at(73),
        "web1",  # ...it failed: no expected time passed since the last scan
        lambda: ended("web1", SYNC, m(11, 20) + timedelta(seconds=1), 2),
        {"crontab": crontab("20 * * * *"), "mtimes": {ROOT: at(40)}},
    ),
    (
        at(95),
        "web2",  # back, its 11:15 sync missed; its 11:30 backup still runs, past 10 minutes
        lambda: runs(
            "web2", at(45), at(95), skip=((SYNC, m(11, 15)),), running=((BACKUP, m(11, 30)),)
        ),
        {"job_since": m(11, 30) + timedelta(seconds=1)},
    ),
    (
        at(95),
        "web1",
        lambda: runs("web1", at(71), at(95), sync_minute=20, failed=((POLL, m(11, 40)),)),
        {"crontab": crontab("20 * * * *"), "mtimes": {ROOT: at(40)}},
    ),
    (
        at(100),
        "web1",  # a backup runs since 11:41 whose start is not logged yet
        lambda: "",
        {"crontab": crontab("20 * * * *"), "mtimes": {ROOT: at(40)}, "job_since": m(11, 41)},
    ),
    (
        at(103),
        "web1",  # ...past its 10 minutes, with no expected time passed
        lambda: "",
        {"crontab": crontab("20 * * * *"), "mtimes": {ROOT: at(40)}, "job_since": m(11, 41)},
    ),
    (at(102), "web2", lambda: "", {"job_since": m(11, 30) + timedelta(seconds=1)}),  # hung on
    (at(180), "web1", lambda: "", {"crontab": crontab("20 * * * *"), "mtimes": {ROOT: at(40)}}),
    (at(180), "web2", lambda: "", {"job_since": m(11, 30) + timedelta(seconds=1)}),
    (at(182), "web2", lambda: "", {"cron_stopped": True}),  # its backup ended, then cron
    (at(188), "web2", lambda: "", {"cron_stopped": True}),  # its polls' missed runs add up
]


def stored(db) -> dict[tuple, tuple]:
    """Every incident's compared columns, by identity."""
    connection = sqlite3.connect(db)
    try:
        rows = connection.execute(f"select {COMPARED} from incidents").fetchall()
    finally:
        connection.close()
    return {(row[0], row[1], row[2]): row for row in rows}


def replay(db, step: int) -> None:
    moment, host, log, read = SCANS[step]
    if log is None:
        silent(db, host, moment)
    else:
        scan(db, host, moment, log(), **read)


@pytest.fixture
def judged(monkeypatch):
    """The entries each judgement of a rescan judged alone (None: every one of its hosts)."""
    calls: list = []
    judge = incidents._judge

    def counted(store, db, policy, policies, evidence, hosts, only, *rest):
        calls.append(None if only is None else sorted(only))
        return judge(store, db, policy, policies, evidence, hosts, only, *rest)

    monkeypatch.setattr(incidents, "_judge", counted)
    return calls


def test_judging_only_the_entries_that_can_have_changed_stores_what_judging_all_does(
    tmp_path, monkeypatch, judged
):
    by_entry, whole = tmp_path / "by-entry.db", tmp_path / "whole.db"
    for step in range(len(SCANS)):
        replay(by_entry, step)
        with monkeypatch.context() as every_entry:
            every_entry.setattr(incidents, "_entries_to_judge", lambda *args: None)
            replay(whole, step)
        assert stored(by_entry) == stored(whole), f"after scan {step}: {SCANS[step][:2]}"
    kinds = {(host, kind, row[4]) for (host, _, kind), row in stored(by_entry).items()}
    # The history went where it was meant to: each verdict was reached, some by judging a few
    # entries alone.
    assert {
        ("web1", "failed", "resolved"),  # the backup's 10:00 failure, made good at 10:30
        ("web1", "failed", "open"),  # the poll's at 11:40
        ("web2", "missed", "resolved"),  # folded under its stopped cron at last
        ("web2", "pause_expired", "open"),
        ("web2", "unreachable", "resolved"),
        ("web1", "changed", "open"),
        ("web2", "hung", "resolved"),
        ("web2", "cron_not_running", "open"),
    } <= kinds
    (sync,) = [
        row
        for (host, _, kind), row in stored(by_entry).items()
        if kind == "failed" and host == "web1" and "sync" in row[11]
    ]
    assert sync[4] == "open"
    assert any(only for only in judged if only is not None)


def rows_by_id(db) -> dict[int, tuple]:
    """Every incident's row, all its columns, by id."""
    connection = sqlite3.connect(db)
    try:
        return {row[0]: row for row in connection.execute("select * from incidents")}
    finally:
        connection.close()


def test_a_partial_judgement_leaves_the_incidents_of_entries_not_judged_as_they_are(
    tmp_path, monkeypatch
):
    """Their rows are not read nor written (store.judged_incidents); the host's own and its
    crontabs' (lint, changed) are judged with any entry, so theirs are seen again."""
    calls: list = []
    judge = incidents._judge

    def recorded(store, db, policy, policies, evidence, hosts, only, *rest):
        calls.append(({host.name for host in hosts}, only))
        return judge(store, db, policy, policies, evidence, hosts, only, *rest)

    monkeypatch.setattr(incidents, "_judge", recorded)
    db = tmp_path / "history.db"
    crontab_seen_again = untouched = 0
    for step, (moment, *_) in enumerate(SCANS):
        before = rows_by_id(db) if step else {}
        calls.clear()
        replay(db, step)
        after = rows_by_id(db)
        for hosts, only in calls:
            if only is None:
                continue
            for incident_id, row in before.items():
                host, entry_id, kind, last_seen = row[1], row[2], row[3], after[incident_id][8]
                if host not in hosts or row[5] == "resolved":
                    continue
                if entry_id is None or kind in CRONTAB_KINDS:
                    seen_again = last_seen == iso(moment) or after[incident_id][5] == "resolved"
                    assert seen_again, (step, row[:4])
                    crontab_seen_again += kind in CRONTAB_KINDS
                elif entry_id not in only:
                    assert after[incident_id] == row, (step, row[:4])
                    untouched += 1
    assert crontab_seen_again and untouched
