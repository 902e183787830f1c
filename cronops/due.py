"""When a host, or one of its entries, must be judged again though its scan stored nothing new
for it: what its judgement read (a fingerprint) and the earliest moment time alone can change
one of its verdicts.

Pure functions of what the judge was given and what it found; analysis.py holds the rules, this
module only the moments they can turn at, erring early: an entry judged too often costs a
little, one judged too late shows a stale verdict.
"""

from __future__ import annotations

import hashlib
import zlib
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime, time, timedelta, tzinfo
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple

from cronops.analysis import entry_zone
from cronops.changes import Change
from cronops.crontab import StoredCrontab
from cronops.durations import NEIGHBOURS
from cronops.kinds import CRONTAB_KINDS
from cronops.policy import Policy, PolicyBook
from cronops.records import CRON, Due, Finding, HostFacts, JobEntry, RunningJob, RunRecord
from cronops.schedule import REBOOT, next_time, split_schedule

# No host stays unjudged whole longer: what no moment below foresees (an overlap's earlier run
# told without its date, a clock shift a year ahead coming into view) is at most this stale.
JUDGED_AT_LEAST_EVERY = timedelta(hours=1)
# ...less up to this, by host (at_least_every): the hosts a scan judged whole are not all judged
# whole again by one scan an hour on (each reading a month of runs), but spread over this.
STAGGER = timedelta(minutes=15)
# Moments are worked out on the host's clock, whose skew from ours is measured anew each scan
# (and stored to the second in the fingerprint): a host is due this much before its moment.
EARLY = timedelta(seconds=5)
# A run this many runs before the window, or earlier, no longer counts: a run in the window is
# compared with NEIGHBOURS runs each side (slow, too_fast), a running one with the last
# analysis.HUNG_HISTORY (50) ended ones, but an entry with a process running is judged each scan.
RUNS_BEFORE_THAT_COUNT = 2 * NEIGHBOURS + 1
# A boot's or a cron daemon's start, as a scan measures it, moves by a second from one scan to
# the next: a job started this near it may have started before it or after.
NEAR_START = timedelta(seconds=3)
DAY = timedelta(days=1)
_STARTED = attrgetter("started_at")


def fingerprint(
    facts: HostFacts,
    entries: Sequence[JobEntry],
    crontabs: Sequence[StoredCrontab],
    changes: Sequence[Change],
    policies: Sequence[Policy],
    window: timedelta,
) -> str:
    """What a host's judgement reads besides its runs and processes (and the moments it is
    judged at): a judgement of the same fingerprint, at a moment none of judge_due's has
    passed, with no new run, says the same (an entry with a process running is judged each
    scan, whatever the fingerprint: judge_scanned). The clock skew to the second, and the
    boot's and the cron daemon's start to the minute (each is measured anew each scan, as the
    host's clock minus an uptime in whole seconds); the window judged to the hour (a scan's is
    its start minus the window asked for, judged a few minutes on at most)."""
    steady = vars(facts) | {
        "ok_at": None,
        "scanned_at": None,
        "clock_skew": round(facts.clock_skew.total_seconds()),
        "booted_at": _steady(facts.booted_at),
        "cron_started_at": _steady(facts.cron_started_at),
        "daemon_lines": [_values(line) for line in facts.daemon_lines],
    }
    read = [_values(crontab, seen_at=None) for crontab in crontabs]
    return digest(
        tuple(steady.values()),
        [_values(entry) for entry in entries],
        read,
        [_values(change) for change in changes],
        _stated(policies),
        round(window / timedelta(hours=1)),
    )


def _values(record: object, **changes: object) -> tuple:
    """A record's fields' values, in their order (with `changes`), for a fingerprint: their
    repr says all the record's would, in a sixth of the time (a dataclass's repr is Python's,
    a tuple's C's), and a scan fingerprints every host's entries."""
    values = vars(record)
    return tuple((values | changes).values() if changes else values.values())


def policies(book: PolicyBook, facts: HostFacts, entries: Iterable[JobEntry]) -> list[Policy]:
    """The host's own policy, then each entry's, as the judge resolves them."""
    return [book.resolve_host(facts), *(book.resolve(entry, facts) for entry in entries)]


def policies_print(policies: Sequence[Policy]) -> str:
    """One fingerprint of resolved policies."""
    return digest(_stated(policies))


def _stated(policies: Sequence[Policy]) -> tuple[list[str], list[int]]:
    """Policies as texts: each different one once, and which of them each is. A book resolves
    the same few policies (the same objects) for most entries of a host: each object is told
    once, not hashed again for each entry."""
    by_object: dict[int, int] = {}  # the policies are alive: no id is reused meanwhile
    texts: dict[str, int] = {}
    which = []
    for policy in policies:
        index = by_object.get(id(policy))
        if index is None:
            index = by_object[id(policy)] = texts.setdefault(_text(policy), len(texts))
        which.append(index)
    return list(texts), which


@lru_cache(maxsize=1024)
def _text(policy: Policy) -> str:
    """A policy as text, the same in every process (a set's order is not: its strings' hashes
    are seeded anew)."""
    settings = [getattr(policy, f.name) for f in fields(policy) if f.name != "ignored"]
    return repr([*settings, sorted(policy.ignored)])


def crontabs_print(facts: HostFacts, entries: Iterable[JobEntry]) -> str:
    """What fleet drift reads of a host: its tags and its entries' command, schedule, user and
    state."""
    compared = sorted(
        (e.id, e.user, e.schedule, e.command, e.disabled, e.paused is not None) for e in entries
    )
    return digest(facts.tags, compared)


class Dues(NamedTuple):
    """When a host's judgement can next say otherwise with nothing new stored: `host`, what
    judges every entry of it again (its own findings and its crontabs', its facts, the hour);
    `entries`, by entry id, what judges that entry again (its expected times, its history, its
    findings, a process of it running)."""

    host: Due
    entries: dict[str, Due]


def judge_due(
    facts: HostFacts,
    entries: Sequence[JobEntry],
    runs: Sequence[RunRecord],
    running: Sequence[RunningJob],
    findings: Iterable[Finding],
    policies: Sequence[Policy],
    since: datetime,
    now: datetime,
) -> Dues:
    """When a judgement of the host, at `now` over the window from `since` (our clock), can
    next say otherwise with nothing new stored; at once where any scan may (a host not
    answering, a maintenance window; an entry with a process running). `findings`: every one,
    under their hosts' too."""
    at_once = Due(now, since)
    everything = Dues(at_once, {entry.id: at_once for entry in entries})
    if facts.status != "ok" or facts.ok_at is None:
        return everything  # a silent host's findings run to each scan
    if any(policy.maintenance for policy in policies):
        return everything  # quiet spans open and close in the policy's own time
    ordered = sorted(runs, key=_STARTED)
    if _near(ordered, facts):
        return everything  # a start that a boot or a cron start a second on would explain
    skew = facts.clock_skew
    # Each occurrence of a finding leaves the window once it starts after it (host clock); an
    # expired pause is found while the entry is paused, from whenever its `until` was.
    starts: dict[str | None, list[datetime]] = defaultdict(list)
    turns: dict[str | None, list[datetime]] = defaultdict(list)
    for finding in findings:
        about = None if finding.kind in CRONTAB_KINDS else finding.entry_id
        if finding.kind != "pause_expired":
            starts[about].append(finding.first_at - skew)
        turns[about] += [turn for turn in _day_turns(finding, skew) if turn > now]
    by_entry: dict[str, list[RunRecord]] = defaultdict(list)
    for run in ordered:
        by_entry[run.entry_id or ""].append(run)
    busy = {process.entry_id for process in running}  # hung, overlap: as they are each scan
    evidence_end = facts.ok_at + skew
    dues: dict[str, Due] = {}
    for entry, policy in zip(entries, policies[1:], strict=True):
        if entry.id in busy:
            dues[entry.id] = at_once
            continue
        moments = _slots(entry, entry_zone(entry, facts), policy, evidence_end, skew)
        moments += turns[entry.id]
        pause = entry.paused
        if pause is not None and pause.until is not None and pause.until > now:
            moments.append(pause.until)  # our clock, as cronops stamped it; once, not after
        leaving = starts[entry.id] + _history(by_entry[entry.id], since + skew)
        dues[entry.id] = _due(moments, leaving, now)
    whole = now + at_least_every(facts.name)
    return Dues(_due([whole, *turns[None]], starts[None], now), dues)


def at_least_every(host: str) -> timedelta:
    """How long the host may go without being judged whole (JUDGED_AT_LEAST_EVERY, STAGGER):
    the same in every process (crc32, not hash(), whose seed changes)."""
    return JUDGED_AT_LEAST_EVERY - STAGGER * (zlib.crc32(host.encode()) % 1000 / 1000)


def _day_turns(finding: Finding, skew: timedelta) -> list[datetime]:
    """When a finding's words turn with the clock alone (ours): its latest occurrence, told
    without its date while within a day of the host's now (wording.Job.short), and a failing
    streak's start, told by its time while it is on today (wording.Job.day_or_time)."""
    turns = [finding.last_at + DAY - skew]
    since = finding.streak_since
    if since is not None:
        turns.append(datetime.combine(since.date() + DAY, time(), since.tzinfo) - skew)
    return turns


def _due(moments: Sequence[datetime], starts: Sequence[datetime], now: datetime) -> Due:
    """The earliest of the `moments` the clock reaches and of the `starts` a window passes,
    EARLY."""
    at = min(moments, default=now + JUDGED_AT_LEAST_EVERY)
    return Due(at - EARLY, min(starts, default=now) - EARLY)


def _slots(
    entry: JobEntry, zone: tzinfo, policy: Policy, evidence_end: datetime, skew: timedelta
) -> list[datetime]:
    """An expected time coming due (missed, or no longer the latest: analysis._due_count), and
    the next runs the lint reads: the next expected time after the evidence's end, and the
    first past its grace."""
    if split_schedule(entry.schedule) == [REBOOT]:
        return []
    grace = policy.grace
    after_end = next_time(entry.schedule, zone, _minute(evidence_end))
    in_grace = next_time(entry.schedule, zone, _minute(evidence_end - grace))
    moments = [after_end - skew] if after_end else []
    return moments + ([in_grace + grace - skew] if in_grace else [])


def _minute(moment: datetime) -> float:
    """The start of the minute `moment` is in, in POSIX seconds: cron runs on whole minutes, so
    the first run after any second of a minute is the first after its start, and next_time's
    cache then serves every host scanned in that minute (each host's evidence ends at its own
    second: two calls an entry, each a walk of the schedule, were a fifth of judging a host)."""
    stamp = moment.timestamp()
    return stamp - stamp % 60


def _history(runs: Sequence[RunRecord], window_start: datetime) -> list[datetime]:
    """Where a window's start is when the runs read before it (the job's own history, oldest
    first) lose one that counts. The judge reads runs from RUN_HISTORY before the window's
    start: a run leaves once the window starts RUN_HISTORY after it (its start as stored, the
    host's clock, is compared as read).
    Of many runs before the window only the oldest leave unnoticed: each run in the window is
    compared with up to NEIGHBOURS runs on each side (its duration, and its output's size).
    The first run of the failing streak that ends the history counts for itself."""
    from cronops.audit import RUN_HISTORY  # how far before the window the audit reads

    def leaving(run: RunRecord) -> datetime:
        return run.started_at + RUN_HISTORY

    if not runs:
        return []
    moments = [leaving(runs[_last_spare(runs, window_start)])]
    failing = next((i for i, run in enumerate(reversed(runs)) if not run.failed), len(runs))
    if failing:  # the failing streak's first run
        moments.append(leaving(runs[len(runs) - failing]))
    ended = [run for run in runs if run.ended_at is not None]
    if ended:
        moments.append(leaving(ended[_last_spare(ended, window_start)]))
    # Output sizes run from the first cron run whose output was seen: the sizes' oldest is the
    # oldest such run still read, and the runs before it go with it.
    cron = [run for run in runs if run.trigger == CRON]
    seen = [index for index, run in enumerate(cron) if run.output is not None]
    if seen:
        last_spare = _last_spare(cron, window_start)
        spare = [index for index in seen if index <= last_spare]
        moments.append(leaving(cron[spare[-1] if spare else seen[0]]))
    return moments


def _last_spare(history: Sequence[RunRecord], window_start: datetime) -> int:
    """The index of the latest run before the window whose leaving keeps RUNS_BEFORE_THAT_COUNT
    before the window (0: none, the oldest counts). `history` in start order."""
    before = bisect_left(history, window_start, key=_STARTED)
    return max(before - RUNS_BEFORE_THAT_COUNT, 0)


def _steady(moment: datetime | None) -> datetime | None:
    """A start measured to the second, kept to the minute it is in (shown as its middle),
    unless it is a whole minute: the judge compares it with expected times (whole minutes)
    and shows it to the minute, so a second more or less within a minute tells the same."""
    if moment is None or (moment.second == 0 and moment.microsecond == 0):
        return moment
    return moment.replace(second=30, microsecond=0)


def _near(runs: Sequence[RunRecord], facts: HostFacts) -> bool:
    """Whether a run (`runs` in start order) started within NEAR_START of the host's boot or
    its cron's start: the judge compares them to tell why a run did not happen (causes.py).
    Two bisections, not a look at each of a month of runs."""
    for moment in (facts.booted_at, facts.cron_started_at):
        if moment is not None:
            first = bisect_left(runs, moment - NEAR_START, key=_STARTED)
            if first < len(runs) and runs[first].started_at <= moment + NEAR_START:
                return True
    return False


def digest(*parts: object) -> str:
    """One fingerprint of these values (their repr)."""
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).hexdigest()
