"""The audit: what the history holds about the chosen hosts, handed to the judge, as one result.

Reads the history (after a scan, usually) and returns the findings, judged now or as the scans
stored them (incidents); and the entries with what their states are judged by, for the Jobs view
and `cronops jobs`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo

from cronops.analysis import (
    MIN_HISTORY,
    CrontabEvidence,
    Peers,
    entry_status,
    entry_zone,
    every_finding,
    judge,
    worst_first,
)
from cronops.causes import last_start_compared
from cronops.changes import Change, timeline
from cronops.crontab import StoredCrontab
from cronops.inventory import Host
from cronops.policy import PolicyBook
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
from cronops.schedule import Schedules
from cronops.store import History

# Earlier runs than the window feed a job's own history (for `slow`) without being judged.
RUN_HISTORY = timedelta(days=30)
# An entry's state looks at the expected time before its latest one (whose grace may not have
# passed yet): it needs its last few runs, not its whole history; the Jobs view's duration trend
# shows these few.
RECENT_RUNS = 3
# A margin around moments compared with runs' starts (stamped to the second, on the host's clock).
START_SLACK = timedelta(minutes=1)
# Drift compares a host's crontabs with every host whose scan answered this recently, judged now
# or not; one silent longer is taken out of service (or out of the inventory).
PEERS_ANSWERED = timedelta(days=8)


@dataclass
class AuditResult:
    generated_at: datetime
    since: datetime
    until: datetime
    hosts: list[HostFacts]
    entries: dict[str, JobEntry]  # by id: every entry judged, or (stored) those with findings
    findings: list[Finding]
    runs_checked: int
    entries_checked: int
    # A window reaching past the retention: the days there, folded into counts (not judged).
    folded: list[RunDay] = field(default_factory=list)
    # Read from stored findings: each one's incident id, by (host, entry id, kind), and the
    # incidents of those someone acknowledged (who, when, until), likewise.
    incident_ids: dict[tuple[str, str | None, str], int] = field(default_factory=dict)
    acknowledged: dict[tuple[str, str | None, str], Incident] = field(default_factory=dict)
    # Judged now: the runs read (the window's and the history before it), for when to judge next.
    runs: list[RunRecord] = field(default_factory=list)


@dataclass
class Evidence:
    """What the judge reads of some hosts besides their runs, as their last scans left it."""

    facts: dict[str, HostFacts]  # by name, in the hosts' order
    entries: list[JobEntry]
    running: list[RunningJob]
    crontabs: list[StoredCrontab]
    changes: list[Change]

    def of(self, names: Collection[str]) -> Evidence:
        """The evidence of these hosts alone."""
        names = set(names)
        return Evidence(
            {name: facts for name, facts in self.facts.items() if name in names},
            [entry for entry in self.entries if entry.host in names],
            [process for process in self.running if process.host in names],
            [crontab for crontab in self.crontabs if crontab.host in names],
            [change for change in self.changes if change.host in names],
        )


def read_evidence(history: History, hosts: Sequence[Host], since: datetime) -> Evidence:
    names = [host.name for host in hosts]
    return Evidence(
        history.host_facts(hosts),
        history.entries(names),
        history.processes(names),
        history.crontabs_now(names),
        read_changes(history, names, since),
    )


def run_audit(
    history: History,
    policy: PolicyBook,
    hosts: Sequence[Host],
    since: datetime,
    now: datetime,
    *,
    drift: bool = True,
    evidence: Evidence | None = None,
    only: Collection[str] | None = None,
    stored_runs: Mapping[str, list[RunRecord]] | None = None,
) -> AuditResult:
    """Judge the hosts' history of the window. Not `drift`: without the drift findings, which
    read the whole fleet's entries (a scan judges them once, for all its hosts). `evidence`:
    the hosts' (read_evidence), when the caller has read it already. `only`: the ids of the
    entries whose runs are judged (None: every entry's); the hosts' own findings and their
    crontabs' are judged whatever it holds (analysis.judge), `runs` holds the judged entries'.
    `stored_runs`: by host, every run the history holds of some hosts judged whole, as it
    reads them (a first scan's, which it has just written: store.scanned_run_records), not
    read again."""
    evidence = evidence if evidence is not None else read_evidence(history, hosts, since)
    facts = list(evidence.facts.values())
    names = [host.name for host in hosts]
    entries = evidence.entries
    if only is None:
        known = stored_runs or {}
        first = since - RUN_HISTORY
        runs = history.runs([name for name in names if name not in known], first)
        runs += [run for name in names for run in known.get(name, ()) if run.started_at >= first]
        # A job whose runs are too few for a baseline (weekly, monthly) has its folded days read.
        folded = history.short_history_days(names, first, MIN_HISTORY)
    else:
        runs, folded = _history_of(history, evidence, only, since)
    crontabs = CrontabEvidence(
        evidence.crontabs,
        evidence.changes,
        Peers(*history.fleet_crontabs(now - PEERS_ANSWERED)) if drift else None,
        drift,
    )
    findings = judge(
        facts,
        entries,
        [*runs, *_told_causes(history, evidence, only, since)],
        evidence.running,
        policy,
        now=now,
        since=since,
        crontabs=crontabs,
        folded=folded,
        only=only,
    )
    return AuditResult(
        generated_at=now,
        since=since,
        until=now,
        hosts=facts,
        entries={e.id: e for e in entries},
        findings=findings,
        runs_checked=sum(1 for r in runs if r.started_at >= since),
        folded=history.run_days(names, since.astimezone(UTC).date()),
        entries_checked=len(entries),
        runs=runs,
    )


def _history_of(
    history: History, evidence: Evidence, only: Collection[str], since: datetime
) -> tuple[list[RunRecord], list[RunDay]]:
    """What the judge reads of these entries' history: their runs in the window and before
    it, and the folded days of those whose runs are too few for a baseline."""
    judged: dict[str, list[str]] = {name: [] for name in evidence.facts}
    for entry in evidence.entries:  # once, not once a host: a group can hold hundreds
        if entry.id in only and entry.host in judged:
            judged[entry.host].append(entry.id)
    runs: list[RunRecord] = []
    folded: list[RunDay] = []
    for name, ids in judged.items():  # a host's entries at a time: a few, never SQLite's limit
        if ids:
            mine = sorted(ids)
            runs += history.entries_runs(mine, since - RUN_HISTORY)
            folded += history.short_history_days([name], since - RUN_HISTORY, MIN_HISTORY, mine)
    return runs, folded


def _told_causes(
    history: History, evidence: Evidence, only: Collection[str] | None, since: datetime
) -> list[RunRecord]:
    """Where only some entries are judged: the other entries' runs that can tell why a judged
    one missed a run, those cron started in the window before the host's last boot or daemon
    start (causes.py: cron ran a job between the slot and that start)."""
    if only is None:
        return []
    told: list[RunRecord] = []
    for facts in evidence.facts.values():
        last = last_start_compared(facts)
        window = since + facts.clock_skew - START_SLACK  # the host's clock, as runs are
        if last is not None and last > window:
            runs = history.cron_runs_between(facts.name, window, last + START_SLACK)
            told += [run for run in runs if run.entry_id not in only]
    return told


def read_changes(history: History, names: Sequence[str], since: datetime) -> list[Change]:
    """What changed in these hosts' crontabs since `since` (changes.timeline), oldest first."""
    versions = history.crontab_versions(names, since)
    # Who made a version found since `since` may be said earlier, after the version before.
    start = min([since, *(v.seen_at for v in versions if v.seen_at)])
    return timeline(
        versions,
        history.crontab_edits(names, start),
        history.crontab_actions(names, start),
        history.first_scans(names),
        since,
    )


def stored_audit(
    history: History,
    hosts: Sequence[Host],
    since: datetime,
    now: datetime,
    *,
    over: bool = False,
    facts: Mapping[str, HostFacts] | None = None,
    counted: bool = True,
) -> AuditResult:
    """The audit as the last scans judged it, in a few index lookups where judging reads a
    month of runs (~10 s for a million): the hosts' standing findings (open or acknowledged,
    whenever they last happened: none is over yet) and, with `over`, those the judge reported
    as over whose latest occurrence is since `since` (what judging that window lists besides:
    a failure a later run made good, a slow run among normal ones); `since` also counts the
    runs checked.

    `facts`: the hosts' facts, when the caller has read them already. Not `counted`, the
    entries and runs checked are left at 0 for `count_checked`: counting 5,000 hosts' day of
    runs takes longer than reading their findings, and a view may need the counts only when
    there is no finding to show."""
    facts = facts if facts is not None else history.host_facts(hosts)
    names = [host.name for host in hosts]
    found = history.incident_findings(["open", "acknowledged"], names, now)
    if over:
        resolved = history.incident_findings(["resolved"], names, now, seen_since=since)
        found += [(i, f) for i, f in resolved if f.over and f.last_at >= since]
    # Only the entries the findings name: reading all of a big fleet's is most of the time.
    about = {f.entry_id for _, finding in found for f in every_finding([finding]) if f.entry_id}
    audit = AuditResult(
        generated_at=now,
        since=since,
        until=now,
        hosts=list(facts.values()),
        entries={e.id: e for e in history.entries_by_id(sorted(about))},
        findings=sorted((f for _, f in found), key=worst_first),
        runs_checked=0,
        entries_checked=0,
        incident_ids={(i.host, i.entry_id, i.kind): i.id for i, _ in found},
        acknowledged={
            (i.host, i.entry_id, i.kind): i for i, _ in found if i.state == "acknowledged"
        },
        folded=history.run_days(names, since.astimezone(UTC).date()),
    )
    return count_checked(history, audit) if counted else audit


def count_checked(history: History, audit: AuditResult) -> AuditResult:
    """The audit with the entries and runs it covers counted."""
    names = [facts.name for facts in audit.hosts]
    return replace(
        audit,
        runs_checked=history.run_count(names, audit.since),
        entries_checked=history.entry_count(names),
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


def read_jobs(
    history: History,
    hosts: Sequence[Host],
    limit: int = -1,
    facts: Mapping[str, HostFacts] | None = None,
) -> Jobs:
    """A few index lookups, so the Jobs view's first paint is quick; states come after. With a
    `limit`, only the first entries (by host, source and line) and their runs: a screenful
    first, for a fleet whose whole reading takes seconds. `facts`: the hosts' facts, when the
    caller has read them already."""
    names = [host.name for host in hosts]
    running: dict[str, list[RunningJob]] = {}
    for process in history.processes(names):
        running.setdefault(process.entry_id or "", []).append(process)
    return Jobs(
        hosts=dict(facts) if facts is not None else history.host_facts(hosts),
        entries=history.entries(names, limit),
        recent_runs=history.recent_runs(names, RECENT_RUNS, limit),
        running=running,
    )
