"""What the TUI shows, read from the history DB: the fleet's hosts, entries with their last run,
and the findings the scans stored, as plain rows. No textual here, so it can be timed and tested
alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import NamedTuple

from cronops.analysis import entry_zone, every_finding, run_outcome, scheduled_for
from cronops.audit import (
    AuditResult,
    Jobs,
    count_checked,
    read_changes,
    read_jobs,
    stored_audit,
)
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

    def problems(self, now: datetime, facts: Mapping[str, HostFacts] | None = None) -> AuditResult:
        """The findings the scans stored (each scan judges the hosts it scanned): a few index
        lookups, where judging the history would read a month of runs. What was checked is
        counted only when there is no finding: the view's empty state is what says it."""
        since = now - PROBLEM_WINDOW
        audit = stored_audit(self.history, self.hosts, since, now, facts=facts, counted=False)
        return audit if audit.findings else count_checked(self.history, audit)

    # -- one job, for its detail screen ------------------------------------------------------

    def job_detail(
        self,
        entry_id: str,
        findings: Sequence[Finding],
        acknowledged: Mapping[tuple[str, str | None, str], Incident] | None = None,
    ) -> JobDetail | None:
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
                kind: incident
                for (_, entry, kind), incident in (acknowledged or {}).items()
                if entry == entry_id
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


def problems_by_host(findings: Sequence[Finding]) -> Counter:
    return Counter(f.host for f in findings)


def _judging(entry: JobEntry, run: RunRecord | None) -> EntryStatus:
    """A placeholder state until `judge_entries` has run."""
    last = run.started_at if run else None
    return EntryStatus(entry.id, "…", last, "", None, "being judged")


def _index(job: JobRow, facts: HostFacts) -> None:
    """What the filter matches: host, its tags, user, command, state."""
    entry = job.entry
    words = (entry.host, *facts.tags, entry.user, entry.command, job.status.state, entry.id)
    job.haystack = " ".join(words).lower()
