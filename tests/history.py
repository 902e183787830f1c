"""A history filled the way a scan fills it, from made-up probe answers: no host needed.

For the tests of commands that read the history (lint, changes): each `scan` stores one host's
crontabs and cron log lines through the scan's own parsing and writing (record_group);
`judge_stored` stores the findings of a history written straight into the tables; `incident`
and `entry` make a stored finding and an entry for the tests of what is told about them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from cronops import probe
from cronops.incidents import judge_across, judge_scanned
from cronops.inventory import Host
from cronops.policy import PolicyBook
from cronops.records import Incident, JobEntry
from cronops.scan import HostReport, record_group
from cronops.store import Store
from cronops.transport import HostStatus

SPOOL = "/var/spool/cron/crontabs"
WINDOW = timedelta(days=8)  # a scan's, by default


def scan(
    db: Path,
    host: str,
    crontabs: dict[str, str],
    at: datetime,
    *,
    zone: str = "Europe/Berlin",
    log: str = "",
    journal: bytes | None = None,
    output_tail: int = 4096,
    mtimes: dict[str, datetime] | None = None,
    unreadable: list[str] | None = None,
    policy: PolicyBook | None = None,
    tags: tuple[str, ...] = (),
    log_read: bool = False,
    processes: list[probe.Process] | None = None,
    window: timedelta = WINDOW,
) -> None:
    """One successful scan of `host` (with the inventory's `tags` and `output_tail`) at `at`:
    its crontab files (path -> text; a path under the spool is a user's crontab), the ones
    there but unreadable, its process list (none: no cron daemon runs), and its cron log's
    lines (`log_read`: the log was read, with nothing new in it) or `journalctl -o json`
    lines; with a
    `policy`, the host's stored findings are judged too, as `cronops scan` of it does (the
    host alone, as a scan judges each group of hosts it stores, then its drift across the
    fleet, once the scan's hosts are stored), over the `window`."""
    tz = ZoneInfo(zone)
    facts = probe.ProbeFacts(host, at.astimezone(tz), tz, zone, "root", 0, timedelta(0))
    files = [
        probe.CrontabFile(
            path,
            "user" if path.startswith(SPOOL) else "system",
            path.rsplit("/", 1)[-1] if path.startswith(SPOOL) else None,
            (mtimes or {}).get(path),
            text,
        )
        for path, text in crontabs.items()
    ]
    lines = log.encode()
    log_path = "/var/log/syslog"
    chunk = probe.LogChunk(log_path, log_path, "current", lines, read=len(lines))
    result = probe.ProbeResult(
        facts,
        crontabs=files,
        unreadable=unreadable or [],
        logs=[chunk] if log or log_read else [],
        processes=processes or [],
        journal=journal,
    )
    inventoried = Host(name=host, address="127.0.0.1", tags=tags, output_tail=output_tail)
    report = HostReport(inventoried, HostStatus.OK, None, 1.0, result)
    store = Store(db)
    try:
        since = at - window
        (outcome,) = record_group(store, [report], since, at, lambda: at, policy)
        if policy is not None:
            with store.transaction() as sql:
                judge_across(store, sql, [inventoried], policy, since, at)
    finally:
        store.close()
    assert outcome.ok, outcome.error


def judge_stored(
    db: Path, hosts: list[Host], policy: PolicyBook, now: datetime, window: timedelta = WINDOW
) -> None:
    """What a scan of `hosts` at `now` does after storing them: judge them, and store their
    findings (for histories written straight into the store's tables)."""
    store = Store(db)
    try:
        with store.transaction() as sql:
            judge_scanned(store, sql, hosts, policy, now - window, now)
            judge_across(store, sql, hosts, policy, now - window, now)
    finally:
        store.close()


def inventory(path: Path, *hosts: str) -> Path:
    path.write_text("".join(f'[[hosts]]\nname = "{h}"\naddress = "127.0.0.1"\n' for h in hosts))
    return path


def syslog(at: datetime, zone: str, host: str, message: str) -> str:
    """A line as rsyslog's traditional format writes it, in the host's zone."""
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%b} {local.day:2d} {local:%H:%M:%S} {host} {message}\n"


INCIDENT_AT = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def incident(**changes) -> Incident:
    """An open incident: a backup on alpha failed once (exit 3), opened at INCIDENT_AT."""
    base = Incident(
        id=1,
        host="alpha",
        entry_id="e1",
        kind="failed",
        severity="warning",
        state="open",
        first_seen=INCIDENT_AT,
        opened_at=INCIDENT_AT,
        last_seen=INCIDENT_AT,
        count=1,
        streak=1,
        streak_since=INCIDENT_AT,
        summary="exit 3",
        detail="backup failed: exit 3",
        evidence="CRON[12]: (CRON) error (grandchild #13 failed with exit status 3)",
        runbook="https://wiki/backup",
        jobs=(),
        resolved_at=None,
        resolved_why=None,
        ack_by=None,
        ack_at=None,
        ack_note=None,
        ack_until=None,
    )
    return replace(base, **changes)


def entry(**changes) -> JobEntry:
    """web1's hourly backup in /etc/crontab, first seen three days before INCIDENT_AT."""
    values = {
        "id": "backup",
        "host": "web1",
        "user": "root",
        "source": "/etc/crontab",
        "schedule": "0 * * * *",
        "command": "backup",
        "disabled": False,
        "paused": None,
        "cron_tz": None,
        "first_seen": INCIDENT_AT - timedelta(days=3),
        "crontab_mtime": None,
    }
    return JobEntry(**(values | changes))
