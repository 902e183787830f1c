"""The audit: what the history holds about the chosen hosts, handed to the judge, as one result.

Reads the store (after a scan, usually), builds analysis inputs, and returns the findings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from cronops.analysis import (
    EntryStatus,
    Finding,
    HostFacts,
    JobEntry,
    RunningJob,
    RunRecord,
    entry_status,
    entry_zone,
    judge,
)
from cronops.crontab import PauseInfo
from cronops.inventory import Host, Inventory
from cronops.policy import PolicyBook
from cronops.probe import resolve_zone
from cronops.schedule import Schedules
from cronops.store import Store, from_iso, iso

# Earlier runs than the window feed a job's own history (for `slow`) without being judged.
HISTORY = timedelta(days=30)
# An entry's state looks at the expected time before its latest one (whose grace may not have
# passed yet): it needs its last few runs, not its whole history; the Jobs view's duration trend
# shows these few.
RECENT_RUNS = 3


@dataclass
class AuditResult:
    generated_at: datetime
    since: datetime
    until: datetime
    hosts: list[HostFacts]
    entries: dict[str, JobEntry]
    findings: list[Finding]
    runs_checked: int


def run_audit(
    store: Store, inventory: Inventory, hosts: Sequence[Host], since: datetime, now: datetime
) -> AuditResult:
    facts = [host_facts(store, host) for host in hosts]
    names = [host.name for host in hosts]
    entries = load_entries(store, names)
    runs = load_runs(store, names, since - HISTORY)
    running = load_running(store, names)
    findings = judge(facts, entries, runs, running, inventory.policy, now=now, since=since)
    return AuditResult(
        generated_at=now,
        since=since,
        until=now,
        hosts=facts,
        entries={e.id: e for e in entries},
        findings=findings,
        runs_checked=sum(1 for r in runs if r.started_at >= since),
    )


@dataclass
class Jobs:
    """The present entries of some hosts, with what their states are judged by: the host's
    facts, each entry's latest runs and its processes at the last scan."""

    hosts: dict[str, HostFacts]  # by name
    entries: list[JobEntry]  # by host, source and line
    recent_runs: dict[str, list[RunRecord]]  # by entry id, oldest first
    running: dict[str, list[RunningJob]]  # by entry id

    def zone(self, entry: JobEntry) -> tzinfo:
        """The zone the entry's times are read in."""
        return entry_zone(entry, self.hosts[entry.host])

    def states(self, policy: PolicyBook, now: datetime) -> dict[str, EntryStatus]:
        """Each entry's state (~60 µs each: half a second for 10k), by entry id."""
        schedules = Schedules()  # entries of one host and schedule share their expected times
        return {
            entry.id: entry_status(
                entry,
                self.hosts[entry.host],
                self.recent_runs.get(entry.id, []),
                self.running.get(entry.id, []),
                policy,
                now,
                schedules,
            )
            for entry in self.entries
        }


def read_jobs(store: Store, hosts: Sequence[Host]) -> Jobs:
    """A few index lookups, so the Jobs view's first paint is quick; states come after."""
    names = [host.name for host in hosts]
    running: dict[str, list[RunningJob]] = {}
    for process in load_running(store, names):
        running.setdefault(process.entry_id or "", []).append(process)
    recent: dict[str, list[RunRecord]] = {}
    for row in store.recent_runs(names, RECENT_RUNS):
        recent.setdefault(row["entry_id"], []).append(run_record(row))
    return Jobs(
        hosts={host.name: host_facts(store, host) for host in hosts},
        entries=load_entries(store, names),
        recent_runs=recent,
        running=running,
    )


def host_facts(store: Store, host: Host) -> HostFacts:
    """The host as its last scan left it; a host never scanned says so."""
    row = store.host_row(host.name)
    if row is None:
        zone, _ = resolve_zone(host.timezone or "", "")
        return HostFacts(
            name=host.name, status="error", error="never scanned", zone=zone, tags=host.tags
        )
    zone, _ = resolve_zone(host.timezone or row["zone"] or "", "")
    problems = store.rows(
        "select source, line, message from crontab_problems where host = ? order by source, line",
        [host.name],
    )
    dialect = store.rows(
        "select dialect from runs where host = ? and dialect != '' order by started_at desc limit 1",
        [host.name],
    )
    return HostFacts(
        name=host.name,
        status=row["status"],
        error=row["error"],
        zone=zone,
        tags=host.tags,
        cron_running=None if row["cron_running"] is None else bool(row["cron_running"]),
        clock_skew=timedelta(seconds=row["clock_skew_s"] or 0),
        coverage_start=from_iso(row["coverage_start"]),
        last_ok_at=from_iso(row["ok_at"]),
        logs_readable=row["ok_at"] is None or bool(row["logs"]),
        crontab_problems=tuple((p["source"], p["line"], p["message"]) for p in problems),
        ends_logged=_flag(row["ends_logged"]),
        failures_logged=_flag(row["failures_logged"]),
        cron_flavor=dialect[0]["dialect"] if dialect else "debian",
    )


def load_entries(store: Store, hosts: Sequence[str]) -> list[JobEntry]:
    rows = store.rows(
        f"""
        select e.*, c.mtime as crontab_mtime from entries e
        left join crontabs c on c.host = e.host and c.path = e.source
        where e.present = 1 and e.host in ({_marks(hosts)})
        order by e.host, e.source, e.line
        """,
        list(hosts),
    )
    return [
        JobEntry(
            id=r["id"],
            host=r["host"],
            user=r["user"],
            source=r["source"],
            schedule=r["schedule"],
            command=r["command"],
            disabled=bool(r["disabled"]),
            paused=_pause(r["paused"]),
            cron_tz=json.loads(r["env"] or "{}").get("CRON_TZ"),
            first_seen=from_iso(r["first_seen"]),
            crontab_mtime=from_iso(r["crontab_mtime"]),
            log_off=bool(r["log_off"]),
            line=r["line"],
            text=r["text"] or "",
        )
        for r in rows
    ]


def load_runs(store: Store, hosts: Sequence[str], since: datetime) -> list[RunRecord]:
    rows = store.rows(
        f"""
        select entry_id, host, started_at, ended_at, status, signal, trigger from runs
        where host in ({_marks(hosts)}) and started_at >= ?
        """,
        [*hosts, iso(since)],
    )
    return [run_record(r) for r in rows]


def run_record(row: dict) -> RunRecord:
    """A runs row (with its entry_id) as the judge takes it."""
    return RunRecord(
        entry_id=row["entry_id"],
        host=row["host"],
        started_at=from_iso(row["started_at"]),
        ended_at=from_iso(row["ended_at"]),
        status=row["status"],
        signal=row["signal"],
        trigger=row["trigger"],
    )


def load_running(store: Store, hosts: Sequence[str]) -> list[RunningJob]:
    rows = store.rows(
        f"select host, entry_id, pid, started_at from processes where host in ({_marks(hosts)})",
        list(hosts),
    )
    return [RunningJob(r["host"], r["entry_id"], r["pid"], from_iso(r["started_at"])) for r in rows]


def _pause(stored: str | None) -> PauseInfo | None:
    """An entries row's `paused` column (JSON, times in ISO) as the marker it was read from."""
    if stored is None:
        return None
    pause = json.loads(stored)
    return PauseInfo(
        by=pause["by"],
        at=from_iso(pause["at"]),
        reason=pause["reason"],
        until=from_iso(pause["until"]),
    )


def _flag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _marks(items: Sequence[str]) -> str:
    return ", ".join("?" for _ in items) or "null"
