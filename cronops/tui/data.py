"""What the TUI shows, read from the history DB: the fleet's hosts, entries with their last run,
and the findings the scans stored, as plain rows. No textual here, so it can be timed and tested
alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, NamedTuple

from cronops.analysis import entry_zone, every_finding, run_outcome, scheduled_for, worst_first
from cronops.audit import Jobs, read_changes, read_jobs
from cronops.changes import Change
from cronops.inventory import Host, Inventory
from cronops.policy import Policy
from cronops.records import (
    EntryStatus,
    Finding,
    HostFacts,
    Incident,
    JobEntry,
    RunDay,
    RunningJob,
    RunRecord,
)
from cronops.schedule import describe, next_runs
from cronops.store import History

# The Problems view counts the runs of the last day, as `cronops audit` does by default.
PROBLEM_WINDOW = timedelta(hours=24)
HISTORY_ROWS = 50  # runs shown in a job's detail
CHANGES_WINDOW = timedelta(days=90)  # how far back a job's detail lists what changed
# A big fleet's reading (seconds for 100k entries) is shown a screenful of entries first.
FIRST_ROWS = 200
# From this many entries on, judging entry states goes to a worker process (starting one costs
# ~0.5 s).
JUDGE_IN_PROCESS_FROM = 2000


@dataclass
class JobRow:
    """One entry as the Jobs view lists it; `haystack` is what the filter matches."""

    entry: JobEntry
    status: EntryStatus
    recent_runs: list[RunRecord]  # its latest runs, oldest first
    zone: tzinfo
    haystack: str

    @property
    def last_run(self) -> RunRecord | None:
        return self.recent_runs[-1] if self.recent_runs else None


@dataclass
class HostRow:
    host: Host
    facts: HostFacts
    entries: int
    haystack: str

    @property
    def scanned_at(self) -> datetime | None:
        return self.facts.scanned_at


@dataclass(slots=True)
class Problem:
    """A row of the Problems table: a stored finding in the columns the table shows, read from
    the store's columns for thousands at once. Not a second finding type: the table's row (as
    JobRow is the Jobs table's); the finding in full, evidence and all, is read when its job is
    opened (`FleetReader.job_detail`)."""

    host: str
    entry_id: str | None  # None: the host's own
    kind: str
    severity: str
    count: int
    last_at: datetime  # the latest occurrence, in the job's zone
    summary: str
    user: str | None  # its entry's (None: no entry, or no longer present)
    command: str | None
    incident_id: int | None  # its stored incident; None: a job's finding under its host's
    ack_by: str | None = None  # who acknowledged it, while it stands acknowledged
    ack_until: datetime | None = None
    # A host finding's job findings that it explains (cron stopped: its jobs' missed runs).
    jobs: list[Problem] = field(default_factory=list)


@dataclass
class Problems:
    """The findings the scans stored, as the Problems view lists them: worst first."""

    rows: list[Problem]
    since: datetime  # the window the empty state's counts cover
    until: datetime  # when read: the rows' times read relative to it
    hosts: int
    # Counted only when there is no finding: the view's empty state is what says them.
    entries_checked: int = 0
    runs_checked: int = 0


@dataclass
class Fleet:
    """One reading of the history, taken at `now`."""

    now: datetime
    hosts: list[HostRow]
    jobs: list[JobRow]
    evidence: Jobs  # what the entries' states are judged by
    whole: bool = True  # False: the first entries only, the rest being read
    # `cronops watch`'s routes whose last message failed (written by the watch, read here).
    failing_routes: list[str] = field(default_factory=list)


class FleetReader:
    """Reads the fleet for the views; each method is a few short trips to SQLite."""

    def __init__(
        self,
        history: History,
        inventory: Inventory,
        hosts: Sequence[Host],
        now: Callable[[], datetime],
    ):
        self.history = history
        self.inventory = inventory
        self.hosts = list(hosts)
        self.now = now
        self._by_name = {h.name: h for h in self.hosts}

    def facts(self) -> dict[str, HostFacts]:
        """Each host as its last scan left it, by name: read once for every view of a load."""
        return self.history.host_facts(self.hosts)

    def read(self, limit: int = -1, facts: Mapping[str, HostFacts] | None = None) -> Fleet:
        """Hosts and entries with their last run: a few index lookups, so the first paint is quick
        (with a `limit`, of the first entries only: `Fleet.whole` says which).

        Entry states come after, from `judge_entries`."""
        now = self.now()
        evidence = read_jobs(self.history, self.hosts, limit, facts)
        facts = evidence.hosts
        jobs = []
        for entry in evidence.entries:
            runs = evidence.recent_runs.get(entry.id, [])
            jobs.append(
                JobRow(
                    entry=entry,
                    status=_judging(entry, runs[-1] if runs else None),
                    recent_runs=runs,
                    zone=entry_zone(entry, facts[entry.host]),
                    haystack="",
                )
            )
            _index(jobs[-1], facts[entry.host])
        per_host = Counter(job.entry.host for job in jobs)
        hosts = [
            HostRow(
                host=h,
                facts=facts[h.name],
                entries=per_host[h.name],
                haystack=" ".join((h.name, *h.tags, facts[h.name].status)).lower(),
            )
            for h in self.hosts
        ]
        whole = limit < 0 or len(jobs) < limit
        failing = {d.shown: d.error for d in self.history.undelivered() if d.state == "failed"}
        return Fleet(
            now=now,
            hosts=hosts,
            jobs=jobs,
            evidence=evidence,
            whole=whole,
            failing_routes=[f"{shown} ({error})" for shown, error in failing.items()],
        )

    def judge_entries(self, fleet: Fleet) -> None:
        """Each entry's state by its latest runs."""
        apply_states(fleet, fleet.evidence.states(self.inventory.policy, fleet.now))

    def problems(self, now: datetime) -> Problems:
        """The findings the scans stored (each scan judges the hosts it scanned), standing
        (open or acknowledged): one query, where judging the history would read a month of
        runs. What was checked is counted only when there is no finding: the view's empty
        state is what says it (counting 5,000 hosts' day of runs takes longer)."""
        names = [host.name for host in self.hosts]
        stored = self.history.problem_rows(names, now)
        acked = {(r["host"], r["entry_id"], r["kind"]): r for r in stored if r["ack_by"]}
        jobs = [job for row in stored for job in row["jobs"]]
        entries = {e.id: e for e in self.history.entries_by_id([j.entry_id for j in jobs])}
        rows = sorted((_problem(row, entries, acked) for row in stored), key=worst_first)
        since = now - PROBLEM_WINDOW
        problems = Problems(rows, since, now, len(names))
        if not rows:
            problems.entries_checked = self.history.entry_count(names)
            problems.runs_checked = self.history.run_count(names, since)
        return problems

    # -- one job, for its detail screen ------------------------------------------------------

    def job_detail(self, entry_id: str) -> JobDetail | None:
        """The entry, its runs and what was found of it: its standing findings in full (its
        host's read, evidence and all), those under its host's finding included."""
        entry = self.history.entry(entry_id)
        if entry is None or not entry.present or entry.host not in self._by_name:
            return None
        host = self._by_name[entry.host]
        facts = self.history.host_facts([host])[host.name]
        zone = entry_zone(entry, facts)
        runs = [
            PastRun(run, scheduled_for(entry.schedule, zone, run.started_at))
            for run in self.history.entry_runs(entry_id, HISTORY_ROWS)
        ]
        policy = self.inventory.policy.resolve(entry, facts)
        now = self.now()
        found = self.history.incident_findings(["open", "acknowledged"], [host.name], now)
        findings = sorted((finding for _, finding in found), key=worst_first)
        try:
            upcoming = next_runs(entry.schedule, zone, now, 5)
        except Exception:  # an invalid or @reboot schedule has no next runs to show
            upcoming = []
        return JobDetail(
            entry=entry,
            source=f"{entry.source}:{entry.line}",
            described=describe(entry.schedule),
            zone=zone,
            upcoming=upcoming,
            runs=runs,
            running=self.history.processes([host.name]),
            findings=[f for f in every_finding(findings) if f.entry_id == entry_id],
            acknowledged={
                incident.kind: incident
                for incident, _ in found
                if incident.entry_id == entry_id and incident.state == "acknowledged"
            },
            policy=policy,
            changes=[
                change
                for change in read_changes(self.history, [host.name], now - CHANGES_WINDOW)
                if change.concerns(entry_id)
                or (change.entry_id is None and change.path == entry.source)
            ],
            days=self.history.entry_run_days(entry_id),
        )


class PastRun(NamedTuple):
    run: RunRecord
    scheduled: datetime | None  # the expected time it ran for


@dataclass
class JobDetail:
    entry: JobEntry
    source: str
    described: str
    zone: tzinfo
    upcoming: list[datetime]
    runs: list[PastRun]  # newest first
    running: list[RunningJob]  # the host's job processes at the last scan
    findings: list[Finding]
    policy: Policy
    changes: list[Change]  # its own and its crontab file's, oldest first
    days: list[RunDay] = field(default_factory=list)  # runs older than the retention, by day
    acknowledged: dict[str, Incident] = field(default_factory=dict)  # its findings', by kind

    @property
    def text(self) -> str:
        return self.entry.text

    def outcome(self, run: RunRecord) -> str:
        return run_outcome(run, [p for p in self.running if p.entry_id == self.entry.id])


# -- judging in another process ------------------------------------------------------------------
# Judging a big fleet's entry states is seconds of pure Python; on a thread it would hold the GIL and freeze the
# UI meanwhile. These run in a worker process and return plain, picklable results.


def entry_states(
    path: Path, inventory: Inventory, hosts: Sequence[Host], now: datetime
) -> dict[str, EntryStatus]:
    history = History.open(path)
    try:
        return read_jobs(history, hosts).states(inventory.policy, now)
    finally:
        history.close()


def apply_states(fleet: Fleet, states: dict[str, EntryStatus]) -> None:
    for job in fleet.jobs:
        if job.entry.id in states:
            job.status = states[job.entry.id]
            _index(job, fleet.evidence.hosts[job.entry.host])


def problems_by_host(problems: Sequence[Problem]) -> Counter:
    return Counter(p.host for p in problems)


def _problem(
    row: dict[str, Any],
    entries: Mapping[str, JobEntry],
    acked: Mapping[tuple[str, str | None, str], Mapping[str, Any]],
) -> Problem:
    """A stored finding's row (`History.problem_rows` names its columns as Problem does), and
    under a host's, its jobs'."""
    return Problem(**row | {"jobs": [_job_problem(job, entries, acked) for job in row["jobs"]]})


def _job_problem(
    job: Finding,
    entries: Mapping[str, JobEntry],
    acked: Mapping[tuple[str, str | None, str], Mapping[str, Any]],
) -> Problem:
    """A job's finding under its host's: not stored by itself (acknowledged, if ever, as its
    own incident)."""
    entry = entries.get(job.entry_id or "")
    ack = acked.get((job.host, job.entry_id, job.kind), {})
    return Problem(
        host=job.host,
        entry_id=job.entry_id,
        kind=job.kind,
        severity=job.severity,
        count=job.count,
        last_at=job.last_at,
        summary=job.summary,
        user=entry.user if entry else None,
        command=entry.command if entry else None,
        incident_id=None,
        ack_by=ack.get("ack_by"),
        ack_until=ack.get("ack_until"),
    )


def _judging(entry: JobEntry, run: RunRecord | None) -> EntryStatus:
    """A placeholder state until `judge_entries` has run."""
    last = run.started_at if run else None
    return EntryStatus(entry.id, "…", last, "", None, "being judged")


def _index(job: JobRow, facts: HostFacts) -> None:
    """What the filter matches: host, its tags, user, command, state."""
    entry = job.entry
    words = (entry.host, *facts.tags, entry.user, entry.command, job.status.state, entry.id)
    job.haystack = " ".join(words).lower()
