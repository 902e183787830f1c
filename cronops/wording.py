"""The judge's sentences: what a finding says (detail, evidence, summary), why a state is what it is.

Text only, from what analysis.py decided: no rule lives here, so a rule changes in one place.
Times are shown in the job's zone (the host's, or CRON_TZ on cronie), spans in two units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from cronops.labels import short_command, size, span

if TYPE_CHECKING:
    from cronops.causes import Cause
    from cronops.changes import Change
    from cronops.crontab import PauseInfo
    from cronops.durations import Baseline
    from cronops.lint import LintNote
    from cronops.records import HostFacts, JobEntry, RunRecord

EXAMPLES = 3  # occurrences spelled out in a finding's evidence

_WHY_NOT_SCANNED = {
    "unreachable": "cannot be reached",
    "timeout": "did not answer in time",
    "error": "could not be scanned",
    "auth_failed": "refused our login",
    "host_key_unknown": "has a host key that is not in known_hosts",
    "host_key_changed": "has a different host key than known_hosts (reinstalled, or someone "
    "in between)",
}

_WHAT_WAS_SEEN = {
    "missed": "No start line was logged for the runs due at",
    "never_ran": "No start line of this entry was logged at all; runs were due at",
    "late": "Start lines came after the grace period",
    "failed": "The run records (cron's log or a wrapper) show",
    "slow": "Start and end lines show",
    "too_fast": "Start and end lines (and the output each run sent) show",
    "hung": "The process list of the last scan shows",
    "overlap": "Start and end lines (and the process list) show",
    "pause_expired": "The crontab line carries cronops's pause marker",
    "output_lost": "A failed run, and where its output goes",
    "lint": "The crontab as the last scan read it",
    "changed": "The crontab versions the scans read (and the host's log or the file's mtime)",
    "drift": "The crontabs of the last scans",
}
# What the scans read from the crontabs, not the log: the log's limits do not apply.
_FROM_CRONTABS = {"pause_expired", "lint", "changed", "drift"}
_CHANGE_KNOWN_BY = {
    "log": "the host's log of `crontab`",
    "mtime": "the file's modification time",
    "scan": "the scan that found it",
}

# Why absence is judged from the moment it is (see analysis' module docstring).
_JUDGED_FROM = {
    "window": "the start of the audit window",
    "coverage": "the oldest cron log line held",
    "crontab": "its crontab's last change",
    "first_seen": "its first sighting",
}


class Text(NamedTuple):
    evidence: str  # what the logs showed and what they could not tell
    detail: str  # one sentence for a person at 3 a.m.
    summary: str  # the essential in a few words, for a table cell


class Note(NamedTuple):
    """One occurrence: as a finding's detail tells it, and in a few words."""

    full: str
    short: str


# -- host findings ------------------------------------------------------------------------------


def not_scanned(facts: HostFacts, ok_at: datetime | None) -> Text:
    if ok_at is None:
        judged = "its jobs cannot be judged: it was never scanned successfully"
    else:
        judged = f"its jobs are judged only up to the last successful scan at {when(ok_at)}"
    why = _WHY_NOT_SCANNED.get(facts.status, facts.status)
    return Text(
        f"Scan status {facts.status}: {facts.error or 'no error text'}; {judged}.",
        f"{facts.name} {why}; {judged}.",
        facts.error or facts.status,
    )


def cron_stopped(facts: HostFacts) -> Text:
    return Text(
        "The process list of the last scan shows no cron daemon.",
        f"cron is not running on {facts.name}: none of its jobs start until it is restarted.",
        "no cron daemon in the process list",
    )


def clock_skewed(facts: HostFacts, allowed: timedelta) -> Text:
    off = span(abs(facts.clock_skew).total_seconds())
    ahead = "ahead of" if facts.clock_skew > timedelta(0) else "behind"
    return Text(
        f"The host's clock was {off} {ahead} ours at the last scan "
        f"(allowed {span(allowed.total_seconds())}).",
        f"{facts.name}'s clock is {off} {ahead} ours: its jobs run that far off real time.",
        f"clock {off} {ahead} ours",
    )


def stopped_cron_cost(jobs: int, runs: int, first: datetime) -> Note:
    """What a stopped cron daemon cost its jobs: after its finding's detail, and in a few words."""
    return Note(
        f"{many(jobs, 'job')} missed {many(runs, 'run')} since {when(first)}.",
        f"no cron daemon: {many(jobs, 'job')} missed {runs} runs since {first:%m-%d %H:%M}",
    )


def logs_unreadable(facts: HostFacts) -> Text:
    return Text(
        "No cron log could be read at the last scan, so runs on this host cannot be seen.",
        f"cronops cannot read {facts.name}'s cron log: its missed runs are unknown.",
        "no cron log could be read",
    )


def crontab_errors(facts: HostFacts) -> Text:
    problems = facts.crontab_problems
    shown = "; ".join(
        f"{source}:{line}: {message}" for source, line, message in problems[:EXAMPLES]
    )
    more = f"; and {len(problems) - EXAMPLES} more" if len(problems) > EXAMPLES else ""
    source, line, message = problems[0]
    others = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return Text(
        f"{shown}{more}.",
        f"{facts.name} has {len(problems)} crontab line(s) cron rejects; Debian cron then ignores "
        "the whole file, so none of its jobs run.",
        f"{source}:{line}: {message}{others}",
    )


# -- one entry: its occurrences ---------------------------------------------------------------


class Job(NamedTuple):
    """The entry the sentences are about, the zone its times are shown in, and the host's now."""

    entry: JobEntry
    facts: HostFacts
    zone: tzinfo
    now: float  # host clock: a time within the last day is short without its date

    def at(self, stamp: float) -> str:
        return _local(stamp, self.zone, _WHEN)

    def short(self, stamp: float) -> str:
        """'03:00' within the last day, else '11-28 03:00': short, and never ambiguous."""
        shown = "%H:%M" if self.now - stamp < 86400 else "%m-%d %H:%M"
        return _local(stamp, self.zone, shown)

    def day_or_time(self, stamp: float, until: float) -> str:
        """'11-28', or '03:00' when that is the day of `until` too."""
        same_day = _local(stamp, self.zone, "%Y-%m-%d") == _local(until, self.zone, "%Y-%m-%d")
        return _local(stamp, self.zone, "%H:%M" if same_day else "%m-%d")


def late(job: Job, due: float, start: float) -> Note:
    late = f"started {span(start - due)} late for"
    return Note(f"{late} {job.at(due)}", f"{late} {job.short(due)}")


def not_started(job: Job, due: float) -> Note:
    return Note(f"did not start at {job.at(due)}", f"no start at {job.short(due)}")


def failed(job: Job, run: RunRecord, start: float, manual: bool) -> Note:
    what = failure(run)
    how = what if run.signal is not None else f"failed with {what}"
    manual_run = " (manual run)" if manual else ""
    return Note(
        f"{how} at {job.at(start)}{manual_run}", f"{what} at {job.short(start)}{manual_run}"
    )


def failure(run: RunRecord) -> str:
    """'exit status 2', 'killed by signal 9': how a failed run failed."""
    return (
        f"killed by signal {run.signal}" if run.signal is not None else f"exit status {run.status}"
    )


def took(job: Job, start: float, took: float, why: Note) -> Note:
    """A run that took too long or too little (slow, too_fast), and what it is compared with."""
    ran = f"ran {span(took)}"
    return Note(
        f"{ran} from {job.at(start)} ({why.full})", f"{ran} at {job.short(start)} ({why.short})"
    )


def beyond_limit(key: str, limit: float) -> Note:
    """A policy limit (max_duration, min_duration) a run went past."""
    return Note(f"its {key} is {span(limit)}", f"{key.split('_')[0]} {span(limit)}")


def against_usual(usual: Baseline) -> Note:
    spread = f", spread {span(usual.spread)}" if usual.spread >= 1 else ""
    return Note(
        f"the median of the {usual.runs} runs around it is {span(usual.usual)}{spread}"
        f"{_folded(usual.folded, 'median')}",
        f"usual {span(usual.usual)}",
    )


def _folded(days: int, statistic: str) -> str:
    """How many of a job's usual runs are days folded past the retention, each counted once by
    its statistic: said, for an operator who finds fewer runs in the history."""
    return f"; {days} of them are folded days, each day's {statistic}" if days else ""


def printed_less(printed: int, usual: Baseline) -> Note:
    """A run that printed far less than the job usually does (its output's whole size)."""
    return Note(
        f"printed {size(printed)}; the median of the {usual.runs} runs around it printed "
        f"{size(usual.usual)}",
        f"usually {size(usual.usual)}",
    )


def both(took: Note, printed: int, usual: Baseline) -> Note:
    """A run too fast by its duration and by its output: two signals, both shown."""
    less = printed_less(printed, usual)
    return Note(f"{took.full}; and it {less.full}", f"{took.short}; printed {size(printed)}")


def printed_only(job: Job, start: float, printed: int, usual: Baseline) -> Note:
    """A run too fast by its output alone (its end is not known, or its duration was usual)."""
    less = printed_less(printed, usual)
    return Note(
        f"the run from {job.at(start)} {less.full}",
        f"printed {size(printed)} at {job.short(start)} ({less.short})",
    )


class Limit(NamedTuple):
    """How long a run may go before it is hung, and what says so."""

    seconds: float
    by: str  # "max_duration" | "history" | "interval"
    runs: int = 0  # history: the ended runs it is taken from, their 95th percentile, and how
    p95: float = 0.0  # many times that a run may take
    factor: float = 0.0
    folded: int = 0  # history: of those runs, days folded past the retention (each its p95)

    def why(self) -> str:
        if self.by == "max_duration":
            return "its max_duration"
        if self.by == "history":
            return (
                f"{self.factor:g}x the p95 of its last {self.runs} runs, {span(self.p95)}"
                f"{_folded(self.folded, 'p95')}"
            )
        return "the interval of its schedule"


def hung(job: Job, pid: int, start: float, evidence_end: float, limit: Limit) -> Note:
    ran, most = span(evidence_end - start), span(limit.seconds)
    return Note(
        f"pid {pid}, started {job.at(start)}, was still running after {ran} at the last scan "
        f"(limit {most}: {limit.why()})",
        f"pid {pid} running {ran} (limit {most})",
    )


def overlap(job: Job, start: float, earlier: float, by_process: bool) -> Note:
    what = "process" if by_process else "run"
    return Note(
        f"started {job.at(start)} while the {what} from {job.at(earlier)} ran",
        f"started {job.short(start)} while {job.short(earlier)} ran",
    )


def pause_marker(job: Job, pause: PauseInfo) -> str:
    assert pause.until is not None
    at = f" at {job.at(pause.at.timestamp())}" if pause.at else ""
    reason = f" (reason: {pause.reason})" if pause.reason else ""
    return (
        f"paused by {pause.by}{at} until {job.at(pause.until.timestamp())}{reason}, "
        "still in place at the last successful scan"
    )


def pause_over(job: Job, pause: PauseInfo) -> Note:
    """A pause past its `until`, told without how long ago (which moves with each scan while
    the verdict stands: its row is left as it is)."""
    assert pause.until is not None
    until = pause.until.timestamp()
    return Note(
        f"was paused by {pause.by} until {job.at(until)}, and cron still does not run it: "
        f"cronops does not resume on its own, so resume it (`cronops resume {job.entry.id}`, "
        "or p in the TUI) or pause it again",
        f"paused by {pause.by} until {job.short(until)}",
    )


# -- one entry: its finding ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    """A finding's occurrences, as the judge folded them."""

    count: int
    first: float
    last: float
    examples: list[str]  # the first few, as `_WHAT_WAS_SEEN` lists them
    latest: Note  # the latest, as the detail tells it and in a few words


class Absence(NamedTuple):
    """How absence was judged: from when (and why from then), up to the last successful scan.
    Neither moment is named while it moves with each scan (the window's start, the scan of a
    host that answers): a verdict that stands is then the same text, and its row is left as
    it is (a rescan judges only the entries whose verdicts can have changed)."""

    since: float
    reason: str  # a key of _JUDGED_FROM
    ok_at: float | None  # the last successful scan, when the host did not answer its latest
    grace: timedelta


def cause(job: Job, found: Cause | None) -> Note:
    """Why a run did not happen, with the line that shows it (full), and in a few words."""
    if found is None:
        return Note(
            "Cause unknown: no boot, cron start or complaint of cron's on the host explains it.",
            "cause unknown",
        )
    at = job.at(found.at.timestamp())
    return Note(f"Most likely cause: {found.why} ({at}: {found.evidence}).", found.why)


def output_lost(job: Job, failed: float, why: str) -> Note:
    return Note(
        f"failed at {job.at(failed)}, and nobody can see what it printed: {why}",
        f"output lost: {why.split(':')[0]}",
    )


def printed(job: Job, run: RunRecord) -> str:
    """What a run printed, as far as its output was seen (the end of the mail cron sent, of
    the lines cron logged, of a rerun's capture)."""
    assert run.output is not None
    at = job.at(run.started_at.timestamp())
    return f"The run at {at} printed (the end of its output, {run.output_source}): {run.output}"


def finding(
    job: Job,
    kind: str,
    tally: Tally,
    absence: Absence,
    streak: Sequence[RunRecord] = (),
    because: Note | None = None,
    output: str = "",
) -> Text:
    """What a finding says; `streak`, for failed, is the failed runs in a row up to the latest;
    `because`, for a run that did not happen, why (`cause`); `output`, what a failed run
    printed (`printed`)."""
    label = _label(job.entry)
    if kind == "never_ran":
        since = job.at(_never_since(absence, tally))
        detail = f"{label} has not run once since {since}, though {tally.count} run(s) were due."
    else:
        more = f" ({tally.count} times since {job.at(tally.first)})" if tally.count > 1 else ""
        detail = f"{label} {tally.latest.full}{more}."
    if kind in ("missed", "never_ran") and job.facts.cron_running is False:
        detail = detail[:-1] + "; cron is not running on the host."
    if len(streak) > 1:
        since = job.at(streak[0].started_at.timestamp())
        detail += f" It has failed {len(streak)} times in a row since {since}."
    evidence = " ".join(part for part in (_evidence(job, kind, tally, absence), output) if part)
    if because is not None:
        detail, evidence = f"{detail} {because.full}", f"{because.full} {evidence}"
    summary = _summary(job, kind, tally, absence, streak)
    return Text(evidence, detail, summary)


def _summary(
    job: Job, kind: str, tally: Tally, absence: Absence, streak: Sequence[RunRecord]
) -> str:
    if kind == "never_ran":
        judged = _local(_never_since(absence, tally), job.zone, "%m-%d %H:%M")
        return f"never started: {many(tally.count, 'run')} due since {judged}"
    if len(streak) > 1:
        since = job.day_or_time(streak[0].started_at.timestamp(), job.now)
        return f"failed ×{len(streak)} since {since} ({failure(streak[-1])})"
    if tally.count == 1:
        return tally.latest.short
    since = job.day_or_time(tally.first, tally.last)
    return f"{tally.latest.short} (×{tally.count} since {since})"


def _evidence(job: Job, kind: str, tally: Tally, absence: Absence) -> str:
    shown = "; ".join(tally.examples)
    if tally.count > len(tally.examples):
        more = tally.count - len(tally.examples)
        shown += f"; ... and {more} more, the last at {job.at(tally.last)}"
    parts = [f"{_WHAT_WAS_SEEN[kind]}: {shown}."]
    if kind in ("missed", "never_ran", "late"):
        parts.append(_absence_basis(job, absence))
    if job.entry.source in {source for source, _, _ in job.facts.crontab_problems}:
        parts.append(
            f"{job.entry.source} has lines cron rejects (Debian cron ignores the whole file)."
        )
    if kind not in _FROM_CRONTABS:
        parts.append(log_limits(job.facts))
    return " ".join(part for part in parts if part)


def _never_since(absence: Absence, tally: Tally) -> float:
    """Since when an entry never ran, as told: the first run due, where absence is judged from
    the window's start (which moves with each scan)."""
    return tally.first if absence.reason == "window" else absence.since


def _absence_basis(job: Job, absence: Absence) -> str:
    since = _JUDGED_FROM[absence.reason]
    if absence.reason != "window":
        since = f"{job.at(absence.since)} ({since})"
    end = f" at {job.at(absence.ok_at)}" if absence.ok_at is not None else ""
    return (
        f"Schedule '{job.entry.schedule}' in {zone_name(job.zone)}; a start counts within "
        f"{span(absence.grace.total_seconds())} of its time and before the next one. Judged "
        f"from {since} to the last successful scan{end}; earlier and later runs are unknown."
    )


# -- crontabs and the fleet: lint, changed, drift ---------------------------------------------


def lint(note: LintNote) -> Note:
    where = f"{note.path}:{note.line}" if note.line else note.path
    return Note(f"{where}: {note.message}", f"{where.rsplit('/', 1)[-1]}: {note.rule}")


def changed(change: Change) -> Note:
    """An edit cronops did not make: what, by whom and how, as far as the host says."""
    what = change.kind
    if change.before and change.after:
        what += f": '{change.before}' -> '{change.after}'"
    elif change.before or change.after:
        what += f": '{change.before or change.after}'"
    who = f" by {change.who}" if change.who else ""
    via = f" ({change.via})" if change.via else ""
    known = _CHANGE_KNOWN_BY.get(change.known_by, change.known_by)
    at = f"{change.at:%Y-%m-%d %H:%M}"
    full = f"{change.path}: {what}{who}{via} at {at} (as {known} says), not by cronops"
    return Note(full, f"{change.kind}{who}{via} {change.at:%m-%d %H:%M}")


def drifted(what: str, value: str, usual: str, agreeing: set[str]) -> Note:
    """One host's entry differs from the schedule or user most hosts with the command share."""
    hosts = ", ".join(sorted(agreeing)[:EXAMPLES]) + (", ..." if len(agreeing) > EXAMPLES else "")
    return Note(
        f"has {what} '{value}' here, '{usual}' on {len(agreeing)} other hosts ({hosts})",
        f"{what} '{value}', '{usual}' on {len(agreeing)} hosts",
    )


def missing_here(command: str, tag: str, present: int, tagged: int) -> Note:
    job = short_command(command, 60)
    return Note(
        f"has no '{job}', which is on {present} of {tagged} hosts tagged {tag}",
        f"no '{short_command(command, 30)}' ({present} of {tagged} tagged {tag})",
    )


def crontab_finding(
    kind: str, host: str, entry: JobEntry | None, tally: Tally, zone: tzinfo
) -> Text:
    subject = _label(entry) if entry else host
    more = f" ({tally.count} in all: see the evidence)" if tally.count > 1 else ""
    detail = f"{subject} {tally.latest.full}{more}."
    shown = "; ".join(tally.examples)
    if tally.count > len(tally.examples):
        shown += f"; ... and {tally.count - len(tally.examples)} more"
    evidence = f"{_WHAT_WAS_SEEN[kind]}: {shown}."
    if kind == "drift":
        evidence += (
            " Hosts may differ on purpose (staggered runs, a host's own job): said only where "
            "most of the hosts compared agree."
        )
    summary = tally.latest.short + (f" (×{tally.count})" if tally.count > 1 else "")
    return Text(evidence, detail, summary)


# -- one entry: its state -----------------------------------------------------------------------

DISABLED = "commented out in its crontab: cron does not run it."


def paused(job: Job, pause: PauseInfo, ago: float | None) -> str:
    if ago is None:
        return "paused by cronops: cron does not run it."
    assert pause.until is not None
    until = job.at(pause.until.timestamp())
    return f"paused by cronops until {until}; that was {span(ago)} ago: cron still does not run it."


def host_unknown(facts: HostFacts) -> str:
    return f"{facts.name} is {facts.status}: nothing is known since its last successful scan."


def hung_now(job: Job, pid: int, start: float, evidence_end: float, limit: Limit) -> str:
    ran = span(evidence_end - start)
    return f"pid {pid} has run {ran} since {job.at(start)} (limit {span(limit.seconds)})."


def missed_now(job: Job, due: float) -> str:
    stopped = "; cron is not running" if job.facts.cron_running is False else ""
    return f"no start was logged for {job.at(due)}{stopped}."


def late_now(job: Job, due: float, start: float) -> str:
    return f"{late(job, due, start)}."


def last_run(job: Job, run: RunRecord) -> str:
    text = f"its last run started {job.at(run.started_at.timestamp())}"
    if run.ended_at is not None:
        text += f" and ran {span((run.ended_at - run.started_at).total_seconds())}"
    if run.signal is not None:
        return f"{text}, killed by signal {run.signal}."
    if run.status:
        return f"{text}, exit status {run.status}."
    return f"{text}, exit status 0." if run.status == 0 else f"{text}."


def running_since(job: Job, start: float) -> str:
    return f"running since {job.at(start)}."


def ran(job: Job, start: float) -> str:
    return f"started {job.at(start)}; whether it succeeded is unknown."


def why_unknown(job: Job, reason: str, since: float | None) -> str:
    """No verdict: `reason` says which evidence is missing (see analysis' _Judge.state)."""
    if reason == "log_off":
        return "cronie does not log this job (its line starts with '-'): its runs cannot be seen."
    if reason == "unreadable":
        return "the host's cron log cannot be read."
    if reason == "no_coverage":
        return "no cron log lines are held for this host yet."
    if reason == "reboot":
        return "an @reboot job: no run seen since the log coverage began."
    assert since is not None
    return (
        f"no run seen; runs before {job.at(since)} are unknown "
        "(log coverage and crontab mtime), and none was due since."
    )


def log_limits(facts: HostFacts) -> str:
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


# -- small helpers ------------------------------------------------------------------------------


_WHEN = "%Y-%m-%d %H:%M %Z"


def when(moment: datetime) -> str:
    return moment.strftime(_WHEN)


@lru_cache(maxsize=4096)
def _local(stamp: float, zone: tzinfo, shown: str) -> str:
    """A time in a zone, as `shown` (strftime) writes it. Remembered: the findings of a
    fleet's jobs tell the same times over and over (their shared schedules' times, the window's
    start, the last scan), and formatting one costs more than judging a run. (A fixed-offset
    zone, equal to any other of its offset, is unnamed here: probe.resolve_zone.)"""
    return datetime.fromtimestamp(stamp, zone).strftime(shown)


def many(count: int, thing: str) -> str:
    """'1 job', '6 jobs'."""
    return f"{count} {thing}" if count == 1 else f"{count} {thing}s"


def _label(entry: JobEntry) -> str:
    return f"'{_short(entry.command)}' ({entry.user}@{entry.host})"


@lru_cache(maxsize=4096)
def _short(command: str) -> str:
    """The command in a finding's detail. Long paths lose their middle directories, never the
    script's name (see labels.py). Remembered: each finding of a job, and of each host it
    runs on, names it."""
    return short_command(command, 60)


def zone_name(zone: tzinfo) -> str:
    """Its IANA name where it has one ("Europe/Berlin")."""
    return str(getattr(zone, "key", None) or zone)
