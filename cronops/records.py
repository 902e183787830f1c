"""The records every layer shares: a host's state, an entry, a run, a running process, a log
cursor, a finding and its stored lifecycle (an incident).

The store returns them, the judge takes and gives them, the views and reports show them. Plain
data: no SQL, no textual, no judging (a scan loads this module, and must not load the judge).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, NamedTuple, TypeVar

from cronops.crontab import PauseInfo

Record = TypeVar("Record")

CRON = "cron"  # RunRecord.trigger of a run cron started; anything else (e.g. "manual") is not


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
    ok_at: datetime | None = None  # last successful scan (evidence ends here), our clock
    scanned_at: datetime | None = None  # last scan, successful or not, our clock
    logs_readable: bool = True
    crontab_problems: tuple[tuple[str, int, str], ...] = ()  # (source, line, message)
    ends_logged: bool | None = None  # does this host's log write end lines? None: unknown
    failures_logged: bool | None = None  # ... failure (exit status, signal) lines?
    cron_family: str | None = None  # "debian" | "cronie" | "busybox"; None: not known yet
    booted_at: datetime | None = None  # the host's boot, as its kernel says (host clock)
    cron_started_at: datetime | None = None  # the running cron daemon's start (host clock)
    daemon_lines: tuple[DaemonLine, ...] = ()  # the cron daemon's own lines, oldest first
    no_mta_at: datetime | None = None  # cron last logged "No MTA installed, discarding output"


# The daemon lines that can say why a run did not happen (analysis.missed_cause reads them).
PAM_FAILURE = "FAILED to open PAM security session"
CAUSE_KEYWORDS = ("STARTUP", "RELOAD", "ERROR", "Error", "ORPHAN", PAM_FAILURE)


@dataclass(frozen=True)
class DaemonLine:
    """A line the cron daemon logged about itself or a crontab, not a job: STARTUP, RELOAD, a
    rejected crontab, an orphan, a PAM failure, output it discarded."""

    host: str
    at: datetime  # UTC
    user: str | None  # the crontab it is about: a user, `*system*` or `*system*NAME`; None: CRON
    keyword: str  # as logged: STARTUP, RELOAD, ERROR, ORPHAN, info, Error, ...
    detail: str

    @property
    def text(self) -> str:
        """The message as the daemon wrote it (after the syslog tag)."""
        if self.keyword == "Error":  # Debian's read error, outside the (user) KEYWORD grammar
            return f"Error: {self.detail}"
        return f"({self.user or 'CRON'}) {self.keyword} ({self.detail})"


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
    line: int = 0  # its line in `source`
    text: str = ""  # the line as written
    present: bool = True  # in its crontab at the last scan (else its last version, kept)
    mailto: str | None = None  # the crontab's MAILTO above it; None: not set (mail goes to user)


class FleetEntry(NamedTuple):
    """An entry as fleet drift compares it: read for every host of the fleet, so only that."""

    id: str
    host: str
    user: str
    schedule: str
    command: str
    disabled: bool  # commented out (a paused entry is too)
    paused: bool

    @classmethod
    def of(cls, entry: JobEntry) -> FleetEntry:
        return cls(
            entry.id,
            entry.host,
            entry.user,
            entry.schedule,
            entry.command,
            entry.disabled,
            entry.paused is not None,
        )


OUTPUT_FROM = {"mail": "from the mail cron sent", "log": "from the lines cron logged"}


@dataclass(slots=True)
class RunRecord:
    """One run of a job: its start, and its end and exit as far as the log (or a rerun) said.

    Not frozen, though nothing changes one: a judge reads a month of runs at once, and a frozen
    dataclass's __init__ (a call of object.__setattr__ per field) cost more than reading its row.
    """

    entry_id: str | None
    host: str
    started_at: datetime
    ended_at: datetime | None
    status: int | None  # exit status, only when the log or a wrapper said so
    signal: int | None
    trigger: str = CRON
    # the end of what it printed: the mail cron sent, cron's log, a rerun's capture; None: not seen
    output: str | None = None
    output_size: int | None = None  # all it printed, in bytes, where known
    output_from: str | None = None  # "mail" | "log" (OUTPUT_FROM); a rerun's: None

    @property
    def output_source(self) -> str:
        """Where its output was read, as the job detail and the audit's evidence say it."""
        if self.trigger != CRON:
            return "as cronops captured it when it reran the job"
        return OUTPUT_FROM.get(self.output_from or "mail", "")

    @property
    def failed(self) -> bool:
        """Only an exit status other than 0, or a signal, in the record says a run failed."""
        return self.signal is not None or bool(self.status)

    @property
    def outcome(self) -> str:
        """killed | failed | ok | unknown, as the record says; whether a run without an end
        still runs is the process list's to say (analysis.run_outcome)."""
        if self.failed:
            return "killed" if self.signal is not None else "failed"
        return "ok" if self.ended_at is not None and self.status == 0 else "unknown"


@dataclass(frozen=True)
class RunDay:
    """An entry's runs of one UTC day, folded into counts once older than the retention."""

    host: str
    entry_id: str | None  # None: runs the log showed for no entry of the crontabs
    day: date  # UTC
    runs: int
    ok: int
    failed: int
    killed: int
    unknown: int  # no end, or an end without an exit status
    manual: int  # not started by cron (reruns)
    p50: timedelta | None  # of the runs with an end; None when none had one
    p95: timedelta | None
    longest: timedelta | None


@dataclass(frozen=True)
class LatestRuns:
    """An entry's latest run, its latest run with a known end, and its latest success."""

    started: RunRecord
    ended: RunRecord | None
    succeeded: RunRecord | None


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
    summary: str = ""  # the essential in a few words, for a table cell ("no start at 03:00")
    # failed: the failed runs in a row up to the latest run, which may reach before `since`
    streak: int = 0
    streak_since: datetime | None = None  # the first of them started
    # A host finding's job findings that it explains (cron stopped: its jobs' missed runs).
    jobs: list[Finding] = field(default_factory=list)
    # Why it no longer stands though still in the window (kinds.LATER_RUN_*: a later run
    # succeeded after the failures); None while it stands. Stored findings resolve by it.
    over: str | None = None
    # missed: why the latest missed run did not happen, with the line that shows it, or
    # "cause unknown" when the host cannot tell (wording.Cause's sentence)
    cause: str = ""


@dataclass(frozen=True)
class Incident:
    """A finding's stored lifecycle; one row per identity (host, entry_id or None for
    host-level, kind)."""

    id: int
    host: str
    entry_id: str | None
    kind: str
    severity: str  # "critical" | "warning" | "info" (current)
    state: str  # "open" | "acknowledged" | "resolved"
    first_seen: datetime  # first ever seen (UTC, our clock)
    opened_at: datetime  # start of the current episode (== first_seen unless it reopened)
    last_seen: datetime  # last scan whose judge reported it (standing, or over: Finding.over)
    count: int  # runs affected, as the last scan judged them (its window)
    streak: int  # failed: failures in a row; 0 otherwise
    streak_since: datetime | None
    summary: str
    detail: str
    evidence: str
    runbook: str | None
    jobs: tuple[str, ...]  # a host-level incident: the entry ids it stopped (cron down: its jobs)
    # The last resolution, kept when it reopens (opened_at - resolved_at is the flap gap).
    resolved_at: datetime | None
    resolved_why: str | None  # kinds.LATER_RUN_SUCCEEDED, HOST_ANSWERED, ENTRY_PAUSED, ...
    ack_by: str | None
    ack_at: datetime | None
    ack_note: str | None
    ack_until: datetime | None  # an expired ack reads as "open" again


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


@dataclass(frozen=True)
class LogCursor:
    """Where the last scan stopped in one log file, and how to recognise that file again."""

    path: str
    inode: int
    offset: int
    head_len: int
    head_hash: str
    tail_len: int = 0  # the bytes just before `offset` (up to 1 KiB), and their checksum
    tail_hash: str = ""
    # Set while a first read is still in the log's rotated files: `inode` and `offset` are then
    # those of the rotated file it stopped in, whose mtime this is.
    archive_mtime: int | None = None


@dataclass(frozen=True)
class IncidentContext:
    """What telling someone about an incident needs that the incident does not hold: a route's
    filters, a message's job lines, an Alertmanager alert's labels."""

    tags: tuple[str, ...] = ()  # its host's, in the inventory
    tier: str | None = None  # its job's (None for a host's own incident)
    quiet: bool = False  # in a maintenance window now
    entry: JobEntry | None = None
    jobs: tuple[JobEntry, ...] = ()  # a host-level incident's stopped jobs, as far as known

    @property
    def job(self) -> str:
        """The job as a person reads it ("root: /usr/local/bin/backup --full"); "" for none."""
        return f"{self.entry.user}: {self.entry.command}" if self.entry else ""


@dataclass(frozen=True)
class Delivery:
    """What one notification route was to be told about one incident's transition, and how that
    went: written as an intent before the message is sent, its result after."""

    id: int
    route: str  # the route's key (routes.Route.key)
    shown: str  # the route as output may show it (its secrets masked)
    incident_id: int
    episode: datetime  # the incident's opened_at when decided: one transition per episode
    event: str  # "opened", "worse:critical", "remind:2", "resolved"
    severity: str  # the incident's severity when decided
    state: str  # "pending" (decided, result unknown) | "sent" | "failed" | "dropped"
    attempts: int
    decided_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None  # a failed one is tried again from then on
    error: str | None


class Due(NamedTuple):
    """When a host is to be judged again though its scan stored nothing new: once the clock
    reaches `at`, or a scan's window starts after `start` (evidence leaves a window as it
    moves on)."""

    at: datetime
    start: datetime

    def passed(self, since: datetime, now: datetime) -> bool:
        return now >= self.at or since > self.start


class Stored(NamedTuple):
    """What a host's scan stored that only its entries' verdicts read (not a line of its cron
    daemon or `crontab` program): the entries it stored a run or a run's output of, and the
    earliest start of a run it stored (None: none)."""

    entries: frozenset[str]
    first_start: datetime | None


@dataclass(frozen=True)
class Judged:
    """A host's last judgement by a scan: what it read (a fingerprint) and when it is due again;
    the same of its drift, judged against the whole fleet's crontabs."""

    host: str
    inputs: str | None
    due: Due | None
    policy: str | None  # the host's resolved policies (None: with a maintenance window)
    drift: str | None  # the fleet's crontabs and this host's policy, as its drift read them
    drift_due: datetime | None


# -- records built by the thousand --------------------------------------------------------------
# A frozen dataclass's __init__ sets each field through object.__setattr__: building an Incident
# (23 fields) so took ~8x as long as filling its __dict__, and a scan reads and copies every
# incident and entry of the hosts it judges.


def record(kind: type[Record], values: Iterable[Any]) -> Record:
    """A record of `kind` (a dataclass without __post_init__) from every field's value, in
    the fields' order, without its __init__; a value too many or too few is a TypeError."""
    names = _names(kind)
    built = _blank(kind)
    try:
        built.__dict__.update(zip(names, values, strict=True))
    except ValueError as error:  # zip's, which a missing or extra value would raise
        raise TypeError(f"{kind.__name__}: {error}") from None
    return built


def copied(original: Record, **changes: Any) -> Record:
    """dataclasses.replace without its __init__ (and its look at each field's kind): the
    record with these fields changed; a name that is no field is a TypeError."""
    values = vars(original)
    if not changes.keys() <= values.keys():
        raise TypeError(f"no such field: {sorted(changes.keys() - values.keys())}")
    built = _blank(type(original))
    built.__dict__.update(values, **changes)
    return built


_blank = object.__new__
_NAMES: dict[type, tuple[str, ...]] = {}


def _names(kind: type) -> tuple[str, ...]:
    names = _NAMES.get(kind)
    if names is None:
        # A __post_init__ would be skipped, and a dataclass of slots has no __dict__ to fill.
        assert not hasattr(kind, "__post_init__") and not hasattr(kind, "__slots__"), kind
        names = _NAMES[kind] = tuple(f.name for f in fields(kind))
    return names
