"""Findings: which scheduled work did not happen the way it should, judged from the stored history.

Pure functions, data in and findings out: no I/O and no clock (the caller passes `now` and `since`).

Clocks. Log lines, process starts and crontab mtimes are stamped by the host's clock, and cron fires
by that clock too, so jobs are judged in it: `now`, `since` and `last_ok_at` (ours) are moved onto
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
- slow: longer than `max_duration`, or than slow_factor x the median of its last 20 ended runs
  (5 at least) and by `slow_margin` or more. hung: a process of the entry running longer than
  `max_duration`, else than the gap between its scheduled runs. overlap: a run that started while
  an earlier one ran (by its end time, or still in the process list).
- pause_expired: an entry still paused by cronops after its pause's `until` (stamped by our
  clock, so judged by it): nothing resumes it on its own. One finding at `until`, kept when that
  is before `since` (the line is still paused), dropped while `now` is in a maintenance window.
  Its evidence is the crontab's pause marker, not the log; the entry is still never missed.
- Manual runs (trigger "manual") are not scheduled runs (missed, late, never_ran) but are runs
  (failed, slow, overlap, hung).
- One finding per (entry, kind): `count` occurrences between `first_at` and `last_at`, times in the
  job's zone. Occurrences before `since`, inside a maintenance window or of an ignored kind are
  dropped. Runs and processes that match no entry are not judged.
- A host that cannot be reached, or whose key or login fails, yields that one host finding; its
  jobs are judged only up to its last successful scan. A host inside a maintenance window of its
  own policy has no host findings.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from math import inf
from statistics import median
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from cronops.crontab import PauseInfo
from cronops.kinds import SEVERITIES
from cronops.policy import Policy, PolicyBook, in_spans
from cronops.schedule import (
    NICKNAMES,
    REBOOT,
    expected_runs,
    next_runs,
    previous_run,
    split_schedule,
    typical_interval,
    validate,
)

OK = "ok"
CRON = "cron"  # RunRecord.trigger of a run cron started; anything else (e.g. "manual") is not
START_SLACK_S = 1.0  # log timestamps are cut to the second; cron starts jobs just after the minute
SAME_PROCESS_S = 5.0  # a process's start (clock minus elapsed time) is this near its log line
HISTORY_RUNS = 20  # slow: compared with the median of this many earlier runs...
MIN_HISTORY = 5  # ...and only when at least this many are known
EXAMPLES = 3  # occurrences spelled out in a finding's evidence
_CONNECTION_KINDS = {
    "unreachable": "unreachable",
    "timeout": "unreachable",
    "error": "unreachable",
    "auth_failed": "auth",
    "host_key_unknown": "host_key",
    "host_key_changed": "host_key",
}
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class HostFacts:
    """What the store knows about one host."""

    name: str
    status: str  # "ok" or unreachable|timeout|auth_failed|host_key_unknown|host_key_changed|error
    error: str | None
    zone: tzinfo
    tags: tuple[str, ...] = ()
    cron_running: bool | None = None  # None: no process list
    clock_skew: timedelta = timedelta(0)  # host clock minus ours
    coverage_start: datetime | None = None  # earliest cron log line held for this host
    last_ok_at: datetime | None = None  # last successful scan (evidence ends here), our clock
    logs_readable: bool = True
    crontab_problems: tuple[tuple[str, int, str], ...] = ()  # (source, line, message)
    ends_logged: bool | None = None  # does this host's log write end lines? None: unknown
    failures_logged: bool | None = None  # ... failure (exit status, signal) lines?
    cron_flavor: str = "debian"  # "debian" | "cronie" | "busybox": CRON_TZ only on cronie


@dataclass(frozen=True)
class JobEntry:
    """One crontab entry as the store holds it."""

    id: str
    host: str
    user: str
    source: str
    schedule: str
    command: str
    disabled: bool
    paused: PauseInfo | None  # the marker of `cronops pause`; None when not paused
    cron_tz: str | None
    first_seen: datetime  # when cronops first saw it, our clock
    crontab_mtime: datetime | None  # its file's mtime, the host's clock
    log_off: bool = False  # cronie's "-" prefix: cron runs it but logs nothing


@dataclass(frozen=True)
class RunRecord:
    entry_id: str | None
    host: str
    started_at: datetime
    ended_at: datetime | None
    status: int | None  # exit status, only when the log or a wrapper said so
    signal: int | None
    trigger: str = CRON


@dataclass(frozen=True)
class RunningJob:
    """A job process in the host's last process list."""

    host: str
    entry_id: str | None
    pid: int
    started_at: datetime


@dataclass
class Finding:
    host: str
    kind: str
    severity: str  # "critical" | "warning" | "info"
    count: int
    first_at: datetime
    last_at: datetime
    evidence: str  # what the logs showed and what they could not tell
    detail: str  # one sentence for a person at 3 a.m.
    entry_id: str | None = None
    runbook: str | None = None


@dataclass(frozen=True)
class EntryStatus:
    """One entry at a glance, for the TUI.

    state: ok (last run succeeded), ran (started on schedule, outcome unknown), running, late,
    missed, failing, hung, unknown (nothing to judge by: `explanation` says why), paused, disabled.
    """

    entry_id: str
    state: str
    last_run: datetime | None
    last_outcome: str  # ok | failed | killed | running | unknown; "" when no run was seen
    next_run: datetime | None
    explanation: str  # what is known and what is not


def judge(
    hosts: Iterable[HostFacts],
    entries: Iterable[JobEntry],
    runs: Iterable[RunRecord],
    running: Iterable[RunningJob],
    policy: PolicyBook,
    now: datetime,
    since: datetime,
) -> list[Finding]:
    """Every finding between `since` and `now`, worst first (severity, then latest first)."""
    views = {facts.name: _HostView.of(facts, now, since) for facts in hosts}
    runs_by_entry = _by_entry(runs)
    running_by_entry = _by_entry(running)
    schedules = _Schedules()
    findings: list[Finding] = []
    for host_view in views.values():
        findings += _host_findings(host_view, policy.resolve_host(host_view.facts))
    for entry in entries:
        view = views.get(entry.host)
        if view is None:
            continue  # no facts about its host: nothing to judge it by
        judged = _EntryJudge(
            entry,
            view,
            sorted(runs_by_entry.get(entry.id, ()), key=_started),
            running_by_entry.get(entry.id, []),
            policy.resolve(entry, view.facts),
            schedules,
        )
        findings += judged.findings()
    findings.sort(key=_worst_first)
    return findings


def entry_status(
    entry: JobEntry,
    host: HostFacts,
    runs: Iterable[RunRecord],
    running: Iterable[RunningJob],
    policy: PolicyBook,
    now: datetime,
) -> EntryStatus:
    """The entry's state by its latest evidence; runs and processes of other entries are ignored."""
    mine = sorted((r for r in runs if r.entry_id == entry.id), key=_started)
    processes = [p for p in running if p.entry_id == entry.id]
    view = _HostView.of(host, now, now)
    status = _Status(entry, view, mine, processes, policy.resolve(entry, host))
    return status.build()


# -- per host ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _HostView:
    """A host's facts with its times as POSIX seconds on the host's clock."""

    facts: HostFacts
    now: float
    since: float
    scanned: float | None  # the last successful scan: no run after it has been read
    coverage: float | None  # the earliest log line held

    @classmethod
    def of(cls, facts: HostFacts, now: datetime, since: datetime) -> _HostView:
        skew = facts.clock_skew.total_seconds()
        host_now = now.timestamp() + skew
        if facts.last_ok_at is not None:
            scanned: float | None = min(facts.last_ok_at.timestamp() + skew, host_now)
        else:
            # A host scanned fine that has no time recorded was scanned just now.
            scanned = host_now if facts.status == OK else None
        coverage = facts.coverage_start.timestamp() if facts.coverage_start else None
        return cls(facts, host_now, since.timestamp() + skew, scanned, coverage)

    @property
    def seen(self) -> float:
        """As far as the facts go: the last successful scan, else now (host clock)."""
        return self.scanned if self.scanned is not None else self.now

    @property
    def absence_known(self) -> bool:
        """Whether a missing start line means the job did not start."""
        return self.facts.logs_readable and self.coverage is not None and self.scanned is not None

    def moment(self, stamp: float, zone: tzinfo) -> datetime:
        return datetime.fromtimestamp(stamp, zone)


@dataclass(frozen=True, slots=True)
class _HostFinding:
    kind: str
    count: int
    at: float  # host clock
    evidence: str
    detail: str


_WHY_NOT_SCANNED = {
    "unreachable": "cannot be reached",
    "timeout": "did not answer in time",
    "error": "could not be scanned",
    "auth_failed": "refused our login",
    "host_key_unknown": "has a host key that is not in known_hosts",
    "host_key_changed": "has a different host key than known_hosts (reinstalled, or someone "
    "in between)",
}


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
            evidence=item.evidence,
            detail=item.detail,
            runbook=policy.runbook,
        )
        for item in found
        if not policy.ignores(item.kind)
    ]


def _connection_finding(view: _HostView) -> _HostFinding | None:
    facts = view.facts
    kind = _CONNECTION_KINDS.get(facts.status)
    if kind is None:
        return None
    if view.scanned is None:
        judged = "its jobs cannot be judged: it was never scanned successfully"
    else:
        last = _when(view.moment(view.scanned, facts.zone))
        judged = f"its jobs are judged only up to the last successful scan at {last}"
    why = _WHY_NOT_SCANNED.get(facts.status, facts.status)
    return _HostFinding(
        kind,
        1,
        view.now,
        f"Scan status {facts.status}: {facts.error or 'no error text'}; {judged}.",
        f"{facts.name} {why}; {judged}.",
    )


def _scan_findings(view: _HostView, policy: Policy) -> list[_HostFinding]:
    """What the last successful scan showed about the host itself."""
    facts = view.facts
    at = view.seen
    found: list[_HostFinding] = []
    if facts.cron_running is False:
        found.append(_cron_stopped(facts.name, at))
    if abs(facts.clock_skew) > policy.clock_skew:
        found.append(_clock_skewed(facts, at, policy.clock_skew))
    if not facts.logs_readable:
        found.append(
            _HostFinding(
                "logs_unreadable",
                1,
                at,
                "No cron log could be read at the last scan, so runs on this host cannot be seen.",
                f"cronops cannot read {facts.name}'s cron log: its missed runs are unknown.",
            )
        )
    if facts.crontab_problems:
        found.append(_crontab_errors(facts, at))
    return found


def _cron_stopped(name: str, at: float) -> _HostFinding:
    return _HostFinding(
        "cron_not_running",
        1,
        at,
        "The process list of the last scan shows no cron daemon.",
        f"cron is not running on {name}: none of its jobs start until it is restarted.",
    )


def _clock_skewed(facts: HostFacts, at: float, allowed: timedelta) -> _HostFinding:
    off = _span(abs(facts.clock_skew).total_seconds())
    ahead = "ahead of" if facts.clock_skew > timedelta(0) else "behind"
    return _HostFinding(
        "clock_skew",
        1,
        at,
        f"The host's clock was {off} {ahead} ours at the last scan "
        f"(allowed {_span(allowed.total_seconds())}).",
        f"{facts.name}'s clock is {off} {ahead} ours: its jobs run that far off real time.",
    )


def _crontab_errors(facts: HostFacts, at: float) -> _HostFinding:
    problems = facts.crontab_problems
    shown = "; ".join(
        f"{source}:{line}: {message}" for source, line, message in problems[:EXAMPLES]
    )
    more = f"; and {len(problems) - EXAMPLES} more" if len(problems) > EXAMPLES else ""
    return _HostFinding(
        "crontab_errors",
        len(problems),
        at,
        f"{shown}{more}.",
        f"{facts.name} has {len(problems)} crontab line(s) cron rejects; Debian cron then ignores "
        "the whole file, so none of its jobs run.",
    )


# -- per entry --------------------------------------------------------------------------------


@dataclass
class _Tally:
    """Occurrences of one kind on one entry, folded into one finding."""

    count: int = 0
    first: float = inf
    last: float = -inf
    examples: list[str] = field(default_factory=list)
    last_note: str = ""

    def add(self, at: float, note: str, until: float | None = None) -> None:
        self.add_many(1, at, until if until is not None else at, [note], note)

    def add_many(
        self, count: int, first: float, last: float, notes: list[str], last_note: str
    ) -> None:
        self.count += count
        self.first = min(self.first, first)
        if last >= self.last:
            self.last, self.last_note = last, last_note
        self.examples += notes[: EXAMPLES - len(self.examples)]


class _OneEntry:
    """One entry with the evidence about it: its host, its runs and processes, its policy."""

    def __init__(
        self,
        entry: JobEntry,
        view: _HostView,
        runs: list[RunRecord],
        processes: list[RunningJob],
        policy: Policy,
    ):
        self.entry = entry
        self.view = view
        self.runs = runs
        self.processes = processes
        self.policy = policy
        self.zone = _entry_zone(entry, view.facts)

    def _expired_pause(self) -> tuple[PauseInfo, float, float] | None:
        """The entry's pause, its `until` (POSIX) and how long ago that passed; None while it has
        not.

        cronops stamped `until` by our clock, so it is compared with ours, not the host's."""
        pause = self.entry.paused
        if pause is None or pause.until is None:
            return None
        ours = self.view.now - self.view.facts.clock_skew.total_seconds()
        until = pause.until.timestamp()
        return (pause, until, ours - until) if ours > until else None


class _EntryJudge(_OneEntry):
    """The job-level findings of one entry."""

    def __init__(
        self,
        entry: JobEntry,
        view: _HostView,
        runs: list[RunRecord],
        processes: list[RunningJob],
        policy: Policy,
        schedules: _Schedules,
    ):
        super().__init__(entry, view, runs, processes, policy)
        self.expected = schedules.times(entry.schedule, self.zone, view.since, view.now)
        self.schedules = schedules
        self.tallies: dict[str, _Tally] = defaultdict(_Tally)
        self.spans = (
            policy.maintenance_spans(self.zone, _utc(view.since), _utc(view.now))
            if policy.maintenance
            else []
        )
        self.absence_from = _judged_from(entry, view, runs)
        self.starts = [run.started_at.timestamp() for run in runs]

    def findings(self) -> list[Finding]:
        self._absence()
        self._failures()
        self._slowness()
        self._hangs()
        self._overlaps()
        self._expiry()
        return [
            self._finding(kind, tally)
            for kind, tally in self.tallies.items()
            if tally.count and not self.policy.ignores(kind)
        ]

    def _quiet(self, stamp: float) -> bool:
        """Too early to report, or inside a maintenance window."""
        return stamp < self.view.since or (bool(self.spans) and in_spans(self.spans, stamp))

    def _judged_since(self) -> float:
        return max(self.absence_from or self.view.since, self.view.since)

    def _absence(self) -> None:
        entry, view, expected = self.entry, self.view, self.expected
        if not expected or self.absence_from is None or not _absence_judged(entry, view):
            return
        grace = self.policy.grace.total_seconds()
        low = bisect_right(expected, self._judged_since())
        high = _due_count(expected, grace, view.scanned or view.now)
        starts = [
            start for start, run in zip(self.starts, self.runs, strict=True) if run.trigger == CRON
        ]
        taken = _first_start_of_each(expected, starts, low)
        for index, start in sorted(taken.items()):
            due = expected[index]
            if start - due > grace and not self._quiet(due):
                note = f"started {_span(start - due)} late for {self._at(due)}"
                self.tallies["late"].add(due, note)
        # No run at all points at the entry (never_ran), unless the daemon is down (missed).
        kind = "missed" if starts or view.facts.cron_running is False else "never_ran"
        self._missing(kind, low, high, sorted(taken))

    def _missing(self, kind: str, low: int, high: int, taken: list[int]) -> None:
        """Expected times in [low, high) no run took, outside maintenance: ranges at a time."""
        expected = self.expected or ()
        blocked = [(bisect_left(expected, a), bisect_left(expected, b)) for a, b in self.spans]
        for first, last in _gaps(low, high, taken, blocked):
            notes = [self._at(expected[i]) for i in range(first, min(last, first + EXAMPLES))]
            last_note = f"did not start at {self._at(expected[last - 1])}"
            self.tallies[kind].add_many(
                last - first, expected[first], expected[last - 1], notes, last_note
            )

    def _failures(self) -> None:
        for start, run in zip(self.starts, self.runs, strict=True):
            if (run.signal is None and not run.status) or self._quiet(start):
                continue
            how = (
                f"killed by signal {run.signal}"
                if run.signal is not None
                else f"failed with exit status {run.status}"
            )
            manual = " (manual run)" if run.trigger != CRON else ""
            self.tallies["failed"].add(start, f"{how} at {self._at(start)}{manual}")

    def _slowness(self) -> None:
        limit = self.policy.max_duration.total_seconds() if self.policy.max_duration else None
        history: list[float] = []
        for start, run in zip(self.starts, self.runs, strict=True):
            if run.ended_at is None:
                continue
            took = run.ended_at.timestamp() - start
            why = None if self._quiet(start) else self._too_slow(took, limit, history)
            if why:
                self.tallies["slow"].add(start, f"ran {_span(took)} from {self._at(start)} ({why})")
            history.append(took)

    def _too_slow(self, took: float, limit: float | None, history: list[float]) -> str | None:
        if limit is not None and took > limit:
            return f"its max_duration is {_span(limit)}"
        if len(history) < MIN_HISTORY:
            return None
        recent = history[-HISTORY_RUNS:]
        usual = median(recent)
        factor, margin = self.policy.slow_factor, self.policy.slow_margin.total_seconds()
        if took > factor * usual and took - usual >= margin:
            return f"the median of its last {len(recent)} runs is {_span(usual)}"
        return None

    def _hangs(self) -> None:
        seen = self.view.seen
        for process in self.processes:
            start = process.started_at.timestamp()
            limit = self._limit(start)
            if limit is None or seen - start <= limit or self._quiet(seen):
                continue
            note = (
                f"pid {process.pid}, started {self._at(start)}, was still running after "
                f"{_span(seen - start)} at the last scan (limit {_span(limit)})"
            )
            self.tallies["hung"].add(start, note, until=seen)

    def _limit(self, start: float) -> float | None:
        """max_duration, else the gap between the scheduled runs around `start`."""
        if self.policy.max_duration:
            return self.policy.max_duration.total_seconds()
        expected = self.expected or ()
        index = bisect_right(expected, start) - 1
        if 0 <= index < len(expected) - 1:
            return expected[index + 1] - expected[index]
        return self.schedules.interval(self.entry.schedule, self.zone)

    def _overlaps(self) -> None:
        # Processes still running at the last scan were running at every later run's start.
        still_running = min((p.started_at.timestamp() for p in self.processes), default=inf)
        busy_until, busy_since = -inf, 0.0  # the latest known end among earlier runs
        for start, run in zip(self.starts, self.runs, strict=True):
            if not self._quiet(start):
                if busy_until > start + START_SLACK_S:
                    note = (
                        f"started {self._at(start)} while the run from {self._at(busy_since)} ran"
                    )
                    self.tallies["overlap"].add(start, note)
                elif still_running + SAME_PROCESS_S < start:
                    earlier = self._at(still_running)
                    note = f"started {self._at(start)} while the process from {earlier} ran"
                    self.tallies["overlap"].add(start, note)
            if run.ended_at is not None and run.ended_at.timestamp() > busy_until:
                busy_until, busy_since = run.ended_at.timestamp(), start

    def _expiry(self) -> None:
        expired = self._expired_pause()
        if expired is None or self._quiet(self.view.now):
            return
        pause, ended, ago = expired
        at = f" at {self._at(pause.at.timestamp())}" if pause.at else ""
        reason = f" (reason: {pause.reason})" if pause.reason else ""
        seen = self.view.seen
        marker = (
            f"paused by {pause.by}{at} until {self._at(ended)}{reason}, "
            f"still in place at the last scan at {self._at(seen)}"
        )
        advice = (
            f"was paused by {pause.by} until {self._at(ended)}; the pause ended {_span(ago)} ago "
            "but cron still does not run it: cronops does not resume on its own, so resume it "
            f"(`cronops resume {self.entry.id}`, or p in the TUI) or pause it again"
        )
        self.tallies["pause_expired"].add_many(1, ended, ended, [marker], advice)

    def _at(self, stamp: float) -> str:
        return _when(self.view.moment(stamp, self.zone))

    def _finding(self, kind: str, tally: _Tally) -> Finding:
        entry, view = self.entry, self.view
        label = _label(entry)
        more = f" ({tally.count} times since {self._at(tally.first)})" if tally.count > 1 else ""
        if kind == "never_ran":
            since = self._at(self._judged_since())
            detail = (
                f"{label} has not run once since {since}, though {tally.count} run(s) were due."
            )
        else:
            detail = f"{label} {tally.last_note}{more}."
        if kind in ("missed", "never_ran") and view.facts.cron_running is False:
            detail = detail[:-1] + "; cron is not running on the host."
        return Finding(
            host=entry.host,
            kind=kind,
            severity=self.policy.severity(kind),
            count=tally.count,
            first_at=view.moment(tally.first, self.zone),
            last_at=view.moment(tally.last, self.zone),
            evidence=self._evidence(kind, tally),
            detail=detail,
            entry_id=entry.id,
            runbook=self.policy.runbook,
        )

    def _evidence(self, kind: str, tally: _Tally) -> str:
        shown = "; ".join(tally.examples)
        if tally.count > len(tally.examples):
            more = tally.count - len(tally.examples)
            shown += f"; ... and {more} more, the last at {self._at(tally.last)}"
        parts = [f"{_WHAT_WAS_SEEN[kind]}: {shown}."]
        if kind in ("missed", "never_ran", "late"):
            parts.append(self._absence_basis())
        if self.entry.source in {source for source, _, _ in self.view.facts.crontab_problems}:
            parts.append(
                f"{self.entry.source} has lines cron rejects (Debian cron ignores the whole file)."
            )
        if kind != "pause_expired":  # read from the crontab, not the log
            parts.append(_log_limits(self.view.facts))
        return " ".join(part for part in parts if part)

    def _absence_basis(self) -> str:
        view, entry = self.view, self.entry
        grace = _span(self.policy.grace.total_seconds())
        since = self._judged_since()
        if since == view.since:
            why = "the start of the audit window"
        elif since == view.coverage:
            why = "the oldest cron log line held"
        elif entry.crontab_mtime is not None:
            why = "its crontab's last change"
        else:
            why = "its first sighting"
        end = self._at(view.scanned) if view.scanned is not None else "?"
        return (
            f"Schedule '{entry.schedule}' in {_zone_name(self.zone)}; a start counts within "
            f"{grace} of its time and before the next one. Judged from {self._at(since)} ({why}) "
            f"to the last successful scan at {end}; earlier and later runs are unknown."
        )


_WHAT_WAS_SEEN = {
    "missed": "No start line was logged for the runs due at",
    "never_ran": "No start line of this entry was logged at all; runs were due at",
    "late": "Start lines came after the grace period",
    "failed": "The run records (cron's log or a wrapper) show",
    "slow": "Start and end lines show",
    "hung": "The process list of the last scan shows",
    "overlap": "Start and end lines (and the process list) show",
    "pause_expired": "The crontab line carries cronops's pause marker",
}


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


def _first_start_of_each(
    expected: Sequence[float], starts: list[float], low: int
) -> dict[int, float]:
    """Expected-time index -> the first start that belongs to it (the latest time at or before)."""
    taken: dict[int, float] = {}
    for start in starts:
        index = bisect_right(expected, start + START_SLACK_S) - 1
        if index >= low:
            taken.setdefault(index, start)
    return taken


def _gaps(
    low: int, high: int, taken: list[int], blocked: list[tuple[int, int]]
) -> Iterator[tuple[int, int]]:
    """The index ranges [first, last) in [low, high) neither taken nor blocked, in order."""
    cuts = [(i, i + 1) for i in taken if low <= i < high]
    cuts += [(max(a, low), min(b, high)) for a, b in blocked if a < high and b > low]
    position = low
    for a, b in sorted(cuts):
        if a > position:
            yield position, a
        position = max(position, b)
    if position < high:
        yield position, high


# -- entry status -----------------------------------------------------------------------------


class _Status(_OneEntry):
    """One entry at a glance (see EntryStatus)."""

    def __init__(
        self,
        entry: JobEntry,
        view: _HostView,
        runs: list[RunRecord],
        processes: list[RunningJob],
        policy: Policy,
    ):
        super().__init__(entry, view, runs, processes, policy)
        self.last = runs[-1] if runs else None
        self.outcome = _outcome(self.last, processes) if self.last else ""

    def build(self) -> EntryStatus:
        state, why = self._state()
        limits = _log_limits(self.view.facts) if self.outcome in ("unknown", "running") else ""
        return EntryStatus(
            entry_id=self.entry.id,
            state=state,
            last_run=self.last.started_at if self.last else None,
            last_outcome=self.outcome,
            next_run=self._next_run(),
            explanation=" ".join(part for part in (why, limits) if part),
        )

    def _state(self) -> tuple[str, str]:
        entry, facts = self.entry, self.view.facts
        if entry.paused:
            return "paused", self._paused_text()
        if entry.disabled:
            return "disabled", "commented out in its crontab: cron does not run it."
        if facts.status != OK:
            return (
                "unknown",
                f"{facts.name} is {facts.status}: nothing is known since its last successful scan.",
            )
        hung = self._hung()
        if hung:
            return "hung", hung
        due = self._last_due()
        if due is not None:
            state, why = due
            if state == "missed":
                return state, why
        if self.outcome in ("failed", "killed"):
            return "failing", f"its last run {self._run_text()}."
        if due is not None and due[0] == "late":
            return due
        if self.processes:
            return "running", f"running since {self._at(self.processes[0].started_at.timestamp())}."
        if self.outcome == "ok":
            return OK, f"its last run {self._run_text()}."
        if self.last is not None:
            return (
                "ran",
                f"started {self._at(self.last.started_at.timestamp())}; "
                "whether it succeeded is unknown.",
            )
        return "unknown", self._why_unknown()

    def _paused_text(self) -> str:
        expired = self._expired_pause()
        if expired is None:
            return "paused by cronops: cron does not run it."
        _, until_at, ago = expired
        until, ended = self._at(until_at), _span(ago)
        return f"paused by cronops until {until}; that was {ended} ago: cron still does not run it."

    def _hung(self) -> str | None:
        seen = self.view.seen
        limit = self.policy.max_duration.total_seconds() if self.policy.max_duration else None
        if limit is None:
            interval = _interval(self.entry.schedule, self.zone)
            limit = interval.total_seconds() if interval else None
        for process in self.processes:
            start = process.started_at.timestamp()
            if limit is not None and seen - start > limit:
                ran, since = _span(seen - start), self._at(start)
                return f"pid {process.pid} has run {ran} since {since} (limit {_span(limit)})."
        return None

    def _last_due(self) -> tuple[str, str] | None:
        """missed or late, by the latest expected time whose deadline has passed; else None."""
        entry, view = self.entry, self.view
        judged_from = _judged_from(entry, view, self.runs)
        if judged_from is None or not _absence_judged(entry, view) or _is_reboot(entry.schedule):
            return None
        grace = self.policy.grace.total_seconds()
        end = view.seen
        latest = _previous(entry.schedule, self.zone, end + START_SLACK_S)
        if latest is None:
            return None
        due: float | None = latest
        following = inf
        if latest + grace > end:  # not yet due: the one before it is (its deadline is `latest`)
            due, following = _previous(entry.schedule, self.zone, latest), latest
        if due is None or due <= judged_from or self._in_maintenance(due):
            return None
        starts = [
            r.started_at.timestamp()
            for r in self.runs
            if r.trigger == CRON and due - START_SLACK_S <= r.started_at.timestamp() < following
        ]
        if not starts:
            stopped = "; cron is not running" if view.facts.cron_running is False else ""
            return "missed", f"no start was logged for {self._at(due)}{stopped}."
        if starts[0] - due > grace:
            return "late", f"started {_span(starts[0] - due)} late for {self._at(due)}."
        return None

    def _in_maintenance(self, stamp: float) -> bool:
        return bool(self.policy.maintenance) and self.policy.in_maintenance(_utc(stamp), self.zone)

    def _why_unknown(self) -> str:
        entry, view = self.entry, self.view
        if entry.log_off:
            return (
                "cronie does not log this job (its line starts with '-'): its runs cannot be seen."
            )
        if not view.facts.logs_readable:
            return "the host's cron log cannot be read."
        if view.coverage is None:
            return "no cron log lines are held for this host yet."
        if _is_reboot(entry.schedule):
            return "an @reboot job: no run seen since the log coverage began."
        judged_from = _judged_from(entry, view, self.runs)
        return (
            f"no run seen; runs before {self._at(judged_from or view.coverage)} are unknown "
            "(log coverage and crontab mtime), and none was due since."
        )

    def _run_text(self) -> str:
        run = self.last
        assert run is not None
        text = f"started {self._at(run.started_at.timestamp())}"
        if run.ended_at is not None:
            text += f" and ran {_span((run.ended_at - run.started_at).total_seconds())}"
        if run.signal is not None:
            return f"{text}, killed by signal {run.signal}"
        if run.status:
            return f"{text}, exit status {run.status}"
        return f"{text}, exit status 0" if run.status == 0 else text

    def _next_run(self) -> datetime | None:
        entry = self.entry
        if entry.disabled or entry.paused or _is_reboot(entry.schedule):
            return None
        return _next(entry.schedule, self.zone, self.view.now)

    def _at(self, stamp: float) -> str:
        return _when(self.view.moment(stamp, self.zone))


def _outcome(run: RunRecord, processes: Sequence[RunningJob]) -> str:
    if run.signal is not None:
        return "killed"
    if run.status:
        return "failed"
    if run.ended_at is not None:
        return OK if run.status == 0 else "unknown"
    start = run.started_at.timestamp()
    if any(abs(p.started_at.timestamp() - start) <= SAME_PROCESS_S for p in processes):
        return "running"
    return "unknown"


# -- schedules --------------------------------------------------------------------------------


class _Schedules:
    """Expected times per (schedule, zone, window), computed once per judge call and shared."""

    def __init__(self) -> None:
        self._times: dict[tuple, tuple[float, ...] | None] = {}
        self._intervals: dict[tuple, float | None] = {}

    def times(
        self, schedule: str, zone: tzinfo, start: float, end: float
    ) -> tuple[float, ...] | None:
        """POSIX times in (start, end], in order; None for a schedule cron rejects."""
        key = (schedule, zone, start, end)
        if key not in self._times:
            self._times[key] = _expected_times(schedule, zone, start, end)
        return self._times[key]

    def interval(self, schedule: str, zone: tzinfo) -> float | None:
        key = (schedule, zone)
        if key not in self._intervals:
            interval = _interval(schedule, zone)
            self._intervals[key] = interval.total_seconds() if interval else None
        return self._intervals[key]


def _expected_times(
    schedule: str, zone: tzinfo, start: float, end: float
) -> tuple[float, ...] | None:
    if validate(schedule) is not None:
        return None
    fast = _steady_day_times(schedule, zone, start, end)
    if fast is not None:
        return fast
    runs = expected_runs(schedule, zone, _utc(start), _utc(end))
    return tuple(run.timestamp() for run in runs)


def _steady_day_times(
    schedule: str, zone: tzinfo, start: float, end: float
) -> tuple[float, ...] | None:
    """Expected times without walking minute by minute; None where schedule.py must decide.

    schedule.expected_runs costs ~100 µs a run: a week of */5 for 10k entries would take minutes.
    On a day with one UTC offset throughout, a cron match is midnight plus its hour and minute;
    days with a clock change are left to schedule.py, whose DST rules are the reference.
    """
    fields = split_schedule(schedule)
    if fields == [REBOOT]:
        return ()
    expression = NICKNAMES.get(fields[0]) or " ".join(fields)
    # cronsim reads a one-value range with a step ("5-5/10") unlike cron; schedule.py knows.
    if any("-" in item and "/" in item for item in expression.replace(",", " ").split()):
        return None
    try:
        sim = CronSim(expression, datetime(2000, 1, 1))
    except CronSimError:
        return None
    offsets = [
        hour * 3600 + minute * 60 for hour in sorted(sim.hours) for minute in sorted(sim.minutes)
    ]
    times: list[float] = []
    day = datetime.fromtimestamp(start, zone).date()
    last_day = datetime.fromtimestamp(end, zone).date()
    while day <= last_day:
        if day.month in sim.months and sim.match_day(day):
            times += (t for t in _day_times(schedule, zone, day, offsets) if start < t <= end)
        day += _DAY
    return tuple(times)


def _day_times(schedule: str, zone: tzinfo, day: date, offsets: list[int]) -> list[float]:
    midnight = datetime.combine(day, time(), zone).timestamp()
    following = datetime.combine(day + _DAY, time(), zone).timestamp()
    steady = following - midnight == 86400 and (
        datetime.fromtimestamp(midnight, zone).utcoffset()
        == datetime.fromtimestamp(following - 1, zone).utcoffset()
    )
    if steady:
        return [midnight + offset for offset in offsets]
    # Runs are on whole minutes: (midnight - 1 s, next midnight - 1 s] is this day exactly.
    runs = expected_runs(schedule, zone, _utc(midnight - 1), _utc(following - 1))
    return [run.timestamp() for run in runs]


@lru_cache(maxsize=4096)
def _interval(schedule: str, zone: tzinfo) -> timedelta | None:
    if _is_reboot(schedule) or validate(schedule) is not None:
        return None
    # The usual gap, away from any clock change near now: good enough for a default limit.
    return typical_interval(schedule, zone, datetime(2001, 1, 15, 12, tzinfo=UTC))


@lru_cache(maxsize=16384)
def _previous(schedule: str, zone: tzinfo, before: float) -> float | None:
    if validate(schedule) is not None:
        return None
    run = previous_run(schedule, zone, _utc(before))
    return run.timestamp() if run else None


@lru_cache(maxsize=16384)
def _next(schedule: str, zone: tzinfo, after: float) -> datetime | None:
    if validate(schedule) is not None:
        return None
    runs = next_runs(schedule, zone, _utc(after), 1)
    return runs[0] if runs else None


# -- small helpers ----------------------------------------------------------------------------


def _entry_zone(entry: JobEntry, facts: HostFacts) -> tzinfo:
    """CRON_TZ moves the schedule on cronie only; elsewhere it is just an environment variable."""
    if facts.cron_flavor == "cronie" and entry.cron_tz:
        try:
            return ZoneInfo(entry.cron_tz)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # cronie falls back to the system zone for a zone it cannot load
    return facts.zone


def _log_limits(facts: HostFacts) -> str:
    """What this host's cron log cannot tell, in an operator's words."""
    if facts.ends_logged is False:
        return (
            "Outcomes are unknown: this host's cron log writes no end or exit status lines "
            "(Debian cron at its default -L 1, or busybox), so failed, slow and hung runs "
            "cannot be seen in it."
        )
    parts = []
    if facts.ends_logged is None:
        parts.append(
            "whether this host's cron log writes end lines is unknown, so durations may be missing"
        )
    if facts.failures_logged is False:
        parts.append(
            "exit statuses are not logged (only Debian cron at -L 4 or more logs failures), "
            "so a run that ended may still have failed"
        )
    elif facts.failures_logged is None:
        parts.append(
            "whether failures are logged is unknown, so a run without a failure line may "
            "still have failed"
        )
    return (parts[0][0].upper() + "; ".join(parts)[1:] + ".") if parts else ""


def _by_entry(items: Iterable) -> dict[str, list]:
    grouped: dict[str, list] = defaultdict(list)
    for item in items:
        if item.entry_id is not None:
            grouped[item.entry_id].append(item)
    return grouped


def _started(run: RunRecord) -> datetime:
    return run.started_at


def _worst_first(finding: Finding) -> tuple:
    return (
        SEVERITIES.index(finding.severity),
        -finding.last_at.timestamp(),
        finding.host,
        finding.kind,
        finding.entry_id or "",
    )


def _is_reboot(schedule: str) -> bool:
    return split_schedule(schedule) == [REBOOT]


def _label(entry: JobEntry) -> str:
    command = " ".join(entry.command.split())
    if len(command) > 60:
        command = command[:57] + "..."
    return f"'{command}' ({entry.user}@{entry.host})"


def _utc(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone)


def _span(seconds: float) -> str:
    """'45s', '5m', '2h10m', '1d3h': the two largest units are enough for a person."""
    whole = max(0, round(seconds))
    amounts = (
        (whole // 86400, "d"),
        (whole // 3600 % 24, "h"),
        (whole // 60 % 60, "m"),
        (whole % 60, "s"),
    )
    first = next((i for i, (value, _) in enumerate(amounts) if value), len(amounts) - 1)
    return "".join(f"{value}{name}" for value, name in amounts[first : first + 2] if value) or "0s"
