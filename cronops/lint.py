"""Crontab lint: what in a host's crontabs makes cron do something else than it seems to say.

Pure: the host's crontabs as stored, its zone, its cron family and the time in; notes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import PurePosixPath
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronops.crontab import (
    NO_FINAL_NEWLINE,
    Crontab,
    Entry,
    StoredCrontab,
    command_lookup,
    cron_d_file_ignored,
    split_percent,
)
from cronops.records import copied
from cronops.schedule import (
    GAP,
    REPEAT,
    ShiftedRun,
    days_either,
    next_runs,
    runs_in_clock_shifts,
    split_schedule,
)

REJECTED = "rejected"
NO_NEWLINE = "no-final-newline"
IGNORED_FILE = "ignored-file"
DAYS_EITHER = "days-either"
DST_GAP = "dst-gap"
DST_REPEAT = "dst-repeat"
PERCENT = "percent"
CRON_TZ_IGNORED = "cron-tz-ignored"
NOT_ON_PATH = "not-on-path"
RULES = {
    REJECTED: "a line cron rejects: Debian cron then ignores the whole file",
    NO_NEWLINE: "no newline at the end of the file",
    IGNORED_FILE: "an /etc/cron.d file whose name cron never reads",
    DAYS_EITHER: "day of month and day of week both restricted: cron runs on either",
    DST_GAP: "a fixed-time job in the hour the clock skips",
    DST_REPEAT: "a fixed-time job in the hour the clock repeats",
    PERCENT: "an unescaped % cuts the command and feeds the rest to it as input",
    CRON_TZ_IGNORED: "CRON_TZ for a cron that ignores it",
    NOT_ON_PATH: "a command the host does not have on cron's PATH",
}

# The cron families (as the log parsers name them) that run every job in the host's zone and
# only pass CRON_TZ to the job's environment; cronie alone schedules by it.
IGNORE_CRON_TZ = {"debian": "Debian cron", "busybox": "busybox crond"}
CRONIE = "cronie"
# What cron does in a DST change is Debian's and cronie's rule (cron.c); busybox's differs.
BUSYBOX = "busybox"
CRON_D = PurePosixPath("/etc/cron.d")
HORIZON = timedelta(days=366)  # how far ahead DST changes are looked for
NEXT_DATES = 5


@dataclass(frozen=True)
class LintNote:
    host: str
    path: str
    line: int | None  # None: about the whole file
    rule: str  # a key of RULES
    message: str  # what cron does, for an operator
    text: str = ""  # the line as written
    entry_id: str | None = None
    dates: tuple[datetime, ...] = ()  # the runs the note speaks of, in the job's zone


def lint_host(
    crontabs: Iterable[StoredCrontab],
    zone: tzinfo,
    family: str | None,
    now: datetime,
    on_path: Mapping[tuple[str, str], bool] | None = None,
) -> list[LintNote]:
    """Every note on one host's crontabs, by file and line. `family` is debian, cronie, busybox,
    or None when unknown (then nothing is said that depends on it). `on_path`: (PATH, command)
    -> whether the host's last scan found the command there (crontab.command_lookup); a
    command it did not look up is not judged."""
    lookups = frozenset((on_path or {}).items())
    notes: list[LintNote] = []
    for stored in crontabs:
        if stored.text is None:
            continue
        kept = copied(stored, seen_at=None, mtime=None)  # what lint reads of it, as the key
        for part in _linted(kept, zone, family, lookups):
            if isinstance(part, _Timed):
                notes += _timed_notes(part, family, now)
            else:
                notes.append(part)
    return sorted(notes, key=lambda note: (note.path, note.line or 0))


class _Timed(NamedTuple):
    """An entry whose notes depend on the time they are made at: its next dates on either day
    field, the clock's next shifts in its zone."""

    entry: Entry
    zone: tzinfo
    days_either: bool


# A judge lints each host's crontabs every time it judges the host, and they seldom change:
# what a file says whatever the time is kept by what lint reads of it (sized for a fleet's
# files), and only the timed notes are made again.
@lru_cache(maxsize=16384)
def _linted(
    stored: StoredCrontab,
    zone: tzinfo,
    family: str | None,
    on_path: frozenset[tuple[tuple[str, str], bool]],
) -> tuple[LintNote | _Timed, ...]:
    """One crontab's notes in order, an entry's timed ones left to make (_Timed)."""
    path = PurePosixPath(stored.path)
    if path.parent == CRON_D and cron_d_file_ignored(path.name) and family != CRONIE:
        return (_ignored_file(stored),)
    crontab = stored.parsed()
    looked_up = dict(on_path)
    parts: list[LintNote | _Timed] = [*_file_notes(crontab)]
    if family in IGNORE_CRON_TZ:
        parts += _cron_tz_ignored(crontab, zone, family)
    for entry in crontab.entries:
        if not entry.disabled:
            parts += _entry_notes(entry, _zone_of(entry, zone, family), family)
            parts += _not_on_path(entry, looked_up)
    return tuple(parts)


def _ignored_file(stored: StoredCrontab) -> LintNote:
    jobs = len([e for e in stored.parsed().entries if not e.disabled])
    never = f": its {jobs} jobs never run" if jobs > 1 else ": its job never runs" if jobs else ""
    return LintNote(
        stored.host,
        stored.path,
        None,
        IGNORED_FILE,
        "cron never reads this file (in /etc/cron.d Debian cron, like run-parts, takes only "
        f"names made of letters, digits, '_' and '-'){never}",
    )


def _file_notes(crontab: Crontab) -> list[LintNote]:
    """The lines cron rejects, and a file that does not end in a newline."""
    last = crontab.text.count("\n") + 1
    unterminated = not crontab.text.endswith("\n") and bool(crontab.text)
    notes = []
    for problem in crontab.problems:
        if problem.message == NO_FINAL_NEWLINE:
            rule, message = NO_NEWLINE, problem.message
        else:
            rule, message = REJECTED, f"{problem.message}; Debian cron ignores the whole file"
        notes.append(
            LintNote(crontab.host, crontab.source, problem.line, rule, message, problem.text)
        )
    if unterminated and not any(problem.line == last for problem in crontab.problems):
        notes.append(
            LintNote(
                crontab.host,
                crontab.source,
                last,
                NO_NEWLINE,
                "no newline at the end of the file: cron takes a last comment or blank line "
                "as it is, but a line later appended to the file (echo >>) would join it",
                crontab.text.rsplit("\n", 1)[-1],
            )
        )
    return notes


def _cron_tz_ignored(crontab: Crontab, zone: tzinfo, family: str) -> list[LintNote]:
    return [
        LintNote(
            crontab.host,
            crontab.source,
            setting.line,
            CRON_TZ_IGNORED,
            f"{IGNORE_CRON_TZ[family]} ignores CRON_TZ: the jobs below it run in the host's zone "
            f"({_zone_name(zone)}), and CRON_TZ only lands in their environment",
            setting.text,
        )
        for setting in crontab.settings
        if setting.name == "CRON_TZ"
    ]


def _entry_notes(entry: Entry, zone: tzinfo, family: str | None) -> list[LintNote | _Timed]:
    notes: list[LintNote | _Timed] = []
    if split_percent(entry.command)[1] is not None:
        notes.append(_percent(entry))
    if entry.is_reboot:
        return notes
    either = days_either(entry.schedule)
    if either or family != BUSYBOX:
        notes.append(_Timed(entry, zone, either))
    return notes


def _timed_notes(timed: _Timed, family: str | None, now: datetime) -> list[LintNote]:
    notes = []
    if timed.days_either:
        notes.append(_days_either(timed.entry, timed.zone, now))
    if family != BUSYBOX:
        notes += _clock_shifts(timed.entry, timed.zone, now)
    return notes


def _not_on_path(entry: Entry, on_path: Mapping[tuple[str, str], bool]) -> list[LintNote]:
    lookup = command_lookup(entry.command, entry.env_dict)
    if lookup is None or on_path.get(lookup) is not False:
        return []
    path, command = lookup
    where = "the crontab's PATH" if "PATH" in entry.env_dict else "cron's default PATH"
    return [
        _note(
            entry,
            NOT_ON_PATH,
            f"cron's shell finds no {command!r} in {where} ({path}), as the last scan looked it "
            "up on the host: the job fails with 'not found' every time (give its full path, "
            "or set PATH= above it)",
        )
    ]


def _percent(entry: Entry) -> LintNote:
    command, given = split_percent(entry.command)
    return _note(
        entry,
        PERCENT,
        f"an unescaped % ends the command: cron runs {command!r} and writes {given!r} to its "
        "input (each further % a newline); write \\% for a % the command should see",
    )


def _days_either(entry: Entry, zone: tzinfo, now: datetime) -> LintNote:
    message, runs = _days_either_said(entry.schedule, zone, now)
    return _note(entry, DAYS_EITHER, message, runs)


# The timed notes' words and dates depend only on the schedule, the zone and the time they
# are made at: one judgement makes them for every host holding the same entries (a fleet's
# crontabs are mostly the same few), and the words cost more than finding the dates.
@lru_cache(maxsize=1024)
def _days_either_said(
    schedule: str, zone: tzinfo, now: datetime
) -> tuple[str, tuple[datetime, ...]]:
    fields = split_schedule(schedule)
    runs = tuple(next_runs(schedule, zone, now, NEXT_DATES))
    dates = ", ".join(f"{run:%a %Y-%m-%d}" for run in runs) or "none"
    return (
        f"day of month ({fields[2]}) and day of week ({fields[4]}) are both restricted, so cron "
        f"runs it on days matching either one, not only on days matching both: next {dates}",
        runs,
    )


def _clock_shifts(entry: Entry, zone: tzinfo, now: datetime) -> list[LintNote]:
    return [
        _note(entry, rule, message, runs)
        for rule, message, runs in _clock_shifts_said(entry.schedule, zone, now)
    ]


@lru_cache(maxsize=1024)
def _clock_shifts_said(
    schedule: str, zone: tzinfo, now: datetime
) -> tuple[tuple[str, str, tuple[datetime, ...]], ...]:
    """The next gap and the next repeated hour (within a year) the fixed time falls in: each
    note's rule, words and dates."""
    shifted = runs_in_clock_shifts(schedule, zone, now, now + HORIZON)
    said = []
    for kind in (GAP, REPEAT):
        of_kind = [run for run in shifted if run.shift.kind == kind]
        if of_kind:
            first = [run for run in of_kind if run.shift == of_kind[0].shift]
            said.append(_clock_shift(zone, first))
    return tuple(said)


def _clock_shift(zone: tzinfo, shifted: list[ShiftedRun]) -> tuple[str, str, tuple[datetime, ...]]:
    shift = shifted[0].shift
    span = f"{shift.start:%H:%M}-{shift.end:%H:%M}"
    walls = " and ".join(f"{run.wall:%H:%M}" for run in shifted)
    runs = tuple(run for item in shifted for run in item.runs)
    day = f"on {shift.start:%a %Y-%m-%d} the clock in {_zone_name(zone)}"
    if shift.kind == GAP:
        rule = DST_GAP
        message = (
            f"{day} skips {span}, so {walls} never comes: cron (Debian, cronie) runs it at "
            f"{runs[0]:%H:%M %Z} instead, once the clock has jumped"
        )
    else:
        rule = DST_REPEAT
        again = shifted[0].wall.replace(tzinfo=zone, fold=1)
        message = (
            f"{day} shows {span} twice, so {walls} comes twice: cron (Debian, cronie) runs it "
            f"once, the first time ({runs[0]:%H:%M %Z}), not again at {again:%H:%M %Z}"
        )
    return rule, message, runs


def _note(entry: Entry, rule: str, message: str, dates: tuple[datetime, ...] = ()) -> LintNote:
    return LintNote(
        entry.host, entry.source, entry.line, rule, message, entry.text, entry.id, dates
    )


def _zone_of(entry: Entry, host_zone: tzinfo, family: str | None) -> tzinfo:
    """The zone cron schedules the entry in: cronie's CRON_TZ when set and known, else the host's."""
    if family == CRONIE and entry.cron_tz:
        try:
            return ZoneInfo(entry.cron_tz)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return host_zone


def _zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)
