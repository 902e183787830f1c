"""Tests for cronops.schedule: run times as Debian cron keeps them, DST changes included.

Where Debian cron's behaviour is subtle, the test names say which rule of cron.c they pin.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from cronsim import CronSim
from hypothesis import given, settings
from hypothesis import strategies as st

from cronops.crontab import parse_crontab
from cronops.schedule import (
    GAP,
    REPEAT,
    ScheduleError,
    _steady_day_times,
    clock_shifts,
    days_either,
    describe,
    expected_runs,
    never_runs,
    next_runs,
    previous_run,
    runs_in_clock_shifts,
    typical_interval,
    validate,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
UTC_ZONE = ZoneInfo("UTC")


def at(zone: ZoneInfo, *fields: int, fold: int = 0) -> datetime:
    return datetime(*fields, tzinfo=zone, fold=fold)


def runs(schedule: str, zone: ZoneInfo, start: datetime, end: datetime) -> list[str]:
    """Run times as "MM-DD HH:MM+offset", so a wrong offset shows in the failure."""
    return [run.strftime("%m-%d %H:%M%z") for run in expected_runs(schedule, zone, start, end)]


# --- spring forward: the skipped hour ---------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day"),
    [(NEW_YORK, (2026, 3, 8)), (BERLIN, (2026, 3, 29))],
    ids=["new-york", "berlin"],
)
def test_fixed_time_job_in_the_gap_runs_once_right_after_it(zone: ZoneInfo, day: tuple) -> None:
    start, end = at(zone, *day), at(zone, *day, 12)
    (run,) = expected_runs("30 2 * * *", zone, start, end)
    assert (run.hour, run.minute) == (3, 0)
    assert run.utcoffset() == at(zone, *day, 4).utcoffset()  # already summer time


@pytest.mark.parametrize(
    ("zone", "day"),
    [(NEW_YORK, (2026, 3, 8)), (BERLIN, (2026, 3, 29))],
    ids=["new-york", "berlin"],
)
def test_each_gap_match_of_a_fixed_time_job_is_caught_up(zone: ZoneInfo, day: tuple) -> None:
    # cron.c steps through every skipped wall minute and runs each match, all after the gap.
    start, end = at(zone, *day), at(zone, *day, 12)
    gap_end = at(zone, *day, 3)
    assert expected_runs("0,30 2 * * *", zone, start, end) == [gap_end, gap_end]
    assert expected_runs("0 2,3 * * *", zone, start, end) == [gap_end, gap_end]


def test_wildcard_jobs_are_neither_caught_up_nor_doubled_in_the_gap() -> None:
    start, end = at(NEW_YORK, 2026, 3, 8, 1), at(NEW_YORK, 2026, 3, 8, 4)
    assert runs("*/30 * * * *", NEW_YORK, start, end) == [
        "03-08 01:30-0500",
        "03-08 03:00-0400",
        "03-08 03:30-0400",
        "03-08 04:00-0400",
    ]
    assert runs("30 * * * *", NEW_YORK, start, end) == ["03-08 01:30-0500", "03-08 03:30-0400"]
    # A wildcard minute in the skipped hour: nothing matches the wall clock that day.
    day = (at(NEW_YORK, 2026, 3, 8), at(NEW_YORK, 2026, 3, 9))
    assert runs("*/10 2 * * *", NEW_YORK, *day) == []


def test_berlin_spring_forward_hourly_and_daily() -> None:
    start, end = at(BERLIN, 2026, 3, 29, 0, 30), at(BERLIN, 2026, 3, 29, 4)
    assert runs("@hourly", BERLIN, start, end) == [
        "03-29 01:00+0100",
        "03-29 03:00+0200",
        "03-29 04:00+0200",
    ]
    assert runs("15 2 * * *", BERLIN, start, end) == ["03-29 03:00+0200"]


# --- fall back: the repeated hour ---------------------------------------------------------


def test_fixed_time_job_in_the_repeated_hour_runs_once() -> None:
    start, end = at(BERLIN, 2024, 10, 26, 12), at(BERLIN, 2024, 10, 28, 12)
    assert runs("30 2 * * *", BERLIN, start, end) == ["10-27 02:30+0200", "10-28 02:30+0100"]


def test_wildcard_job_follows_real_time_through_the_repeated_hour() -> None:
    start, end = at(BERLIN, 2024, 10, 27, 1, 45), at(BERLIN, 2024, 10, 27, 3, 10)
    assert runs("*/30 * * * *", BERLIN, start, end) == [
        "10-27 02:00+0200",
        "10-27 02:30+0200",
        "10-27 02:00+0100",
        "10-27 02:30+0100",
        "10-27 03:00+0100",
    ]


def utc(moment: datetime | None) -> datetime | None:
    """Times in one zone compare ignoring fold, so repeated-hour checks compare in UTC."""
    return moment.astimezone(UTC) if moment else None


def test_previous_and_next_run_from_inside_the_second_pass() -> None:
    second_pass = at(BERLIN, 2024, 10, 27, 2, 10, fold=1)  # 01:10 UTC
    first_pass_run = datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # 02:30 +02:00
    assert utc(previous_run("30 2 * * *", BERLIN, second_pass)) == first_pass_run
    assert next_runs("30 2 * * *", BERLIN, second_pass, 1) == [at(BERLIN, 2024, 10, 28, 2, 30)]
    second_pass_run = datetime(2024, 10, 27, 1, 0, tzinfo=UTC)  # 02:00 +01:00
    assert utc(previous_run("*/30 * * * *", BERLIN, second_pass)) == second_pass_run
    first_pass = at(BERLIN, 2024, 10, 27, 2, 40)
    assert [utc(run) for run in next_runs("*/30 * * * *", BERLIN, first_pass, 2)] == [
        second_pass_run,
        datetime(2024, 10, 27, 1, 30, tzinfo=UTC),
    ]


def test_previous_run_of_a_gap_job_is_the_catch_up() -> None:
    after_gap = at(BERLIN, 2026, 3, 29, 3, 0, 30)
    assert previous_run("30 2 * * *", BERLIN, after_gap) == at(BERLIN, 2026, 3, 29, 3)
    assert previous_run("30 2 * * *", BERLIN, at(BERLIN, 2026, 3, 29, 3)) == at(
        BERLIN, 2026, 3, 28, 2, 30
    )


# --- how the two libraries measure up ---------------------------------------------------


def test_croniter_breaks_the_rules_that_cronsim_keeps() -> None:
    """Why schedule.py wraps cronsim: croniter repeats the fall-back hour and ORs `*/2`."""
    repeated = croniter("30 2 * * *", at(BERLIN, 2024, 10, 27))
    assert [repeated.get_next(datetime).utcoffset() for _ in range(2)] == [
        timedelta(hours=2),
        timedelta(hours=1),  # the same 02:30 again, an hour later
    ]
    odd_mondays = croniter("0 0 */2 * 1", at(BERLIN, 2026, 1, 1))
    assert odd_mondays.get_next(datetime).date().isoformat() == "2026-01-03"  # a Saturday

    once = CronSim("30 2 * * *", at(BERLIN, 2024, 10, 27))
    assert next(once) == at(BERLIN, 2024, 10, 27, 2, 30)
    assert next(once) == at(BERLIN, 2024, 10, 28, 2, 30)
    assert next(CronSim("0 0 */2 * 1", at(BERLIN, 2026, 1, 1))) == at(BERLIN, 2026, 1, 5)
    # cronsim's own DST fix-up merges two gap matches; schedule.py keeps both, as cron does.
    merged = CronSim("0,30 2 * * *", at(BERLIN, 2026, 3, 29))
    assert [next(merged) for _ in range(2)] == [
        at(BERLIN, 2026, 3, 29, 3),
        at(BERLIN, 2026, 3, 30, 2),
    ]


# --- the day rule, nicknames, names ---------------------------------------------------------


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    january = (at(BERLIN, 2026, 1, 1), at(BERLIN, 2026, 1, 31))
    days = [run.day for run in expected_runs("0 0 1,15 * 1", BERLIN, *january)]
    assert days == [5, 12, 15, 19, 26]  # Jan 1 00:00 is the window's (exclusive) start


def test_a_step_on_star_counts_as_star_so_the_days_are_anded() -> None:
    spring = (at(BERLIN, 2026, 1, 1), at(BERLIN, 2026, 3, 31))
    days = [run.date().isoformat() for run in expected_runs("0 0 */2 * 1", BERLIN, *spring)]
    assert days == [
        "2026-01-05",
        "2026-01-19",
        "2026-02-09",
        "2026-02-23",
        "2026-03-09",
        "2026-03-23",
    ]
    odd_days = [run.day for run in expected_runs("0 0 */2 * *", BERLIN, *spring)][:4]
    assert odd_days == [3, 5, 7, 9]
    sunday_firsts = expected_runs("0 0 1 * */7", BERLIN, *spring)  # ANDed: a 1st that is a Sunday
    assert [run.date().isoformat() for run in sunday_firsts] == ["2026-02-01", "2026-03-01"]


@pytest.mark.parametrize(
    ("nickname", "expression"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_nicknames(nickname: str, expression: str) -> None:
    start = at(BERLIN, 2025, 12, 20)
    assert next_runs(nickname, BERLIN, start, 5) == next_runs(expression, BERLIN, start, 5)


def test_reboot_has_no_run_times() -> None:
    start, end = at(BERLIN, 2026, 1, 1), at(BERLIN, 2026, 2, 1)
    assert expected_runs("@reboot", BERLIN, start, end) == []
    assert next_runs("@reboot", BERLIN, start, 3) == []
    assert previous_run("@reboot", BERLIN, end) is None
    assert typical_interval("@reboot", BERLIN, end) is None


def test_month_and_day_names_in_any_case_and_sunday_as_7() -> None:
    start = at(UTC_ZONE, 2026, 1, 1)
    named = next_runs("0 9 * jan,JUL Mon-fri", UTC_ZONE, start, 30)
    assert named == next_runs("0 9 * 1,7 1-5", UTC_ZONE, start, 30)
    assert {run.month for run in named} == {1, 7}
    assert next_runs("0 0 * * 7", UTC_ZONE, start, 4) == next_runs(
        "0 0 * * sun", UTC_ZONE, start, 4
    )


# --- windows ------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", [TOKYO, LOS_ANGELES], ids=["tokyo", "los-angeles"])
def test_window_spanning_midnight_in_the_hosts_zone(zone: ZoneInfo) -> None:
    start, end = at(zone, 2026, 6, 1, 22, 0), at(zone, 2026, 6, 2, 2, 0)
    assert [run.strftime("%d %H:%M") for run in expected_runs("0 * * * *", zone, start, end)] == [
        "01 23:00",
        "02 00:00",
        "02 01:00",
        "02 02:00",  # the end is inclusive, the start exclusive
    ]
    (midnight,) = expected_runs("@daily", zone, start, end)
    assert midnight == at(zone, 2026, 6, 2)
    assert midnight.tzinfo is zone


def test_window_given_in_utc_is_judged_in_the_hosts_zone() -> None:
    start = datetime(2026, 6, 1, 12, tzinfo=UTC)
    (run,) = expected_runs("0 3 * * *", TOKYO, start, start + timedelta(days=1))
    assert run == at(TOKYO, 2026, 6, 2, 3) == datetime(2026, 6, 1, 18, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        expected_runs("* * * * *", BERLIN, datetime(2026, 1, 1), at(BERLIN, 2026, 1, 2))


def test_invalid_schedules_are_refused_with_crons_reason() -> None:
    with pytest.raises(ScheduleError, match="bad day-of-month 'L'"):
        next_runs("0 0 L * *", BERLIN, at(BERLIN, 2026, 1, 1), 1)


def test_schedule_cron_accepts_but_never_runs() -> None:
    start = at(BERLIN, 2026, 1, 1)
    assert next_runs("0 0 30 2 *", BERLIN, start, 1) == []
    assert previous_run("0 0 31 4 *", BERLIN, start) is None
    assert next_runs("0 0 29 2 *", BERLIN, start, 2) == [
        at(BERLIN, 2028, 2, 29),
        at(BERLIN, 2032, 2, 29),
    ]


def test_next_runs_and_previous_run() -> None:
    after = at(BERLIN, 2026, 1, 1, 10, 7)
    assert next_runs("*/5 * * * *", BERLIN, after, 3) == [
        at(BERLIN, 2026, 1, 1, 10, 10),
        at(BERLIN, 2026, 1, 1, 10, 15),
        at(BERLIN, 2026, 1, 1, 10, 20),
    ]
    assert previous_run("*/5 * * * *", BERLIN, after) == at(BERLIN, 2026, 1, 1, 10, 5)
    assert previous_run("*/5 * * * *", BERLIN, at(BERLIN, 2026, 1, 1, 10, 5)) == at(
        BERLIN, 2026, 1, 1, 10, 0
    )


def test_typical_interval() -> None:
    noon = at(BERLIN, 2026, 1, 7, 12)
    assert typical_interval("*/5 * * * *", BERLIN, noon) == timedelta(minutes=5)
    assert typical_interval("0 9,17 * * *", BERLIN, noon) == timedelta(hours=8)
    assert typical_interval("0 9,17 * * *", BERLIN, at(BERLIN, 2026, 1, 7, 17)) == timedelta(
        hours=16
    )
    assert typical_interval("@weekly", BERLIN, noon) == timedelta(days=7)
    assert typical_interval("0,30 2 * * *", BERLIN, at(BERLIN, 2026, 3, 29, 3)) == timedelta(
        hours=23
    )
    assert typical_interval("0 0 30 2 *", BERLIN, noon) is None


def test_parsed_schedules_are_cached_per_expression_and_zone() -> None:
    from cronops.schedule import _compiled

    start = at(BERLIN, 2026, 1, 1)
    next_runs("7 7 * * *", BERLIN, start, 1)
    hits = _compiled.cache_info().hits
    expected_runs("7 7 * * *", BERLIN, start, start + timedelta(days=2))
    assert _compiled.cache_info().hits == hits + 1


# --- validate and describe ------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    [
        "* * * * *",
        "*/5 * * * *",
        "0 9-17/2 * JAN-mar Mon-Fri",
        "5-55/10 * * * *",
        "09,39 * * * *",
        "0 0 * * 0-7",
        "0 0 1,15 * 1",
        "0\t3  * *\t*",
        "@reboot",
        "@annually",
        "0 0 31 2 *",
    ],
)
def test_validate_accepts_what_cron_accepts(schedule: str) -> None:
    assert validate(schedule) is None


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("", "empty schedule"),
        ("0 0 3 * * *", "expected 5 time fields, got 6 (cron has no seconds or year field)"),
        ("0 3 * *", "expected 5 time fields, got 4"),
        ("60 * * * *", "bad minute '60': 60 is outside 0-59"),
        ("0 24 * * *", "bad hour '24': 24 is outside 0-23"),
        ("0 0 0 * *", "bad day-of-month '0': 0 is outside 1-31"),
        ("0 0 * 13 *", "bad month '13': 13 is outside 1-12"),
        ("0 0 * * 8", "bad day-of-week '8': 8 is outside 0-7"),
        ("0 0 * january *", "bad month 'january'"),
        ("0 mon * * *", "bad hour 'mon'"),
        ("5/15 * * * *", "bad minute '5/15': a step needs a range or '*' (write 5-59/15)"),
        ("*/0 * * * *", "bad minute '*/0': the step must be a number above 0"),
        ("*/x * * * *", "bad minute '*/x': the step must be a number above 0"),
        ("1,,2 * * * *", "bad minute '1,,2': empty list item"),
        ("0 0 * * 5#2", "bad day-of-week '5#2': '#' (nth weekday) is not cron syntax"),
        ("0 0 ? * 1", "bad day-of-month '?': '?' is Quartz syntax, not cron"),
        ("0 0 L * *", "bad day-of-month 'L': 'L' (last) and 'W' (weekday) are not cron syntax"),
        ("0 0 15W * *", "'W' (weekday) are not cron syntax"),
        ("0 0 * * 5L", "'L' (last)"),
        ("~ * * * *", "'~' (random) is cronie-only syntax"),
        ("0 0 * * fri-sun", "reversed range, which cron rejects or never runs (write fri-7)"),
        ("30-10 * * * *", "bad minute '30-10': reversed range"),
        ("@Daily", "unknown nickname '@Daily'"),
        ("@every 5m", "unknown nickname '@every'"),
        ("@daily 5", "'@daily' stands for all five time fields; nothing may follow"),
    ],
)
def test_validate_says_why_cron_rejects(schedule: str, message: str) -> None:
    result = validate(schedule)
    assert result is not None and message in result


@pytest.mark.parametrize(
    ("schedule", "text"),
    [
        ("0 3 * * *", "At 03:00"),
        ("*/5 * * * *", "Every 5 minutes"),
        ("@daily", "At 00:00"),
        ("@reboot", "At boot, when cron starts"),
        ("0 0 1,15 * 1", "At 00:00, on day 1 and 15 of the month, or on Monday"),
        ("0 0 */2 * 1", "At 00:00, every 2 days, and only on Monday"),
        ("0 0 L * *", "0 0 L * *"),
    ],
)
def test_describe(schedule: str, text: str) -> None:
    assert describe(schedule) == text


# --- properties -----------------------------------------------------------------------------

FIELD_BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


@st.composite
def cron_field(draw: st.DrawFn, low: int, high: int) -> str:
    def element() -> str:
        kind = draw(st.sampled_from(["star", "step", "number", "range", "range-step"]))
        first = draw(st.integers(low, high))
        last = draw(st.integers(first, high))
        step = draw(st.integers(1, high - low + 1))
        return {
            "star": "*",
            "step": f"*/{step}",
            "number": str(first),
            "range": f"{first}-{last}",
            "range-step": f"{first}-{last}/{step}",
        }[kind]

    return ",".join(element() for _ in range(draw(st.integers(1, 3))))


CRON_EXPRESSIONS = st.tuples(*(cron_field(low, high) for low, high in FIELD_BOUNDS)).map(" ".join)


def cron_matcher(expression: str) -> Callable[[datetime], bool]:
    """Debian cron's find_jobs test, written out independently of the code under test."""
    fields = expression.split()
    sets = [expand(text, low, high) for text, (low, high) in zip(fields, FIELD_BOUNDS, strict=True)]
    minutes, hours, doms, months, dows = sets
    if 7 in dows:
        dows.add(0)
    both_days = fields[2].startswith("*") or fields[4].startswith("*")

    def matches(moment: datetime) -> bool:
        dom_hit, dow_hit = moment.day in doms, moment.isoweekday() % 7 in dows
        day_hit = dom_hit and dow_hit if both_days else dom_hit or dow_hit
        return (
            moment.minute in minutes and moment.hour in hours and moment.month in months and day_hit
        )

    return matches


def expand(text: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for element in text.split(","):
        base, _, step = element.partition("/")
        first, _, last = (f"{low}-{high}" if base == "*" else base).partition("-")
        values.update(range(int(first), int(last or first) + 1, int(step or 1)))
    return values


@settings(max_examples=100, deadline=None)
@given(CRON_EXPRESSIONS, st.integers(0, 365 * 3))
def test_runs_match_a_minute_by_minute_check(expression: str, day: int) -> None:
    assert validate(expression) is None
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=day)
    end = start + timedelta(days=2)
    minutes = (start + timedelta(minutes=n) for n in range(1, 2 * 24 * 60 + 1))
    matches = cron_matcher(expression)
    assert expected_runs(expression, UTC_ZONE, start, end) == [
        moment.astimezone(UTC_ZONE) for moment in minutes if matches(moment)
    ]


GARBAGE_FIELD = st.text(st.sampled_from(list("0123456789*/-,LW?~@amonjulSUN")), min_size=1)
FIVE_FIELDS = st.one_of(
    CRON_EXPRESSIONS,
    st.lists(st.one_of(GARBAGE_FIELD, cron_field(0, 59)), min_size=5, max_size=5).map(" ".join),
).filter(lambda schedule: schedule[0] not in "-@")


@given(FIVE_FIELDS)
def test_crontab_parser_and_validate_agree(schedule: str) -> None:
    crontab = parse_crontab(f"{schedule} /bin/job\n", host="h", source="/x", kind="user")
    message = validate(schedule)
    if message is None:
        assert [entry.schedule for entry in crontab.entries] == [schedule]
        assert crontab.problems == []
    else:
        assert [problem.message for problem in crontab.problems] == [message]
        assert crontab.entries == []


DST_CHANGES = [
    (BERLIN, (2026, 3, 28)),
    (BERLIN, (2024, 10, 26)),
    (NEW_YORK, (2026, 3, 7)),
    (NEW_YORK, (2026, 10, 31)),
    (ZoneInfo("Australia/Lord_Howe"), (2026, 4, 4)),  # half-hour changes
    (ZoneInfo("Australia/Lord_Howe"), (2026, 10, 3)),
    (ZoneInfo("America/Santiago"), (2026, 4, 4)),  # changes at midnight
    (ZoneInfo("America/Santiago"), (2026, 9, 5)),
]
DST_EXPRESSIONS = st.tuples(
    st.one_of(st.sampled_from(["0", "30", "*", "*/15", "0-59/20"]), cron_field(0, 59)),
    st.one_of(
        st.sampled_from(["0", "1", "2", "3", "2,3", "1-3", "*", "*/2", "0-23"]), cron_field(0, 23)
    ),
    st.one_of(st.just("*"), cron_field(1, 31)),
    st.just("*"),
    st.one_of(st.just("*"), cron_field(0, 7)),
).map(" ".join)


def debian_cron_runs(expression: str, zone: ZoneInfo, start: datetime, end: datetime) -> list:
    """Replays Debian cron.c's main loop minute by minute: virtual wall clock and all four cases."""
    fields = expression.split()
    matches = cron_matcher(expression)
    wildcard = fields[0].startswith("*") or fields[1].startswith("*")
    minute = timedelta(minutes=1)

    def wall(instant: datetime) -> datetime:
        return instant.astimezone(zone).replace(tzinfo=None)

    runs, virtual, instant = [], wall(start), start
    while instant < end:
        instant += minute
        running = wall(instant)
        difference = (running - virtual) // minute
        if 0 < difference <= 5:  # on time, or woke up a little late: every minute, every job
            while virtual < running:
                virtual += minute
                runs += [instant] * matches(virtual)
        elif 5 < difference <= 180:  # spring forward: wildcard jobs now, fixed ones caught up
            runs += [instant] * (wildcard and matches(running))
            while virtual < running:
                virtual += minute
                runs += [instant] * (not wildcard and matches(virtual))
        elif -180 <= difference <= 0:  # fall back: wildcard jobs only, until caught up
            runs += [instant] * (wildcard and matches(running))
        else:
            virtual = running
            runs += [instant] * matches(running)
    return runs


@settings(max_examples=150, deadline=None)
@given(DST_EXPRESSIONS, st.sampled_from(DST_CHANGES))
def test_runs_match_a_replay_of_debian_cron_across_dst_changes(
    expression: str, change: tuple[ZoneInfo, tuple[int, int, int]]
) -> None:
    zone, day = change
    start = at(zone, *day, 12).astimezone(UTC)
    end = start + timedelta(hours=36)
    ours = [run.astimezone(UTC) for run in expected_runs(expression, zone, start, end)]
    assert ours == debian_cron_runs(expression, zone, start, end)


@settings(max_examples=150, deadline=None)
@given(DST_EXPRESSIONS, st.sampled_from(DST_CHANGES), st.integers(1, 36 * 60 - 1))
def test_next_and_previous_agree_with_the_replay(
    expression: str, change: tuple[ZoneInfo, tuple[int, int, int]], minutes: int
) -> None:
    zone, day = change
    start = at(zone, *day, 12).astimezone(UTC)
    replay = debian_cron_runs(expression, zone, start, start + timedelta(hours=36))
    moment = start + timedelta(minutes=minutes, seconds=30)
    before = [run for run in replay if run < moment]
    after = [run for run in replay if run > moment][:3]
    # An ambiguous local time never equals a UTC one (PEP 495): compare in UTC.
    if before:
        previous = previous_run(expression, zone, moment)
        assert previous is not None and previous.astimezone(UTC) == before[-1]
    if len(after) == 3:
        assert [run.astimezone(UTC) for run in next_runs(expression, zone, moment, 3)] == after


@pytest.mark.parametrize(
    ("schedule", "never"),
    [
        ("0 0 31 2 *", True),  # cron accepts a day no February has
        ("0 0 30 2 *", True),
        ("0 0 31 4,6,9,11 *", True),
        ("0 0 29 2 *", False),  # leap years only: 2028
        ("0 0 31 2 1", False),  # day of month or day of week: Mondays in February
        ("0 0 31 */2 *", False),  # January, March... have a 31st
        ("@yearly", False),
        ("@reboot", False),  # runs at boot, not by the calendar
        ("* * * * *", False),
    ],
)
def test_a_schedule_that_matches_no_date_never_runs(schedule: str, never: bool) -> None:
    assert never_runs(schedule) is never


# --- what lint asks: the either-day rule and the clock's shifts ------------------------------


@pytest.mark.parametrize(
    ("schedule", "either"),
    [
        ("0 0 13 * 5", True),
        ("0 0 1,15 * mon", True),
        ("0 0 1-7 * 1", True),
        ("0 0 */2 * 5", False),  # a field starting with "*" is unrestricted to cron
        ("0 0 13 * *", False),
        ("0 0 * * 5", False),
        ("@weekly", False),
        ("@reboot", False),
    ],
)
def test_days_either_follows_crons_star_rule(schedule: str, either: bool) -> None:
    assert days_either(schedule) is either


def test_days_either_refuses_what_cron_rejects() -> None:
    with pytest.raises(ScheduleError):
        days_either("0 0 32 * 5")


YEAR_2026 = (at(UTC_ZONE, 2026, 1, 1), at(UTC_ZONE, 2027, 1, 1))


@pytest.mark.parametrize(
    ("zone", "shifts"),
    [
        (BERLIN, [(GAP, "03-29 02:00", "03:00"), (REPEAT, "10-25 02:00", "03:00")]),
        (NEW_YORK, [(GAP, "03-08 02:00", "03:00"), (REPEAT, "11-01 01:00", "02:00")]),
        # Lord Howe moves its clock by half an hour
        (
            ZoneInfo("Australia/Lord_Howe"),
            [(REPEAT, "04-05 01:30", "02:00"), (GAP, "10-04 02:00", "02:30")],
        ),
        (TOKYO, []),
    ],
    ids=["berlin", "new-york", "lord-howe", "tokyo"],
)
def test_clock_shifts_in_a_year(zone: ZoneInfo, shifts: list) -> None:
    found = clock_shifts(zone, *YEAR_2026)
    assert [(s.kind, f"{s.start:%m-%d %H:%M}", f"{s.end:%H:%M}") for s in found] == shifts


def test_a_fixed_time_in_the_shifts_runs_as_debian_cron_runs_it() -> None:
    gap, repeat = runs_in_clock_shifts("30 2 * * *", BERLIN, *YEAR_2026)
    assert (gap.shift.kind, f"{gap.wall:%m-%d %H:%M}") == (GAP, "03-29 02:30")
    assert [run.strftime("%H:%M%z") for run in gap.runs] == ["03:00+0200"]
    assert (repeat.shift.kind, f"{repeat.wall:%m-%d %H:%M}") == (REPEAT, "10-25 02:30")
    assert [run.strftime("%H:%M%z") for run in repeat.runs] == ["02:30+0200"]  # the first pass
    # the same as the expected runs of those days
    for shifted in (gap, repeat):
        day = shifted.wall.replace(hour=0, minute=0, tzinfo=BERLIN)
        assert list(shifted.runs) == expected_runs(
            "30 2 * * *", BERLIN, day, day + timedelta(days=1)
        )


@pytest.mark.parametrize(
    "schedule", ["*/10 2 * * *", "30 * * * *", "@hourly", "30 3 * * *", "@reboot"]
)
def test_no_shifted_runs_for_wildcard_jobs_or_times_outside_the_shifts(schedule: str) -> None:
    assert runs_in_clock_shifts(schedule, BERLIN, *YEAR_2026) == ()


# -- the judge's fast path ---------------------------------------------------------------------

ZONES = [
    ZoneInfo(name)
    for name in ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
]
FIELD = st.sampled_from(["*", "*/5", "*/7", "0", "30", "15,45", "1-3", "10-40", "2"])
HOURS = st.sampled_from(["*", "*/3", "0", "1", "2", "3", "1-3", "2,14", "23"])
DAYS = st.sampled_from(["*", "*/2", "1", "15", "31", "1-7"])
MONTHS = st.sampled_from(["*", "3", "10", "mar-oct", "*/2"])
WEEKDAYS = st.sampled_from(["*", "0", "7", "sun", "1-5", "mon,fri"])
DST_STARTS = [
    datetime(2024, 3, 29, tzinfo=UTC),
    datetime(2024, 10, 25, tzinfo=UTC),
    datetime(2024, 4, 5, tzinfo=UTC),
]


@settings(max_examples=150, deadline=None)
@given(
    minute=FIELD,
    hour=HOURS,
    dom=DAYS,
    month=MONTHS,
    dow=WEEKDAYS,
    zone=st.sampled_from(ZONES),
    start=st.sampled_from(DST_STARTS),
    offset=st.integers(0, 86400),
)
def test_the_steady_day_shortcut_matches_schedule_expected_runs(
    minute, hour, dom, month, dow, zone, start, offset
):
    schedule = f"{minute} {hour} {dom} {month} {dow}"
    low = start.timestamp() + offset
    high = low + 4 * 86400
    fast = _steady_day_times(schedule, zone, low, high)
    slow = expected_runs(
        schedule, zone, datetime.fromtimestamp(low, UTC), datetime.fromtimestamp(high, UTC)
    )
    assert fast is not None
    assert list(fast) == [r.timestamp() for r in slow]
