"""Why a scheduled run did not happen: the host's boot, the cron daemon's start and its own lines.

Pure: an entry, its host's facts and the job starts its log holds in, one cause (or None) out.
Only what the host said counts: where it cannot tell, the cause is unknown, never guessed."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import PurePosixPath

from cronops.records import PAM_FAILURE, DaemonLine, HostFacts, JobEntry
from cronops.schedule import GAP, runs_in_clock_shifts

SYSTEM_CRONTAB = "/etc/crontab"
CRON_D = "/etc/cron.d"
REJECTED = "Syntax error, this crontab file will be ignored"
MINUTE_S = 60.0
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Cause:
    """What most likely kept a run from starting, and the evidence: a log line as the daemon
    wrote it, with its time, or the fact the host reported."""

    why: str  # "cron was not running", "its crontab was rejected by cron", ...
    at: datetime  # when the evidence was logged or the fact began (UTC)
    evidence: str  # "(CRON) STARTUP (fork ok)", "booted (the kernel's boot time)", ...


def missed_cause(
    entry: JobEntry,
    facts: HostFacts,
    slot: float,
    host_starts: Sequence[float],
    zone: tzinfo = UTC,
) -> Cause | None:
    """Why `entry` did not start at `slot` (POSIX seconds), or None when the host cannot tell.

    `host_starts` are the starts of every job on the host that cron started, sorted: a start
    between the slot and a boot or a daemon start shows cron was running then after all.
    `zone` is the one cron schedules the entry in. The host's own word comes first; a slot
    that a DST gap moved is the zone's rules, not the host's, so it comes last."""
    return (
        _host_down(facts, slot, host_starts)
        or _cron_stopped(facts, slot, host_starts)
        or _rejected(entry, facts, slot)
        or _orphan(entry, facts, slot)
        or _pam_failure(entry, facts, slot)
        or _dst_gap(entry, slot, zone)
    )


def last_start_compared(facts: HostFacts) -> datetime | None:
    """The latest boot or cron daemon start a missed run's cause is told by: whether cron ran
    a job between the slot and it. Job starts after it tell no cause."""
    starts = [line.at for line in facts.daemon_lines if line.keyword == "STARTUP"]
    return max(filter(None, [facts.booted_at, facts.cron_started_at, *starts]), default=None)


def crontab_name(entry: JobEntry) -> str:
    """How cron names the entry's crontab in its lines: the user, `*system*` for /etc/crontab,
    `*system*NAME` for /etc/cron.d/NAME."""
    return _system_name(entry.source) or entry.user


@lru_cache(maxsize=4096)
def _system_name(source: str) -> str | None:
    """A system crontab's name in cron's lines; None for a user's. Remembered: asked for each
    missed entry twice (a path parsed each time was a tenth of judging a host's absence)."""
    path = PurePosixPath(source)
    if source == SYSTEM_CRONTAB:
        return "*system*"
    if str(path.parent) == CRON_D:
        return f"*system*{path.name}"
    return None


def _quiet_until(host_starts: Sequence[float], slot: float, until: float) -> bool:
    """No job started on the host after `slot` and before `until`."""
    index = bisect_right(host_starts, slot)
    return index == len(host_starts) or host_starts[index] >= until


def _host_down(facts: HostFacts, slot: float, host_starts: Sequence[float]) -> Cause | None:
    booted = facts.booted_at
    if booted is None or booted.timestamp() <= slot:
        return None
    if not _quiet_until(host_starts, slot, booted.timestamp()):
        return None  # cron ran jobs after the slot: it was up (an older boot)
    return Cause("the host was down", booted, "booted (the kernel's boot time)")


def _cron_stopped(facts: HostFacts, slot: float, host_starts: Sequence[float]) -> Cause | None:
    """The daemon's first start after the slot, by its STARTUP line or its process's start,
    with no job started between the slot and it."""
    starts = [
        (line.at, line.text)
        for line in facts.daemon_lines
        if line.keyword == "STARTUP" and line.at.timestamp() > slot
    ]
    if facts.cron_started_at is not None and facts.cron_started_at.timestamp() > slot:
        starts.append((facts.cron_started_at, "started (the cron process's start time)"))
    if not starts:
        return None
    at, evidence = min(starts)
    if not _quiet_until(host_starts, slot, at.timestamp()):
        return None
    return Cause("cron was not running", at, evidence)


def _standing(
    entry: JobEntry, facts: HostFacts, slot: float, keyword: str, detail: str | None
) -> DaemonLine | None:
    """The latest line `keyword` (with `detail`) about the entry's crontab before the slot, when
    cron has not read that crontab again since: no STARTUP nor RELOAD of it in a later second
    (cron logs the complaint again in the same second when the crontab is still bad)."""
    name = crontab_name(entry)
    found: DaemonLine | None = None
    for line in facts.daemon_lines:
        if line.at.timestamp() > slot:
            break
        if line.keyword == keyword and line.user == name and detail in (None, line.detail):
            found = line
        elif found is not None and line.at > found.at and _rereads(line, name):
            found = None
    return found


def _rereads(line: DaemonLine, name: str) -> bool:
    """cron read the crontab `name` again: at its start, or on a change to that crontab."""
    return line.keyword == "STARTUP" or (line.keyword == "RELOAD" and line.user == name)


def _rejected(entry: JobEntry, facts: HostFacts, slot: float) -> Cause | None:
    line = _standing(entry, facts, slot, "ERROR", REJECTED)
    if line is None:
        return None
    # Debian says which line was wrong just before, in a line of its own in the same second.
    reason = next(
        (
            other.text
            for other in facts.daemon_lines
            if other.keyword == "Error" and other.at == line.at and _names(other, entry)
        ),
        None,
    )
    evidence = f"{reason} / {line.text}" if reason else line.text
    return Cause("its crontab was rejected by cron", line.at, evidence)


def _names(line: DaemonLine, entry: JobEntry) -> bool:
    """Debian's read error names the file (`while reading /etc/cron.d/app`) or the user
    (`while reading crontab for user bob`)."""
    if entry.source in (SYSTEM_CRONTAB,) or entry.source.startswith(f"{CRON_D}/"):
        return line.detail.endswith(f"while reading {entry.source}")
    return line.detail.endswith(f"while reading crontab for user {entry.user}")


def _orphan(entry: JobEntry, facts: HostFacts, slot: float) -> Cause | None:
    line = _standing(entry, facts, slot, "ORPHAN", None)
    if line is None:
        return None
    return Cause(f"the user {entry.user} has no passwd entry", line.at, line.text)


def _dst_gap(entry: JobEntry, slot: float, zone: tzinfo) -> Cause | None:
    """The slot is where cron runs a fixed-time job whose time the clock skipped that night."""
    at = datetime.fromtimestamp(slot, UTC)
    for shifted in runs_in_clock_shifts(entry.schedule, zone, at - DAY, at + DAY):
        if shifted.shift.kind == GAP and at in shifted.runs:
            evidence = (
                f"{shifted.wall:%H:%M} never showed on the clock in {zone}: "
                f"cron (Debian, cronie) runs it once the clock has jumped"
            )
            return Cause("the slot fell in a DST gap", at, evidence)
    return None


def _pam_failure(entry: JobEntry, facts: HostFacts, slot: float) -> Cause | None:
    """cronie could not open the job's PAM session in the slot's minute: the job never ran."""
    for line in facts.daemon_lines:
        at = line.at.timestamp()
        if line.keyword == PAM_FAILURE and line.user == entry.user and slot <= at < slot + MINUTE_S:
            return Cause(f"cron could not open a PAM session for {entry.user}", line.at, line.text)
    return None
