"""The judge: which scheduled work did not happen the way it should, and each entry's state now.

Pure functions, data in and verdicts out: no I/O and no clock (the caller passes `now` and `since`).
The rules live here once; their sentences are in wording.py, expected times come from schedule.py.

Clocks. Log lines, process starts and crontab mtimes are stamped by the host's clock, and cron fires
by that clock too, so jobs are judged in it: `now`, `since` and `ok_at` (ours) are moved onto
it by `clock_skew` (host minus ours). Expected times come from schedule.py in the host's zone, or
the entry's CRON_TZ on cronie (Debian and busybox ignore CRON_TZ).

Matching runs to expected times: a cron-triggered run belongs to the latest expected time at or
before its start (1 s of slack for timestamps cut to the second). The first run that belongs to an
expected time satisfies it: on time if it started within `grace`, else `late`. An expected time
none belongs to is `missed` once its deadline has passed with evidence to show it: the earlier of
time + grace and the next expected time, no later than the host's last successful scan. A run never
counts for an earlier expected time than its own, so a lost run cannot shift every later run by one.

What is judged, and from when:
- Absence (missed, late, never_ran) only where the logs could show a start: the host's logs read
  (`logs_readable`, a `coverage_start`), the entry enabled, not paused, not @reboot and logged
  (not cronie's "-" prefix). From the later of the log coverage and the moment the entry is known
  to have existed as it is now: its crontab's mtime (the file has not changed since, so neither
  has the schedule), else the earlier of its first observed run and `first_seen`. Before that, and
  after the last successful scan, it is unknown, never missed.
- An entry with no cron-triggered run at all gets one `never_ran` instead of its `missed` runs,
  unless the host's cron daemon is known to be stopped: then they are `missed` (the daemon is why).
- failed, slow, overlap and hung need positive evidence: an exit status or signal in the record,
  an end time, a process in the snapshot. A log that writes no ends (Debian -L 1, busybox) gives
  none, and every job finding's evidence says what the host's log cannot tell.
- slow and too_fast: longer than `max_duration` / shorter than `min_duration`; else against the
  job's own baseline (durations.py): the median and spread of its other ended runs around it (up
  to 20 each side, before and after, 5 at least), longer than slow_factor x the median / shorter
  than the median / slow_factor, and in both cases by `slow_margin` or more and by more than
  SPREADS spreads (a job whose runs vary a lot is not flagged for varying). A run is left out of
  its own baseline, so one run 30x off stands out among a handful. A job with MIN_HISTORY ended
  runs or fewer (a weekly or monthly job, once its older runs are folded past the retention)
  has the days folded before its runs (`folded`, store.short_history_days) stand in as older
  runs, each by its median; a job with more is judged by its runs alone. too_fast has a second
  signal, a run's output (the mail cron sent, or the lines it logged; durations.output_sizes):
  one that printed less than the median size of the runs around it / slow_factor, by
  OUTPUT_MARGIN bytes and SPREADS spreads, is too_fast even with no end known; both signals
  together are one note.
- hung: a process of the entry running longer than `max_duration`; else, with 5 ended runs known
  before it, than HUNG_FACTOR x the p95 of the last HUNG_HISTORY of them (and `slow_margin`
  past that p95; with fewer, a job's folded days stand in before them, each by its p95, as
  for slow): an every-minute job that always takes 75 s overlaps its next run, it is not
  hung at 72 s; else than the gap from the expected time its start belongs to until the next
  (a `0 1,3 * * *` run started at 01:00 is hung after 2h). overlap: a run that started while an
  earlier one ran, by the earlier one's end time or by its process still running (a process is
  the run that started within 5 s of it).
- pause_expired: an entry still paused by cronops after its pause's `until` (stamped by our
  clock, so judged by it): nothing resumes it on its own. One finding at `until`, kept when that
  is before `since` (the line is still paused), dropped while `now` is in a maintenance window.
  Its evidence is the crontab's pause marker, not the log; the entry is still never missed.
- Manual runs (trigger "manual") are not scheduled runs (missed, late, never_ran) but are runs
  (failed, slow, overlap, hung).
- One finding per (entry, kind): `count` occurrences between `first_at` and `last_at`, times in the
  job's zone. Occurrences before `since`, inside a maintenance window or of an ignored kind are
  dropped. Runs and processes that match no entry are not judged.
- Crontabs (info, from what the scans read, never the log): `lint`, lint.py's notes on how cron
  reads a line otherwise than it seems (a line cron rejects is crontab_errors' already); `changed`,
  a change changes.py found since `since` that cronops did not make (its own are in its audit
  trail); `drift`, one command on several hosts where most agree and a few do not: its schedule
  or user where more than half (and 2 at least) of the hosts that have it share one; its
  presence where 80% (and 3 at least) of the scanned hosts sharing a tag have it. Differences
  can be deliberate (staggered backups, a host's own role), so drift informs and needs most.
  The hosts compared are the whole fleet (CrontabEvidence.peers: every host scanned lately),
  not only the ones judged at once; only those get drift findings.
- A host that cannot be reached, or whose key or login fails, yields that one host finding; its
  jobs are judged only up to its last successful scan. A host inside a maintenance window of its
  own policy has no host findings.

An entry's state (the Jobs view, `cronops jobs`) is read from the same rules, by its latest
evidence: hung if a process of it is hung now; missed or late by the latest expected time past its
deadline; failing if its last run failed; then running, ok (its last run exited 0), ran (outcome
unknown) or unknown. Kinds the policy ignores, and maintenance windows, quiet a state as they quiet
a finding. Paused, disabled, and any entry of a host not scanned now, come first.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from functools import cached_property, partial
from itertools import compress, repeat
from math import inf
from operator import attrgetter, eq
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronops import wording
from cronops.causes import Cause, missed_cause
from cronops.changes import BY_CRONOPS, Change
from cronops.crontab import PauseInfo, StoredCrontab
from cronops.durations import Around, Baseline, output_sizes, percentile
from cronops.kinds import LATER_RUN_STARTED, LATER_RUN_SUCCEEDED, SEVERITIES
from cronops.lint import REJECTED, lint_host
from cronops.mail import output_discarded
from cronops.policy import Policy, PolicyBook, in_spans
from cronops.records import (
    CRON,
    EntryStatus,
    Finding,
    FleetEntry,
    HostFacts,
    JobEntry,
    RunDay,
    RunningJob,
    RunRecord,
)
from cronops.schedule import REBOOT, Schedules, gap_at, next_time, previous_time, split_schedule

OK = "ok"
STOPPED = "cron_not_running"  # the host finding its jobs' missed runs fold under
ABSENT = ("missed", "never_ran")  # the kinds of a run that did not happen: each has a cause
START_SLACK_S = 1.0  # log timestamps are cut to the second; cron starts jobs just after the minute
SAME_PROCESS_S = 5.0  # a process's start (clock minus elapsed time) is this near its log line
MIN_HISTORY = 5  # a baseline needs this many other ended runs of the job
SPREADS = 3.0  # slow and too_fast: this many spreads from the median, besides the factor
# too_fast by output: a run that printed this many bytes less than usual at least (besides the
# factor and the spreads), so a job whose one-line report varies by a word is not flagged.
OUTPUT_MARGIN = 64
HUNG_FACTOR = 3.0  # hung: past this many times the p95 of the job's durations...
HUNG_HISTORY = 50  # ...of its last this many ended runs
MIN_AGREE = 2  # drift: the hosts that agree on a command's schedule or user, at least
# A tag's hosts often differ by role (a primary's backup, not its replicas'): a command missing
# on a host is drift only where nearly all the tag's hosts have it ("9 of 10 tagged web").
PRESENT_ON = 0.8
MIN_PRESENT = 3
_CONNECTION_KINDS = {
    "unreachable": "unreachable",
    "timeout": "unreachable",
    "error": "unreachable",
    "auth_failed": "auth",
    "host_key_unknown": "host_key",
    "host_key_changed": "host_key",
}


@dataclass(frozen=True)
class Peers:
    """The fleet drift compares the judged hosts' crontabs with: the hosts scanned lately, by
    name with their tags, and their entries. The hosts judged at once are often a few of them
    (a scan judges the hosts it stored together; an action rescans one)."""

    tags: Mapping[str, tuple[str, ...]]
    entries: Sequence[FleetEntry]


@dataclass(frozen=True)
class CrontabEvidence:
    """What the judge reads beside the runs: the crontab files as the last scans read them
    (lint), the changes changes.py found in them since `since` (changed), and the fleet the
    hosts' crontabs are compared with (drift; None: the hosts judged are the fleet). Not
    `drift`: drift is judged apart (a scan judges it once, when all its hosts are stored)."""

    files: Sequence[StoredCrontab] = ()
    changes: Sequence[Change] = ()
    peers: Peers | None = None
    drift: bool = True


def judge(
    hosts: Iterable[HostFacts],
    entries: Iterable[JobEntry],
    runs: Iterable[RunRecord],
    running: Iterable[RunningJob],
    policy: PolicyBook,
    now: datetime,
    since: datetime,
    crontabs: CrontabEvidence = CrontabEvidence(),
    folded: Iterable[RunDay] = (),
    only: Collection[str] | None = None,
) -> list[Finding]:
    """Every finding between `since` and `now`: the hosts' own first (they explain their jobs'),
    then worst first (severity, then latest first); see `worst_first`. `folded`: the days
    folded past the retention of the entries with MIN_HISTORY ended runs or fewer, for their
    baselines (store.short_history_days). `only`: the ids of the entries whose runs are
    judged (None: every entry's); the others' runs, when given, tell only the causes of the
    judged ones' missed runs (causes.last_start_compared). The hosts' own findings and their
    crontabs' (lint, changed, drift) are made whatever `only` holds."""
    runs = list(runs)
    # Once, mapped in C: a month of runs, some judge.
    starts = list(map(datetime.timestamp, map(_started, runs)))
    cron_starts = _cron_starts_by_host(runs, starts)
    views = {
        facts.name: _HostView.of(facts, now, since, cron_starts.get(facts.name, ()))
        for facts in hosts
    }
    entries = list(entries)
    runs_by_entry = _by_entry(range(len(runs)), [run.entry_id for run in runs])
    running = list(running)
    running_by_entry = _by_entry(running, [process.entry_id for process in running])
    folded = list(folded)
    folded_by_entry = _by_entry(folded, [day.entry_id for day in folded])
    schedules = Schedules()
    findings: list[Finding] = []
    for host_view in views.values():
        findings += _host_findings(host_view, policy.resolve_host(host_view.facts))
    for entry in entries:
        view = views.get(entry.host)
        if view is None or (only is not None and entry.id not in only):
            continue  # no facts about its host: nothing to judge it by; or not asked for
        mine = sorted(runs_by_entry.get(entry.id, ()), key=starts.__getitem__)
        judged = _Judge(
            entry,
            view,
            [runs[index] for index in mine],
            [starts[index] for index in mine],
            running_by_entry.get(entry.id, []),
            policy.resolve(entry, view.facts),
            schedules,
            folded_by_entry.get(entry.id, ()),
        )
        findings += judged.findings()
    findings += _Crontabs(views, entries, policy, now).findings(crontabs)
    findings.sort(key=worst_first)
    return _fold_under_hosts(findings)


def drift(
    hosts: Iterable[HostFacts],
    entries: Iterable[JobEntry],
    policy: PolicyBook,
    now: datetime,
    since: datetime,
    peers: Peers | None = None,
) -> list[Finding]:
    """The drift findings `judge` makes of these hosts against `peers`, without the runs: for
    a scan that stored its hosts group by group, once every host is stored (a group stored
    before the others, on a first scan, had no peers yet)."""
    views = {facts.name: _HostView.of(facts, now, since, ()) for facts in hosts}
    found = _Crontabs(views, list(entries), policy, now).findings(CrontabEvidence(peers=peers))
    return sorted((f for f in found if f.kind == "drift"), key=worst_first)


def every_finding(findings: Iterable[Finding]) -> Iterator[Finding]:
    """Each finding, and after it the job findings folded under it."""
    for finding in findings:
        yield finding
        yield from finding.jobs


def entry_status(
    entry: JobEntry,
    host: HostFacts,
    runs: Iterable[RunRecord],
    running: Iterable[RunningJob],
    policy: PolicyBook,
    now: datetime,
    schedules: Schedules | None = None,
) -> EntryStatus:
    """The entry's state by its latest evidence; runs and processes of other entries are ignored.

    Judging many entries, pass one `schedules` to all: they share their expected times."""
    mine = sorted((r for r in runs if r.entry_id == entry.id), key=_started)
    processes = [p for p in running if p.entry_id == entry.id]
    resolved = policy.resolve(entry, host)
    view = _HostView.of(host, now, now)
    view = replace(view, since=_state_since(entry, view))
    starts = [run.started_at.timestamp() for run in mine]
    judged = _Judge(entry, view, mine, starts, processes, resolved, schedules or Schedules())
    return judged.state()


# -- rules more than one verdict applies --------------------------------------------------------


def entry_zone(entry: JobEntry, facts: HostFacts) -> tzinfo:
    """The zone cron reads the schedule in: CRON_TZ moves it on cronie only (Debian and busybox
    pass it to the job as any other variable)."""
    if facts.cron_family == "cronie" and entry.cron_tz:
        try:
            return ZoneInfo(entry.cron_tz)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # cronie falls back to the system zone for a zone it cannot load
    return facts.zone


def scheduled_for(schedule: str, zone: tzinfo, started: datetime) -> datetime | None:
    """The expected time a run belongs to: the latest at or before its start, with
    START_SLACK_S of slack. None for @reboot (and manual runs have none either)."""
    # previous_time is strictly before: a microsecond more makes it "at or before".
    due = previous_time(schedule, zone, started.timestamp() + START_SLACK_S + 1e-6)
    return datetime.fromtimestamp(due, zone) if due is not None else None


def run_outcome(run: RunRecord, processes: Sequence[RunningJob]) -> str:
    """ok | failed | killed | running | unknown: the record's outcome, or running when it has
    no end and its process is in the host's last process list."""
    if run.outcome == "unknown" and run.ended_at is None:
        start = run.started_at.timestamp()
        if any(_same_run(p.started_at.timestamp(), start) for p in processes):
            return "running"
    return run.outcome


class Listed(Protocol):
    """What `worst_first` orders by: a finding, or a view's row of one (the TUI's Problems)."""

    @property
    def host(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def entry_id(self) -> str | None: ...
    @property
    def last_at(self) -> datetime: ...


def worst_first(finding: Listed) -> tuple:
    """How findings are listed: a host's own finding (unreachable, cron stopped, crontab
    rejected) before any job's, since it is often why the jobs' went wrong; then the worst
    severity, then the latest first, then host, kind and entry."""
    return (
        finding.entry_id is not None,
        SEVERITIES.index(finding.severity),
        -finding.last_at.timestamp(),
        finding.host,
        finding.kind,
        finding.entry_id or "",
    )


def _failing_streak(runs: Sequence[RunRecord], processes: Sequence[RunningJob]) -> list[RunRecord]:
    """The failed runs in a row that end the history read (a run still going is not an outcome
    yet: passed over), oldest first; none when the latest outcome was not a failure."""
    streak: list[RunRecord] = []
    for run in reversed(runs):
        outcome = run_outcome(run, processes)
        if outcome in ("failed", "killed"):
            streak.append(run)
        elif outcome != "running" or streak:
            break
    return streak[::-1]


def _same_run(process_start: float, run_start: float) -> bool:
    """Whether a process is the one a run's start line logged."""
    return abs(process_start - run_start) <= SAME_PROCESS_S


def _state_since(entry: JobEntry, view: _HostView) -> float:
    """From when a state is judged (host clock): just before the two latest expected times by
    the last scan, for the latest whose deadline has passed is one of them (the other's grace
    may be running)."""
    zone = entry_zone(entry, view.facts)
    latest = previous_time(entry.schedule, zone, view.evidence_end + START_SLACK_S)
    before = previous_time(entry.schedule, zone, latest) if latest is not None else None
    return min(before or latest or view.evidence_end, view.evidence_end) - START_SLACK_S


def _fold_under_hosts(findings: list[Finding]) -> list[Finding]:
    """A stopped cron daemon is one problem: its jobs' missed runs go under its finding (in
    the order they came, worst first) instead of a row each."""
    stopped = {f.host: f for f in findings if f.kind == STOPPED}
    kept = []
    for finding in findings:
        host = stopped.get(finding.host)
        if host is not None and finding.kind == "missed":  # (never_ran is missed then)
            host.jobs.append(finding)
        else:
            kept.append(finding)
    for host in stopped.values():
        if host.jobs:
            runs, first = sum(job.count for job in host.jobs), min(j.first_at for j in host.jobs)
            cost = wording.stopped_cron_cost(len(host.jobs), runs, first)
            host.detail, host.summary = f"{host.detail} {cost.full}", cost.short
    return kept


# -- per host ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _HostView:
    """A host's facts with its times as POSIX seconds on the host's clock."""

    facts: HostFacts
    now: float
    since: float
    ok_at: float | None  # the last successful scan: no run after it has been read
    coverage: float | None  # the earliest log line held
    starts: Sequence[float] = ()  # every job start cron logged on the host, sorted

    @classmethod
    def of(
        cls, facts: HostFacts, now: datetime, since: datetime, starts: Sequence[float] = ()
    ) -> _HostView:
        skew = facts.clock_skew.total_seconds()
        host_now = now.timestamp() + skew
        if facts.ok_at is not None:
            ok_at: float | None = min(facts.ok_at.timestamp() + skew, host_now)
        else:
            # A host scanned fine that has no time recorded was scanned just now.
            ok_at = host_now if facts.status == OK else None
        coverage = facts.coverage_start.timestamp() if facts.coverage_start else None
        return cls(facts, host_now, since.timestamp() + skew, ok_at, coverage, starts)

    @property
    def evidence_end(self) -> float:
        """As far as the facts go: the last successful scan, else now (host clock)."""
        return self.ok_at if self.ok_at is not None else self.now

    @property
    def absence_known(self) -> bool:
        """Whether a missing start line means the job did not start."""
        return self.facts.logs_readable and self.coverage is not None and self.ok_at is not None

    def moment(self, stamp: float, zone: tzinfo) -> datetime:
        return datetime.fromtimestamp(stamp, zone)


@dataclass(frozen=True, slots=True)
class _HostFinding:
    kind: str
    count: int
    at: float  # host clock
    text: wording.Text


def _host_findings(view: _HostView, policy: Policy) -> list[Finding]:
    facts = view.facts
    if policy.in_maintenance(view.moment(view.now, facts.zone), facts.zone):
        return []
    connection = _connection_finding(view)
    # A host we cannot reach has only stale facts: the connection is the one thing to fix.
    found = [connection] if connection else _scan_findings(view, policy)
    return [
        Finding(
            host=facts.name,
            kind=item.kind,
            severity=policy.severity(item.kind),
            count=item.count,
            first_at=view.moment(item.at, facts.zone),
            last_at=view.moment(item.at, facts.zone),
            evidence=item.text.evidence,
            detail=item.text.detail,
            runbook=policy.runbook,
            summary=item.text.summary,
        )
        for item in found
        if not policy.ignores(item.kind)
    ]


def _connection_finding(view: _HostView) -> _HostFinding | None:
    facts = view.facts
    kind = _CONNECTION_KINDS.get(facts.status)
    if kind is None:
        return None
    ok_at = view.moment(view.ok_at, facts.zone) if view.ok_at is not None else None
    return _HostFinding(kind, 1, view.now, wording.not_scanned(facts, ok_at))


def _scan_findings(view: _HostView, policy: Policy) -> list[_HostFinding]:
    """What the last successful scan showed about the host itself."""
    facts = view.facts
    at = view.evidence_end
    found: list[_HostFinding] = []
    if facts.cron_running is False:
        found.append(_HostFinding(STOPPED, 1, at, wording.cron_stopped(facts)))
    if abs(facts.clock_skew) > policy.clock_skew:
        text = wording.clock_skewed(facts, policy.clock_skew)
        found.append(_HostFinding("clock_skew", 1, at, text))
    if not facts.logs_readable:
        found.append(_HostFinding("logs_unreadable", 1, at, wording.logs_unreadable(facts)))
    if facts.crontab_problems:
        text = wording.crontab_errors(facts)
        found.append(_HostFinding("crontab_errors", len(facts.crontab_problems), at, text))
    return found


# -- crontabs and the fleet ---------------------------------------------------------------------


class _Crontabs:
    """lint, changed and drift: what the crontabs themselves say, host by host and across the
    fleet; each (host, entry or none, kind) folds into one finding."""

    def __init__(
        self, views: dict[str, _HostView], entries: list[JobEntry], book: PolicyBook, now: datetime
    ):
        self.views, self.book, self.now = views, book, now
        self.entries = {entry.id: entry for entry in entries}
        self.tallies: dict[tuple[str, str | None, str], _Tally] = defaultdict(_Tally)

    def findings(self, crontabs: CrontabEvidence) -> list[Finding]:
        self._lint(crontabs.files)
        self._changed(crontabs.changes)
        if crontabs.drift:
            self._drift(crontabs.peers)
        found = []
        for (host, entry_id, kind), tally in self.tallies.items():
            finding = self._finding(host, entry_id, kind, tally)
            if finding is not None:
                found.append(finding)
        return found

    def _lint(self, files: Sequence[StoredCrontab]) -> None:
        by_host: dict[str, list[StoredCrontab]] = defaultdict(list)
        for stored in files:
            by_host[stored.host].append(stored)
        for host, mine in by_host.items():
            view = self.views.get(host)
            if view is None or view.ok_at is None:
                continue
            facts = view.facts
            for note in lint_host(mine, facts.zone, facts.cron_family, self.now):
                if note.rule != REJECTED:  # crontab_errors says so, as a warning
                    entry_id = note.entry_id if note.entry_id in self.entries else None
                    self._add(host, entry_id, "lint", view.ok_at, wording.lint(note))

    def _changed(self, changes: Sequence[Change]) -> None:
        for change in changes:
            view = self.views.get(change.host)
            if view is None or change.known_by == BY_CRONOPS:
                continue
            entry_id = change.entry_id if change.entry_id in self.entries else None
            self._add(
                change.host, entry_id, "changed", change.at.timestamp(), wording.changed(change)
            )

    def _drift(self, peers: Peers | None) -> None:
        """By command: its schedule and user where most hosts that have it agree; its presence
        on most of the hosts sharing a tag. Across the whole fleet (`peers`), found for the
        hosts judged now."""
        tags, entries = self._fleet(peers)
        by_command: dict[str, list[FleetEntry]] = defaultdict(list)
        for entry in entries:
            if entry.paused or not entry.disabled:
                by_command[entry.command].append(entry)
        tagged: dict[str, set[str]] = defaultdict(set)
        for name, its_tags in tags.items():
            for tag in its_tags:
                tagged[tag].add(name)
        for command, having in by_command.items():
            hosts = {entry.host for entry in having}
            if not hosts.isdisjoint(self.views):  # else no judged host's entry can be odd
                active = [entry for entry in having if not entry.disabled]
                for what in ("schedule", "user"):
                    self._odd_ones(active, what)
            self._missing(command, hosts, tags, tagged)

    def _fleet(self, peers: Peers | None) -> tuple[dict[str, tuple[str, ...]], list[FleetEntry]]:
        """The hosts scanned (name -> tags) and their entries: the judged hosts as the judge was
        given them, the others as `peers` has them."""
        judged = self.views.keys()
        tags = {
            name: view.facts.tags for name, view in self.views.items() if view.facts.status == OK
        }
        entries = [FleetEntry.of(entry) for entry in self.entries.values() if entry.host in tags]
        if peers is not None:
            tags |= {name: its for name, its in peers.tags.items() if name not in judged}
            entries += [e for e in peers.entries if e.host in tags and e.host not in judged]
        return tags, entries

    def _odd_ones(self, entries: list[FleetEntry], what: str) -> None:
        hosts_by_value: dict[str, set[str]] = defaultdict(set)
        for entry in entries:
            hosts_by_value[getattr(entry, what)].add(entry.host)
        usual, most = _majority(hosts_by_value, len({entry.host for entry in entries}))
        if usual is None:
            return
        for entry in entries:
            odd = getattr(entry, what) != usual and entry.host not in most
            if odd and entry.host in self.views:
                note = wording.drifted(what, getattr(entry, what), usual, most)
                self._add(entry.host, entry.id, "drift", self._at(entry.host), note)

    def _missing(
        self,
        command: str,
        having: set[str],
        tags: dict[str, tuple[str, ...]],
        tagged: dict[str, set[str]],
    ) -> None:
        for tag in sorted({tag for name in having for tag in tags[name]}):
            present = having & tagged[tag]
            if len(present) >= MIN_PRESENT and len(present) >= PRESENT_ON * len(tagged[tag]):
                for host in sorted(tagged[tag] - present):
                    if host in self.views:
                        note = wording.missing_here(command, tag, len(present), len(tagged[tag]))
                        self._add(host, None, "drift", self._at(host), note)

    def _at(self, host: str) -> float:
        return self.views[host].evidence_end

    def _add(self, host: str, entry_id: str | None, kind: str, at: float, note: wording.Note):
        self.tallies[(host, entry_id, kind)].add(at, _told(note))

    def _finding(self, host: str, entry_id: str | None, kind: str, tally: _Tally) -> Finding | None:
        facts = self.views[host].facts
        entry = self.entries.get(entry_id or "")
        policy = self.book.resolve(entry, facts) if entry else self.book.resolve_host(facts)
        if policy.ignores(kind) or policy.in_maintenance(_utc(tally.last), facts.zone):
            return None
        zone = entry_zone(entry, facts) if entry else facts.zone
        text = wording.crontab_finding(kind, host, entry, tally.folded(), zone)
        return Finding(
            host=host,
            kind=kind,
            severity=policy.severity(kind),
            count=tally.count,
            first_at=datetime.fromtimestamp(tally.first, zone),
            last_at=datetime.fromtimestamp(tally.last, zone),
            evidence=text.evidence,
            detail=text.detail,
            entry_id=entry_id,
            runbook=policy.runbook,
            summary=text.summary,
        )


def _majority(hosts_by_value: dict[str, set[str]], hosts: int) -> tuple[str | None, set[str]]:
    """The value more than half the hosts (and MIN_AGREE at least) share, and those hosts."""
    for value, having in hosts_by_value.items():
        if len(having) >= MIN_AGREE and 2 * len(having) > hosts and len(hosts_by_value) > 1:
            return value, having
    return None, set()


# -- per entry --------------------------------------------------------------------------------


_NO_NOTE = wording.Note("", "")
# A note made only if it is shown (an example, or the latest): a judge tallies thousands of
# occurrences of which a finding shows a few, and wording one costs more than judging it.
Noted = Callable[[], wording.Note]


def _took(job: wording.Job, start: float, took: float, why: Noted) -> wording.Note:
    """A run too slow or too fast, worded (wording.took) once it is shown."""
    return wording.took(job, start, took, why())


def _both(took: Noted, printed: int, usual: Baseline) -> wording.Note:
    """Too fast by its duration and by its output (wording.both), worded once it is shown."""
    return wording.both(took(), printed, usual)


def _told(note: wording.Note) -> Noted:
    """A note already made."""
    return lambda: note


_NOTHING_NOTED = _told(_NO_NOTE)


@dataclass
class _Tally:
    """Occurrences of one kind on one entry, folded into one finding."""

    count: int = 0
    first: float = inf
    last: float = -inf
    examples: list[str] = field(default_factory=list)
    latest: Noted = _NOTHING_NOTED

    def room(self) -> int:
        """How many more examples the finding shows."""
        return wording.EXAMPLES - len(self.examples)

    def add(self, at: float, note: Noted, until: float | None = None) -> None:
        examples = (note().full,) if self.room() > 0 else ()
        self.add_many(1, at, until if until is not None else at, examples, note)

    def add_each(self, ats: Sequence[float], note: Callable[[int], wording.Note]) -> None:
        """Occurrences at the ascending times `ats`, tallied as an `add` of each in turn, but
        only the shown ones worded (`note(i)` words the i-th): an entry's runs bring hundreds."""
        if ats:
            shown = [note(i).full for i in range(min(self.room(), len(ats)))]
            self.add_many(len(ats), ats[0], ats[-1], shown, partial(note, len(ats) - 1))

    def add_many(
        self, count: int, first: float, last: float, notes: Sequence[str], latest: Noted
    ) -> None:
        # Called for each occurrence of thousands: plain comparisons, not min() and slices.
        self.count += count
        if first < self.first:
            self.first = first
        if last >= self.last:
            self.last, self.latest = last, latest
        if notes and self.room() > 0:
            self.examples += notes[: self.room()]

    def folded(self) -> wording.Tally:
        return wording.Tally(self.count, self.first, self.last, self.examples, self.latest())


class _Late(NamedTuple):
    due: float  # the expected time
    start: float  # the first start that belongs to it


class _Absence(NamedTuple):
    """Expected times past their deadline, and what became of each (see the module docstring)."""

    kind: str  # what a due time no start took is: "missed", or "never_ran" for an entry never run
    late: list[_Late]
    missing: list[tuple[int, int]]  # index ranges [first, last) of due times no start took
    due: int  # how many expected times are due: the latest is expected[due - 1]


class _Hang(NamedTuple):
    process: RunningJob
    start: float
    limit: wording.Limit


class _Judge:
    """One entry with the evidence about it (its host, runs, processes, policy): its findings
    in the host view's window, and its state now, from the same rules."""

    def __init__(
        self,
        entry: JobEntry,
        view: _HostView,
        runs: list[RunRecord],
        starts: list[float],
        processes: list[RunningJob],
        policy: Policy,
        schedules: Schedules,
        folded: Sequence[RunDay] = (),
    ):
        self.entry = entry
        self.view = view
        self.runs = runs
        self.processes = processes
        self.policy = policy
        self.zone = entry_zone(entry, view.facts)
        self.job = wording.Job(entry, view.facts, self.zone, view.now)
        self.schedules = schedules
        self.spans = (
            policy.maintenance_spans(self.zone, _utc(view.since), _utc(view.now))
            if policy.maintenance
            else []
        )
        self.absence_from = _judged_from(entry, view, runs)
        self.cause: Cause | None = None  # why the latest missed run did not happen
        self.starts = starts  # the runs' starts, POSIX seconds
        self.ends: list[float | None] = []  # their ends, where known
        # The ended runs' starts and durations, in start order: the job's own history.
        self.ended_starts: list[float] = []
        self.durations: list[float] = []
        for start, run in zip(starts, runs, strict=True):  # one pass: every run of the entry
            ended = run.ended_at
            if ended is None:
                self.ends.append(None)
            else:
                end = ended.timestamp()
                self.ends.append(end)
                self.ended_starts.append(start)
                self.durations.append(end - start)
        self.folded_usual, self.folded_high = _stand_ins(folded, self.durations, starts)

    @cached_property
    def expected(self) -> tuple[float, ...] | None:
        """The expected times in the window (since, now]; None for a schedule cron rejects.
        Asked for only where absence is judged: a window of times is the costly part."""
        view = self.view
        return self.schedules.times(self.entry.schedule, self.zone, view.since, view.now)

    # -- the rules ------------------------------------------------------------------------------

    def _quiet(self, stamp: float) -> bool:
        """Too early to report, or inside a maintenance window."""
        return stamp < self.view.since or self._in_maintenance(stamp)

    def _heard(self, stamps: Sequence[float]) -> Iterable[int]:
        """The indices of the sorted `stamps` that are not `_quiet`, in order."""
        first = bisect_left(stamps, self.view.since)
        if not self.policy.maintenance:
            return range(first, len(stamps))
        return (i for i in range(first, len(stamps)) if not self._in_maintenance(stamps[i]))

    def _in_maintenance(self, stamp: float) -> bool:
        if not self.policy.maintenance:
            return False
        if self.view.since <= stamp <= self.view.now:
            return in_spans(self.spans, stamp)
        return self.policy.in_maintenance(_utc(stamp), self.zone)

    def _judged_since(self) -> float:
        return max(self.absence_from or self.view.since, self.view.since)

    def _absence(self) -> _Absence | None:
        """None where absence says nothing: see the module docstring."""
        entry, view = self.entry, self.view
        if self.absence_from is None or not _absence_judged(entry, view):
            return None
        expected = self.expected
        if not expected:
            return None
        grace = self.policy.grace.total_seconds()
        low = bisect_right(expected, self._judged_since())
        high = _due_count(expected, grace, view.evidence_end)
        starts = list(compress(self.starts, map(eq, map(_trigger, self.runs), repeat(CRON))))
        taken = _first_start_of_each(expected, starts, low)
        late = [
            _Late(expected[index], start)
            for index, start in sorted(taken.items())
            if start - expected[index] > grace and not self._quiet(expected[index])
        ]
        blocked = [(bisect_left(expected, a), bisect_left(expected, b)) for a, b in self.spans]
        missing = list(_gaps(low, high, sorted(taken), blocked))
        # No run at all points at the entry (never_ran), unless the daemon is down (missed).
        kind = "missed" if starts or view.facts.cron_running is False else "never_ran"
        return _Absence(kind, late, missing, high)

    def _hangs(self) -> list[_Hang]:
        """Processes past their limit at the last scan."""
        evidence_end = self.view.evidence_end
        if self._quiet(evidence_end):
            return []
        hangs = []
        for process in self.processes:
            start = process.started_at.timestamp()
            limit = self._limit(start)
            if limit is not None and evidence_end - start > limit.seconds:
                hangs.append(_Hang(process, start, limit))
        return hangs

    def _limit(self, start: float) -> wording.Limit | None:
        """max_duration; else, by the job's own history, HUNG_FACTOR x the p95 of its last
        ended runs before `start`; else the gap from the expected time `start` belongs to until
        the next (gap_at gives a start its second of slack, as START_SLACK_S does)."""
        if self.policy.max_duration:
            return wording.Limit(self.policy.max_duration.total_seconds(), "max_duration")
        before = bisect_left(self.ended_starts, start)
        history = self.durations[max(before - HUNG_HISTORY, 0) : before]
        folded = 0
        if len(history) < MIN_HISTORY and self.folded_high:
            folded = min(len(self.folded_high), HUNG_HISTORY - len(history))
            history = self.folded_high[-folded:] + history
        if len(history) >= MIN_HISTORY:
            p95 = percentile(history, 0.95)
            seconds = max(HUNG_FACTOR * p95, p95 + self.policy.slow_margin.total_seconds())
            return wording.Limit(seconds, "history", len(history), p95, HUNG_FACTOR, folded)
        gap = gap_at(self.entry.schedule, self.zone, start)
        return wording.Limit(gap, "interval") if gap is not None else None

    def _expired_pause(self) -> tuple[PauseInfo, float] | None:
        """The entry's pause and how long ago its `until` passed; None while it has not.

        cronops stamped `until` by our clock, so it is compared with ours, not the host's."""
        pause = self.entry.paused
        if pause is None or pause.until is None:
            return None
        ours = self.view.now - self.view.facts.clock_skew.total_seconds()
        ago = ours - pause.until.timestamp()
        return (pause, ago) if ago > 0 else None

    def _off_duration(
        self, took: float, usual: float | None, around: Around
    ) -> tuple[str, Noted] | None:
        """("slow" | "too_fast", why) for the ended run `around` is at, which took `took`;
        `usual`: the median around it, None when those runs are fewer than MIN_HISTORY."""
        most, least, factor, margin = self._duration_rule
        if took > most:
            return "slow", partial(wording.beyond_limit, "max_duration", most)
        if took < least:
            return "too_fast", partial(wording.beyond_limit, "min_duration", least)
        if usual is None:
            return None
        # The median settles most runs; the spread (a second median) is worked out for the
        # few it does not.
        off = abs(took - usual)
        slow, fast = took > factor * usual, took * factor < usual
        if off < margin or not (slow or fast):
            return None
        baseline = around.baseline()
        if off <= SPREADS * baseline.spread:
            return None
        return "slow" if slow else "too_fast", partial(wording.against_usual, baseline)

    @cached_property
    def _duration_rule(self) -> tuple[float, float, float, float]:
        """The policy's max_duration and min_duration (inf and -inf when not set), slow_factor
        and slow_margin, in seconds: read once, not for each run."""
        policy = self.policy
        most, least = policy.max_duration, policy.min_duration
        return (
            most.total_seconds() if most is not None else inf,
            least.total_seconds() if least is not None else -inf,
            policy.slow_factor,
            policy.slow_margin.total_seconds(),
        )

    # -- findings -------------------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        self.tallies: dict[str, _Tally] = defaultdict(_Tally)
        self._tally_absence()
        self._tally_failures()
        self._tally_durations()
        self._tally_hangs()
        self._tally_overlaps()
        self._tally_expiry()
        self._tally_lost_output()
        return [
            self._finding(kind, tally)
            for kind, tally in self.tallies.items()
            if tally.count and not self.policy.ignores(kind)
        ]

    def _tally_absence(self) -> None:
        absence = self._absence()
        if absence is None:
            return
        late, job = absence.late, self.job
        self.tallies["late"].add_each(
            [due for due, _ in late], lambda i: wording.late(job, late[i].due, late[i].start)
        )
        expected = self.expected or ()
        if not absence.missing:
            return
        latest = expected[absence.missing[-1][1] - 1]
        facts, starts = self.view.facts, self.view.starts
        self.cause = missed_cause(self.entry, facts, latest, starts, self.zone)
        # The missing times in order (thousands of runs of an every-minute job, in as many
        # gaps): added at once, the first few worded.
        shown: list[int] = []
        for first, last in absence.missing:
            if len(shown) >= wording.EXAMPLES:
                break
            shown += range(first, min(last, first + wording.EXAMPLES - len(shown)))
        self.tallies[absence.kind].add_many(
            sum(last - first for first, last in absence.missing),
            expected[absence.missing[0][0]],
            latest,
            [self.job.at(expected[i]) for i in shown],
            partial(wording.not_started, self.job, latest),
        )

    def _tally_failures(self) -> None:
        runs, starts, job = self.runs, self.starts, self.job
        failed = [index for index in self._heard(starts) if runs[index].failed]

        def note(i: int) -> wording.Note:
            run = runs[failed[i]]
            return wording.failed(job, run, starts[failed[i]], manual=run.trigger != CRON)

        self.tallies["failed"].add_each([starts[index] for index in failed], note)

    def _tally_durations(self) -> None:
        printed_less = self._printed_less()
        found: list[tuple[float, str, Noted]] = []
        stand_ins = len(self.folded_usual)  # before the runs, where they are too few
        durations = self.durations
        values = self.folded_usual + durations if stand_ins else durations
        around = Around(values, folded=stand_ins)
        heard = list(self._heard(self.ended_starts))
        at = map(stand_ins.__add__, heard) if stand_ins else heard
        most, least, _, margin = self._duration_rule
        for index, median in zip(heard, around.medians(at, MIN_HISTORY), strict=True):
            took = durations[index]
            # Most runs: within the limits, and near the median of the runs around them.
            if least <= took <= most and (median is None or abs(took - median) < margin):
                continue
            verdict = self._off_duration(took, median, around)
            if verdict:
                start = self.ended_starts[index]
                kind, why = verdict
                if kind == "too_fast" and start in printed_less:  # the second signal
                    why = partial(_both, why, *printed_less.pop(start))
                found.append((start, kind, partial(_took, self.job, start, took, why)))
        for start, (size, usual) in printed_less.items():
            found.append(
                (start, "too_fast", partial(wording.printed_only, self.job, start, size, usual))
            )
        found.sort(key=lambda item: item[0])
        for kind in ("slow", "too_fast"):
            mine = [(start, note) for start, found_kind, note in found if found_kind == kind]
            notes = [note for _, note in mine]
            self.tallies[kind].add_each([start for start, _ in mine], partial(_nth, notes))

    def _printed_less(self) -> dict[float, tuple[int, Baseline]]:
        """By start: the runs that printed far less than the job usually does (too_fast's
        second signal), judged as durations are: against the median and spread of the sizes
        of the runs around it, by the slow_factor, OUTPUT_MARGIN and SPREADS spreads."""
        sizes = output_sizes(self.runs)
        around = Around([size for _, size in sizes])
        factor = self.policy.slow_factor
        less = {}
        heard = list(self._heard([self.starts[index] for index, _ in sizes]))
        for position, median in zip(heard, around.medians(heard, MIN_HISTORY), strict=True):
            if median is None:
                continue
            index, size = sizes[position]
            start = self.starts[index]
            off = median - size
            if off < OUTPUT_MARGIN or size * factor >= median:
                continue
            usual = around.baseline()
            if off > SPREADS * usual.spread:
                less[start] = (size, usual)
        return less

    def _tally_hangs(self) -> None:
        evidence_end = self.view.evidence_end
        for hang in self._hangs():
            note = wording.hung(self.job, hang.process.pid, hang.start, evidence_end, hang.limit)
            self.tallies["hung"].add(hang.start, _told(note), until=evidence_end)

    def _tally_overlaps(self) -> None:
        # Processes still running at the last scan were running at every later run's start.
        still_running = min((p.started_at.timestamp() for p in self.processes), default=inf)
        busy_until, busy_since = -inf, 0.0  # the latest known end among earlier runs
        found: list[tuple[float, float, bool]] = []  # (start, since when busy, by_process)
        for start, end in zip(self.starts, self.ends, strict=True):
            if busy_until > start + START_SLACK_S:
                found.append((start, busy_since, False))
            elif still_running < start and not _same_run(still_running, start):
                found.append((start, still_running, True))
            if end is not None and end > busy_until:
                busy_until, busy_since = end, start
        found = [item for item in found if not self._quiet(item[0])]
        job = self.job
        self.tallies["overlap"].add_each(
            [start for start, _, _ in found],
            lambda i: wording.overlap(job, found[i][0], found[i][1], by_process=found[i][2]),
        )

    def _tally_expiry(self) -> None:
        expired = self._expired_pause()
        if expired is None or self._quiet(self.view.now):
            return
        pause, _ = expired
        assert pause.until is not None
        ended = pause.until.timestamp()
        marker = wording.pause_marker(self.job, pause)
        advice = wording.pause_over(self.job, pause)
        self.tallies["pause_expired"].add_many(1, ended, ended, [marker], _told(advice))

    def _tally_lost_output(self) -> None:
        """A job that failed where nobody can see what it printed (one finding, at its latest
        failure): the first thing to fix before the failure itself can be understood."""
        failures = self.tallies.get("failed")
        if failures is None or not failures.count:
            return
        failed_at = self.view.moment(failures.last, UTC)
        why = output_discarded(
            self.entry.command, self.entry.mailto, self.view.facts.no_mta_at, failed_at
        )
        if why is not None:
            note = wording.output_lost(self.job, failures.last, why)
            self.tallies["output_lost"].add(failures.last, _told(note))

    def _finding(self, kind: str, tally: _Tally) -> Finding:
        entry, view = self.entry, self.view
        streak = _failing_streak(self.runs, self.processes) if kind == "failed" else []
        because = wording.cause(self.job, self.cause) if kind in ABSENT else None
        output = self._printed() if kind == "failed" else ""
        text = wording.finding(
            self.job, kind, tally.folded(), self._absence_basis(), streak, because, output
        )
        return Finding(
            host=entry.host,
            kind=kind,
            severity=self.policy.severity(kind),
            count=tally.count,
            first_at=view.moment(tally.first, self.zone),
            last_at=view.moment(tally.last, self.zone),
            evidence=text.evidence,
            detail=text.detail,
            entry_id=entry.id,
            runbook=self.policy.runbook,
            summary=text.summary,
            streak=len(streak),
            streak_since=streak[0].started_at.astimezone(self.zone) if streak else None,
            over=None if streak else self._over(kind, tally.last),
            cause=because.full if because else "",
        )

    def _over(self, kind: str, last: float) -> str | None:
        """Why a finding still in the window no longer stands: a run after its last occurrence
        that is not itself one (a failed job's later run that did not fail: its streak is
        empty), by how the latest such run ended; None while it stands. hung and
        pause_expired are judged as they are now, so they stand while they are found."""
        if kind in ("missed", "late"):
            # A run for a later expected time than the last one missed (or started late).
            expected = self.expected or ()
            later = bisect_right(expected, last)
            if later == len(expected):
                return None
            after = expected[later] - START_SLACK_S
        elif kind in ("failed", "slow", "overlap"):
            after = last
        else:
            return None
        runs = self.runs[bisect_right(self.starts, after) :]
        if kind == "slow":
            runs = [r for r in runs if r.ended_at is not None]  # one still going may be slow too
        if not runs:
            return None
        if run_outcome(runs[-1], self.processes) == OK:
            return LATER_RUN_SUCCEEDED
        return LATER_RUN_STARTED

    def _printed(self) -> str:
        """What the latest failed run whose output was seen printed."""
        for run in reversed(self.runs):
            if run.output is not None and run.failed:  # most runs: no output seen
                return wording.printed(self.job, run)
        return ""

    def _absence_basis(self) -> wording.Absence:
        view, entry = self.view, self.entry
        since = self._judged_since()
        if since == view.since:
            reason = "window"
        elif since == view.coverage:
            reason = "coverage"
        elif entry.crontab_mtime is not None:
            reason = "crontab"
        else:
            reason = "first_seen"
        # The host answered its latest scan: the last successful one is that scan.
        ok_at = view.ok_at if view.facts.status != OK else None
        return wording.Absence(since, reason, ok_at, self.policy.grace)

    # -- the state ------------------------------------------------------------------------------

    def state(self) -> EntryStatus:
        last = self.runs[-1] if self.runs else None
        outcome = run_outcome(last, self.processes) if last else ""
        state, why = self._state(last)
        limits = wording.log_limits(self.view.facts) if outcome in ("unknown", "running") else ""
        return EntryStatus(
            entry_id=self.entry.id,
            state=state,
            last_run=last.started_at if last else None,
            last_outcome=outcome,
            next_run=self._next_run(),
            explanation=" ".join(part for part in (why, limits) if part),
        )

    def _state(self, last: RunRecord | None) -> tuple[str, str]:
        entry, facts, job = self.entry, self.view.facts, self.job
        if entry.paused:
            expired = self._expired_pause()
            return "paused", wording.paused(job, entry.paused, expired[1] if expired else None)
        if entry.disabled:
            return "disabled", wording.DISABLED
        if facts.status != OK:
            return "unknown", wording.host_unknown(facts)
        hangs = [] if self.policy.ignores("hung") else self._hangs()
        if hangs:
            hang = hangs[0]
            pid, evidence_end = hang.process.pid, self.view.evidence_end
            return "hung", wording.hung_now(job, pid, hang.start, evidence_end, hang.limit)
        missed, late = self._latest_due()
        if missed is not None:
            return "missed", wording.missed_now(job, missed)
        if last is not None and self._failing(last):
            return "failing", wording.last_run(job, last)
        if late is not None:
            return "late", wording.late_now(job, late.due, late.start)
        if self.processes:
            return "running", wording.running_since(job, self.processes[0].started_at.timestamp())
        if last is not None and run_outcome(last, self.processes) == OK:
            return OK, wording.last_run(job, last)
        if last is not None:
            return "ran", wording.ran(job, last.started_at.timestamp())
        return "unknown", self._why_unknown()

    def _latest_due(self) -> tuple[float | None, _Late | None]:
        """The latest expected time past its deadline: (its time, None) when no start took it,
        (None, how late) when its start came after the grace period, else (None, None)."""
        absence = self._absence()
        if absence is None or not absence.due:
            return None, None
        due = (self.expected or ())[absence.due - 1]
        missing = absence.missing and absence.missing[-1][1] == absence.due
        if missing and not self.policy.ignores(absence.kind):
            return due, None
        late = absence.late[-1] if absence.late and absence.late[-1].due == due else None
        return None, late if late is not None and not self.policy.ignores("late") else None

    def _failing(self, run: RunRecord) -> bool:
        start = run.started_at.timestamp()
        return run.failed and not self.policy.ignores("failed") and not self._in_maintenance(start)

    def _why_unknown(self) -> str:
        entry, view = self.entry, self.view
        if entry.log_off:
            return wording.why_unknown(self.job, "log_off", None)
        if not view.facts.logs_readable:
            return wording.why_unknown(self.job, "unreadable", None)
        if view.coverage is None:
            return wording.why_unknown(self.job, "no_coverage", None)
        if _is_reboot(entry.schedule):
            return wording.why_unknown(self.job, "reboot", None)
        return wording.why_unknown(self.job, "none_due", self.absence_from or view.coverage)

    def _next_run(self) -> datetime | None:
        entry = self.entry
        if entry.disabled or entry.paused or _is_reboot(entry.schedule):
            return None
        return next_time(entry.schedule, self.zone, self.view.now)


def _absence_judged(entry: JobEntry, view: _HostView) -> bool:
    return not (entry.disabled or entry.paused or entry.log_off) and view.absence_known


def _judged_from(entry: JobEntry, view: _HostView, runs: Sequence[RunRecord]) -> float | None:
    """From when a missing start means a missed run (see the module docstring); None: never."""
    if view.coverage is None:
        return None
    if entry.crontab_mtime is not None:
        exists = entry.crontab_mtime.timestamp()
    else:
        exists = entry.first_seen.timestamp() + view.facts.clock_skew.total_seconds()
        if runs:
            exists = min(exists, runs[0].started_at.timestamp())
    return max(view.coverage, exists)


def _due_count(expected: Sequence[float], grace: float, evidence_end: float) -> int:
    """How many expected times have passed their deadline by `evidence_end`.

    A time's deadline is the earlier of time + grace and the next expected time (a later start
    belongs to that one); both grow with the index, so the due times are a prefix.
    """
    by_grace = bisect_right(expected, evidence_end - grace)
    by_next = bisect_right(expected, evidence_end) - 1
    return max(by_grace, by_next, 0)


def _stand_ins(
    days: Sequence[RunDay], durations: Sequence[float], starts: Sequence[float]
) -> tuple[list[float], list[float]]:
    """The p50s and p95s, oldest first, of the folded days that stand in for a job's older runs
    where its ended runs are too few for a baseline: the days before its first run read (a run
    kept past the retention is in its day too). No day where the runs suffice."""
    if len(durations) > MIN_HISTORY or not days:
        return [], []
    first = _utc(starts[0]).date() if starts else None
    timed = [
        (day.p50.total_seconds(), day.p95.total_seconds())
        for day in days
        if day.p50 is not None and day.p95 is not None and (first is None or day.day < first)
    ]
    return [p50 for p50, _ in timed], [p95 for _, p95 in timed]


def _first_start_of_each(
    expected: Sequence[float], starts: list[float], low: int
) -> dict[int, float]:
    """Expected-time index (`low` or more) -> the first start that belongs to it (the latest
    time at or before). `starts` in order, so their indices are too."""
    # A job's every start, bisected and gathered by map and dict in C: a loop of ours per start
    # was a third of judging absence.
    marks = list(map(START_SLACK_S.__add__, starts))
    after = list(map(bisect_right, repeat(expected, len(marks)), marks))  # index + 1
    first = bisect_right(after, low)  # the first start whose index is `low` or more
    # Reversed, the first start of each index is the one a dict keeps.
    return dict(zip(map(_ONE_LESS, reversed(after[first:])), reversed(starts[first:]), strict=True))


_ONE_LESS = (-1).__add__


def _gaps(
    low: int, high: int, taken: list[int], blocked: list[tuple[int, int]]
) -> Iterator[tuple[int, int]]:
    """The index ranges [first, last) in [low, high) neither taken nor blocked, in order."""
    cuts = [(max(a, low), min(b, high)) for a, b in blocked if a < high and b > low]
    if cuts:
        cuts = sorted(cuts + [(i, i + 1) for i in taken if low <= i < high])
        position = low
        for a, b in cuts:
            if a > position:
                yield position, a
            position = max(position, b)
    else:  # most often: only the taken indices (in order) cut it, and no tuple is made for each
        position = low
        for i in taken[bisect_left(taken, low) : bisect_left(taken, high)]:
            if i > position:
                yield position, i
            position = i + 1
    if position < high:
        yield position, high


# -- small helpers ----------------------------------------------------------------------------


def _cron_starts_by_host(
    runs: Sequence[RunRecord], starts: Sequence[float]
) -> dict[str, list[float]]:
    by_host: dict[str, list[float]] = defaultdict(list)
    for run, start in zip(runs, starts, strict=True):
        if run.trigger == CRON:
            by_host[run.host].append(start)
    for host_starts in by_host.values():
        host_starts.sort()
    return by_host


def _by_entry(items: Iterable, entry_ids: Iterable[str | None]) -> dict[str, list]:
    """The items by the entry id beside each (those of none left out)."""
    grouped: dict[str, list] = defaultdict(list)
    for item, entry_id in zip(items, entry_ids, strict=True):
        if entry_id is not None:
            grouped[entry_id].append(item)
    return grouped


def _nth(notes: Sequence[Noted], index: int) -> wording.Note:
    return notes[index]()


# Of a run: in C, where a judge maps every run.
_started, _trigger = attrgetter("started_at"), attrgetter("trigger")


def _is_reboot(schedule: str) -> bool:
    return split_schedule(schedule) == [REBOOT]


def _utc(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)
