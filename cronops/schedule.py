"""Expected run times of a cron schedule in its host's time zone: the only module that asks cronsim.

Validates schedules as vixie/Debian cron does (crontab.py shares `validate`) and lists their runs,
as datetimes for a person, or as POSIX seconds, fast and cached, for the judge (analysis.py).

cronsim matches the fields, not croniter: croniter runs a 02:30 job twice when the clock falls back
and ORs a `*/2` day-of-month with a day-of-week, where cron does neither. cronsim only walks the
wall clock here (its own DST fix-up merges gap matches and slips on half-hour shifts); each match
becomes run times by Debian cron.c's DST rules, which tests/test_schedule.py replays minute by minute.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from heapq import heappop, heappush
from itertools import islice

from cronsim import CronSim, CronSimError

REBOOT = "@reboot"
NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

_BLANKS = re.compile(r"[ \t]+")
_DIGITS = re.compile(r"[0-9]+")
_QUARTZ_LAST_OR_WEEKDAY = re.compile(r"[0-9]*L|LW|[0-9]+W", re.IGNORECASE)
_ONE_SECOND = timedelta(seconds=1)
_ONE_MINUTE = timedelta(minutes=1)
_ANY_START = datetime(2000, 1, 1, tzinfo=UTC)  # fixed: whether a schedule ever runs is timeless
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, MONTH_NAMES, name_base=1),
    # 7 is Sunday too, as in cron.
    _Field("day-of-week", 0, 7, DAY_NAMES),
)


class ScheduleError(ValueError):
    """A schedule cron would reject; the message says why in an operator's words."""


def split_schedule(schedule: str) -> list[str]:
    """The schedule's fields, split on the blanks cron splits on (spaces and tabs only)."""
    return [field for field in _BLANKS.split(schedule.strip(" \t")) if field]


@lru_cache(maxsize=4096)
def validate(schedule: str) -> str | None:
    """None if cron accepts the schedule, else a message saying what cron would reject.

    Cached: every crontab line is checked on every scan, and a fleet repeats a few dozen
    schedules thousands of times."""
    try:
        _parse(schedule)
    except ScheduleError as error:
        return str(error)
    return None


def expected_runs(schedule: str, zone: tzinfo, start: datetime, end: datetime) -> list[datetime]:
    """The runs in (start, end], as aware datetimes in `zone`, in order; @reboot has none.

    Daylight saving follows Debian cron. A fixed-time job (minute and hour fields not starting with
    `*`) runs once per wall-clock match: a match in a spring-forward gap runs at the end of the gap
    (one run per match), and a repeated fall-back hour runs it only the first time. A wildcard job
    follows real time: nothing in the gap, and every real minute that matches in a repeated hour.
    Compare the results in UTC: a time in a repeated hour never equals one in another zone.
    """
    plan = _compiled(schedule, zone)
    end = _aware(end, "end")
    runs = []
    for run in _forward(plan, _aware(start, "start")):
        if run > end:
            break
        runs.append(run)
    return runs


def next_runs(schedule: str, zone: tzinfo, after: datetime, count: int) -> list[datetime]:
    """The next `count` runs strictly after `after` (fewer if the schedule stops matching)."""
    return list(islice(_forward(_compiled(schedule, zone), _aware(after, "after")), count))


def never_runs(schedule: str) -> bool:
    """True when cron accepts the schedule but no date matches it ("0 0 31 2 *", "0 0 30 2 *"):
    cron keeps the line and never runs it. A schedule that matches at all matches within 28 years
    (the calendar's cycle) of any start, well inside the walk's 50."""
    return schedule != REBOOT and not next_runs(schedule, UTC, _ANY_START, 1)


def previous_run(schedule: str, zone: tzinfo, before: datetime) -> datetime | None:
    """The last run strictly before `before`, or None (@reboot, or no match in 50 years)."""
    return next(_backward(_compiled(schedule, zone), _aware(before, "before")), None)


def typical_interval(schedule: str, zone: tzinfo, around: datetime) -> timedelta | None:
    """The gap from the last run at or before `around` to the next distinct run after it."""
    plan = _compiled(schedule, zone)
    around = _aware(around, "around")
    # Cron runs on whole minutes, so a second past `around` includes a run exactly at `around`.
    anchor = next(_backward(plan, around + _ONE_SECOND), None)
    start = anchor.astimezone(UTC) - _ONE_SECOND if anchor else around
    runs = (run.astimezone(UTC) for run in _forward(plan, start))
    first = next(runs, None)
    following = next((run for run in runs if run != first), None)
    if first is None or following is None:
        return None
    return following - first


@lru_cache(maxsize=4096)
def describe(schedule: str) -> str:
    """Plain English for an operator ("At 03:00"); the schedule itself if it cannot be described.

    Cached: cron-descriptor takes ~50 µs, and a fleet repeats a few dozen schedules thousands
    of times."""
    # Imported here: cron-descriptor loads gettext and its locales, which a scan never needs.
    from cron_descriptor import ExpressionDescriptor, Options

    fields = split_schedule(schedule)
    if validate(schedule) is not None:
        return schedule
    if fields == [REBOOT]:
        return "At boot, when cron starts"
    expression = NICKNAMES.get(fields[0]) or " ".join(fields)
    options = Options()
    options.use_24hour_time_format = True
    try:
        text = ExpressionDescriptor(expression, options).get_description()
    except Exception:  # cron-descriptor raises many kinds; the raw schedule is always a fallback
        return schedule
    dom, dow = expression.split()[2], expression.split()[4]
    if _days_must_both_match(dom, dow):
        # cron-descriptor says "or" whenever day-of-month is not exactly "*", but `*/2` is ANDed.
        text = text.replace(", or on ", ", and only on ")
    return text


# -- the judge's fast path: POSIX seconds ------------------------------------------------------


class Schedules:
    """Expected times per (schedule, zone, window), computed once per judging and shared by the
    entries that have them in common (a fleet repeats a few dozen schedules thousands of times)."""

    def __init__(self) -> None:
        self._times: dict[tuple, tuple[float, ...] | None] = {}

    def times(
        self, schedule: str, zone: tzinfo, start: float, end: float
    ) -> tuple[float, ...] | None:
        """POSIX times in (start, end], in order; None for a schedule cron rejects."""
        key = (schedule, zone, start, end)
        if key not in self._times:
            self._times[key] = expected_times(schedule, zone, start, end)
        return self._times[key]


def expected_times(
    schedule: str, zone: tzinfo, start: float, end: float
) -> tuple[float, ...] | None:
    """expected_runs as POSIX seconds in (start, end]; None for a schedule cron rejects."""
    if validate(schedule) is not None:
        return None
    fast = _steady_day_times(schedule, zone, start, end)
    if fast is not None:
        return fast
    runs = expected_runs(schedule, zone, _utc(start), _utc(end))
    return tuple(run.timestamp() for run in runs)


@lru_cache(maxsize=16384)
def previous_time(schedule: str, zone: tzinfo, before: float) -> float | None:
    """previous_run as POSIX seconds; None for a schedule cron rejects."""
    if validate(schedule) is not None:
        return None
    run = previous_run(schedule, zone, _utc(before))
    return run.timestamp() if run else None


@lru_cache(maxsize=16384)
def next_time(schedule: str, zone: tzinfo, after: float) -> datetime | None:
    """The first run after `after` (POSIX seconds), in the zone; None when there is none."""
    if validate(schedule) is not None:
        return None
    runs = next_runs(schedule, zone, _utc(after), 1)
    return runs[0] if runs else None


@lru_cache(maxsize=16384)
def gap_at(schedule: str, zone: tzinfo, at: float) -> float | None:
    """typical_interval around `at` (POSIX seconds), in seconds; None for a schedule cron rejects
    or one that does not run twice."""
    if validate(schedule) is not None:
        return None
    gap = typical_interval(schedule, zone, _utc(at))
    return gap.total_seconds() if gap else None


def _steady_day_times(
    schedule: str, zone: tzinfo, start: float, end: float
) -> tuple[float, ...] | None:
    """Expected times without walking minute by minute; None where expected_runs must decide.

    expected_runs costs ~100 µs a run: a week of */5 for 10k entries would take minutes.
    On a day with one UTC offset throughout, a cron match is midnight plus its hour and minute;
    days with a clock change are left to expected_runs, whose DST rules are the reference.
    """
    expression = _compiled(schedule, zone).expression
    if expression is None:
        return ()  # @reboot
    days = _days(expression)
    if days is None:
        return None
    sim, offsets = days
    times: list[float] = []
    day = datetime.fromtimestamp(start, zone).date()
    last_day = datetime.fromtimestamp(end, zone).date()
    while day <= last_day:
        if day.month in sim.months and sim.match_day(day):
            day_times = _day_times(schedule, zone, day, offsets)  # in order
            if day_times and start < day_times[0] and day_times[-1] <= end:
                times += day_times  # a whole day of the window: no time of it is compared
            else:
                times += (t for t in day_times if start < t <= end)
        day += _DAY
    return tuple(times)


@lru_cache(maxsize=4096)
def _days(expression: str) -> tuple[CronSim, list[int]] | None:
    """cronsim's day matcher for the expression, and its times of day as seconds past midnight."""
    try:
        sim = CronSim(expression, datetime(2000, 1, 1))
    except CronSimError:
        return None
    offsets = [
        hour * 3600 + minute * 60 for hour in sorted(sim.hours) for minute in sorted(sim.minutes)
    ]
    return sim, offsets


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


def _utc(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


@dataclass(frozen=True)
class _Plan:
    expression: str | None  # five fields; None for @reboot, which has no run times
    wildcard: bool  # cron's MIN_STAR|HR_STAR: DST changes treat these jobs differently
    zone: tzinfo


@lru_cache(maxsize=4096)
def _compiled(schedule: str, zone: tzinfo) -> _Plan:
    fields = _parse(schedule)
    if fields == [REBOOT]:
        return _Plan(None, wildcard=False, zone=zone)
    if fields[0] in NICKNAMES:
        wildcard = fields[0] == "@hourly"
        return _Plan(NICKNAMES[fields[0]], wildcard=wildcard, zone=zone)
    wildcard = fields[0].startswith("*") or fields[1].startswith("*")
    return _Plan(_for_cronsim(fields), wildcard=wildcard, zone=zone)


def _for_cronsim(fields: list[str]) -> str:
    """The expression with one-value ranges written as that value.

    cronsim reads "5-5/10" as "5 to the end, every 10"; cron reads it as just 5.
    """
    return " ".join(
        ",".join(_one_value_range_as_value(element, field) for element in text.split(","))
        for text, field in zip(fields, _FIELDS, strict=True)
    )


def _one_value_range_as_value(element: str, field: _Field) -> str:
    base, slash, _ = element.partition("/")
    first, dash, last = base.partition("-")
    if slash and dash and _value(first, field, element) == _value(last, field, element):
        return first
    return element


def _parse(schedule: str) -> list[str]:
    fields = split_schedule(schedule)
    if not fields:
        raise ScheduleError("empty schedule")
    if fields[0].startswith("@"):
        _check_nickname(fields)
        return fields
    if len(fields) != len(_FIELDS):
        extra = " (cron has no seconds or year field)" if len(fields) > len(_FIELDS) else ""
        raise ScheduleError(f"expected 5 time fields, got {len(fields)}{extra}")
    for text, field in zip(fields, _FIELDS, strict=True):
        _check_field(text, field)
    return fields


def _check_nickname(fields: list[str]) -> None:
    known = [REBOOT, *NICKNAMES]
    if fields[0] not in known:
        raise ScheduleError(f"unknown nickname '{fields[0]}' (cron knows {', '.join(known)})")
    if len(fields) > 1:
        raise ScheduleError(f"'{fields[0]}' stands for all five time fields; nothing may follow")


def _check_field(text: str, field: _Field) -> None:
    for element in text.split(","):
        if not element:
            raise ScheduleError(f"bad {field.name} '{text}': empty list item")
        _check_element(element, field)


def _check_element(element: str, field: _Field) -> None:
    _reject_foreign_syntax(element, field)
    base, slash, step = element.partition("/")
    if slash and not (_DIGITS.fullmatch(step) and int(step) > 0):
        raise ScheduleError(f"bad {field.name} '{element}': the step must be a number above 0")
    if base == "*":
        return
    first, dash, last = base.partition("-")
    low = _value(first, field, element)
    if dash:
        high = _value(last, field, element)
        if high < low:
            # Sunday is 0 and 7; "fri-sun" reads naturally but is the range 5-0.
            hint = f" (write {first}-7)" if field is _FIELDS[-1] and high == 0 else ""
            raise ScheduleError(
                f"bad {field.name} '{element}': reversed range, which cron rejects or never "
                f"runs{hint}"
            )
    elif slash:
        raise ScheduleError(
            f"bad {field.name} '{element}': a step needs a range or '*' "
            f"(write {first}-{field.high}/{step})"
        )


def _reject_foreign_syntax(element: str, field: _Field) -> None:
    if "?" in element:
        raise ScheduleError(f"bad {field.name} '{element}': '?' is Quartz syntax, not cron")
    if "#" in element:
        raise ScheduleError(f"bad {field.name} '{element}': '#' (nth weekday) is not cron syntax")
    if "~" in element:
        raise ScheduleError(
            f"bad {field.name} '{element}': '~' (random) is cronie-only syntax; Debian cron "
            "rejects it and its run times cannot be predicted"
        )
    if _QUARTZ_LAST_OR_WEEKDAY.fullmatch(element):
        raise ScheduleError(
            f"bad {field.name} '{element}': 'L' (last) and 'W' (weekday) are not cron syntax"
        )


def _value(token: str, field: _Field, element: str) -> int:
    if _DIGITS.fullmatch(token):
        number = int(token)
        if not field.low <= number <= field.high:
            raise ScheduleError(
                f"bad {field.name} '{element}': {number} is outside {field.low}-{field.high}"
            )
        return number
    if token.lower() in field.names:
        return field.names.index(token.lower()) + field.name_base
    raise ScheduleError(f"bad {field.name} '{element}'")


def _days_must_both_match(dom: str, dow: str) -> bool:
    # cron ANDs the day fields when either starts with "*" (so "*/2" counts as "*"), else ORs them.
    return dom.startswith("*") or dow.startswith("*")


def _aware(moment: datetime, name: str) -> datetime:
    """`moment` in UTC, where comparisons are safe: within one zone they ignore `fold`."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {moment!r}")
    return moment.astimezone(UTC)


def _forward(plan: _Plan, after: datetime) -> Iterator[datetime]:
    """Runs strictly after `after` (UTC), in order, as aware datetimes in the plan's zone."""
    if plan.expression is None:
        return
    pending: list[datetime] = []  # a heap of UTC run times
    for wall in _cronsim(plan.expression, _walk_start(after, plan.zone, forward=True)):
        passes = _passes(wall, plan.zone)
        for run in _runs_at(wall, passes, plan):
            if run > after:
                heappush(pending, run)
        # No later wall-clock time runs before this one's earliest run, so those are final.
        earliest = passes[0] if passes[0] <= passes[1] else _gap_end(wall, plan.zone)
        while pending and pending[0] <= earliest:
            yield heappop(pending).astimezone(plan.zone)


def _backward(plan: _Plan, before: datetime) -> Iterator[datetime]:
    """Runs strictly before `before` (UTC), latest first, as aware datetimes in the plan's zone."""
    if plan.expression is None:
        return
    pending: list[tuple[float, datetime]] = []  # a heap of (-timestamp, UTC run time)
    walls = _cronsim(plan.expression, _walk_start(before, plan.zone, forward=False), reverse=True)
    for wall in walls:
        passes = _passes(wall, plan.zone)
        for run in _runs_at(wall, passes, plan):
            if run < before:
                heappush(pending, (-run.timestamp(), run))
        # No earlier wall-clock time runs after this one's latest possible run.
        latest = passes[1] if passes[0] <= passes[1] else _gap_end(wall, plan.zone)
        while pending and pending[0][1] >= latest:
            yield heappop(pending)[1].astimezone(plan.zone)


def _walk_start(moment: datetime, zone: tzinfo, forward: bool) -> datetime:
    """The wall-clock time to walk from, widened so no run in a repeated hour is skipped.

    Walking forward from the first pass of a repeated hour, wall times already passed come round
    again; walking back from its second pass, first-pass runs lie at later wall times.
    """
    local = moment.astimezone(zone)
    first, second = local.replace(fold=0).utcoffset(), local.replace(fold=1).utcoffset()
    assert first is not None and second is not None  # `local` is aware
    repeat = first - second
    wall = local.replace(tzinfo=None)
    if forward and not local.fold:
        return wall - repeat
    if not forward and local.fold:
        return wall + repeat
    return wall


def _passes(wall: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The UTC times the clock shows `wall` on its first and second pass.

    Equal on an ordinary day; first < second in a repeated hour; first > second in a
    spring-forward gap, where the clock never shows it.
    """
    local = wall.replace(tzinfo=zone)
    return local.astimezone(UTC), local.replace(fold=1).astimezone(UTC)


def _runs_at(wall: datetime, passes: tuple[datetime, datetime], plan: _Plan) -> list[datetime]:
    """The UTC run times of one matching wall-clock time, as Debian cron's DST handling has them.

    A fixed-time job runs once: the first time the clock shows it, or at the end of a
    spring-forward gap that skipped it. A wildcard job runs whenever the clock shows it: not at all
    in a gap, and twice in a repeated hour.
    """
    first, second = passes
    if first > second:
        return [] if plan.wildcard else [_gap_end(wall, plan.zone)]
    return [first, second] if plan.wildcard and first < second else [first]


def _gap_end(wall: datetime, zone: tzinfo) -> datetime:
    """The UTC time the clock lands on after the spring-forward gap that skipped `wall`."""
    first, second = _passes(wall, zone)
    while first > second:  # still in the gap: try the next wall-clock minute
        wall += _ONE_MINUTE
        first, second = _passes(wall, zone)
    return first


def _cronsim(expression: str, start: datetime, reverse: bool = False) -> Iterator[datetime]:
    """cronsim's matching wall-clock times from `start` (naive, exclusive)."""
    try:
        matches = CronSim(expression, start, reverse=reverse)
    except CronSimError:  # e.g. "0 0 30 2 *": cron accepts a day no month has and never runs it
        return
    while True:
        try:
            yield next(matches)
        except (StopIteration, OverflowError):  # no match in 50 years, or past year 9999
            return


# -- what crontab lint asks of a schedule ----------------------------------------------------

GAP = "gap"  # the clock jumps forward: these wall-clock times never show
REPEAT = "repeat"  # the clock falls back: these wall-clock times show twice
# How often the zone's offset is read: no zone changes it twice within six hours.
_OFFSET_STEP = timedelta(hours=6)


@lru_cache(maxsize=4096)  # lint asks it for every entry of every host a scan judges
def days_either(schedule: str) -> bool:
    """True when cron runs the schedule on days matching *either* day field: both day-of-month
    and day-of-week are restricted (neither starts with `*`), so `0 0 13 * 5` runs on every 13th
    and every Friday. Raises ScheduleError for a schedule cron rejects."""
    fields = _parse(schedule)
    return not fields[0].startswith("@") and not _days_must_both_match(fields[2], fields[4])


@dataclass(frozen=True)
class ClockShift:
    """A change of the zone's offset: the wall-clock span [start, end) it skips or repeats."""

    kind: str  # GAP or REPEAT
    start: datetime  # naive wall-clock times in the zone
    end: datetime
    before: timedelta  # the zone's offset before and after the change
    after: timedelta


@dataclass(frozen=True)
class ShiftedRun:
    """A wall-clock time a fixed-time schedule names inside a clock shift, and its runs."""

    shift: ClockShift
    wall: datetime  # naive: the time the schedule names
    runs: tuple[datetime, ...]  # when Debian cron runs it, aware, in the zone


@lru_cache(maxsize=4096)
def runs_in_clock_shifts(
    schedule: str, zone: tzinfo, start: datetime, end: datetime
) -> tuple[ShiftedRun, ...]:
    """A fixed-time job's matches in the skipped or repeated wall-clock spans of (start, end].

    Only fixed-time jobs (minute and hour not starting with `*`) are Debian cron's special case:
    one in a gap runs once when the clock lands after it, one in a repeated hour runs once, on
    the first pass. A wildcard job simply follows real time, so it has none here. Cached: a
    lint asks it for each entry with one window, and a fleet repeats its schedules."""
    plan = _compiled(schedule, zone)
    if plan.expression is None or plan.wildcard:
        return ()
    found = []
    for shift in clock_shifts(zone, start, end):
        for wall in _cronsim(plan.expression, shift.start - _ONE_MINUTE):
            if wall >= shift.end:
                break
            runs = _runs_at(wall, _passes(wall, zone), plan)
            found.append(ShiftedRun(shift, wall, tuple(run.astimezone(zone) for run in runs)))
    return tuple(found)


@lru_cache(maxsize=256)
def clock_shifts(zone: tzinfo, start: datetime, end: datetime) -> tuple[ClockShift, ...]:
    """The zone's offset changes between `start` and `end`, in order.

    The offset is read every six hours (~1,500 reads a year, ~4 ms) and each change found to
    the minute. Cached: a lint asks it once per entry with the same zone and window."""
    moment = _aware(start, "start").replace(minute=0, second=0, microsecond=0)
    end = _aware(end, "end")
    before = _offset(moment, zone)
    shifts = []
    while moment < end:
        after = _offset(moment + _OFFSET_STEP, zone)
        if after != before:
            shifts.append(_shift_within(zone, moment, before, after))
        moment, before = moment + _OFFSET_STEP, after
    return tuple(shifts)


def _offset(moment: datetime, zone: tzinfo) -> timedelta:
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None  # an aware time has an offset in any zone
    return offset


def _shift_within(
    zone: tzinfo, moment: datetime, before: timedelta, after: timedelta
) -> ClockShift:
    """The offset change within one step after `moment` (UTC), found to the minute by halving."""
    low, high = 0, _OFFSET_STEP // _ONE_MINUTE  # minutes on: the old offset at low, the new at high
    while high - low > 1:
        middle = (low + high) // 2
        if (moment + middle * _ONE_MINUTE).astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    change = (moment + high * _ONE_MINUTE).replace(tzinfo=None)
    first, second = sorted((change + before, change + after))
    return ClockShift(GAP if after > before else REPEAT, first, second, before, after)
