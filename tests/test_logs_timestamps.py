"""Timestamps of cron logs: year-less placement around New Year, offsets, fractions, DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cronops.logs import ClockContext, parse_lines
from cronops.logs.timestamps import Clock, epoch_micros

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def clock(now: datetime, zone: ZoneInfo = BERLIN) -> Clock:
    return Clock(ClockContext(zone, now))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_syslog_stamp_is_host_local_and_returned_in_utc():
    assert clock(datetime(2026, 11, 3, tzinfo=BERLIN)).syslog("Nov  2 04:17:01") == utc(
        2026, 11, 2, 3, 17, 1
    )


def test_a_december_line_read_on_new_years_day_is_last_year():
    on_new_year = clock(datetime(2026, 1, 1, 0, 5, tzinfo=BERLIN))
    assert on_new_year.syslog("Dec 31 23:59:01") == utc(2025, 12, 31, 22, 59, 1)
    assert on_new_year.syslog("Jan  1 00:01:01") == utc(2025, 12, 31, 23, 1, 1)


def test_a_line_slightly_ahead_of_the_host_clock_stays_in_the_coming_year():
    # the host's clock read a few seconds before midnight, the log line was written just after
    late = clock(datetime(2025, 12, 31, 23, 59, 58, tzinfo=BERLIN))
    assert late.syslog("Jan  1 00:00:01") == utc(2025, 12, 31, 23, 0, 1)


def test_a_date_more_than_a_day_ahead_is_last_year():
    assert clock(datetime(2026, 3, 10, tzinfo=BERLIN)).syslog("Mar 12 10:00:00").year == 2025


def test_february_29_goes_to_the_last_leap_year():
    assert clock(datetime(2026, 3, 1, tzinfo=BERLIN)).syslog("Feb 29 12:00:00").year == 2024


@pytest.mark.parametrize("stamp", ["Feb 30 12:00:00", "Foo  2 04:17:01", "Nov  2 25:17:01"])
def test_impossible_dates_are_none(stamp):
    assert clock(datetime(2026, 11, 3, tzinfo=BERLIN)).syslog(stamp) is None


@pytest.mark.parametrize("stamp", ["Nov  2 04:17:01", "Nov 2 04:17:01", "Nov 02 04:17:01"])
def test_day_padding_variants(stamp):
    assert clock(datetime(2026, 11, 3, tzinfo=BERLIN)).syslog(stamp) == utc(2026, 11, 2, 3, 17, 1)


def test_a_leap_second_as_the_first_stamp_of_its_hour():
    host = clock(datetime(2026, 11, 3, tzinfo=BERLIN))
    assert host.syslog("Jun 30 01:59:60") == utc(2026, 6, 30, 0, 0, 0)
    assert host.syslog("Jun 30 01:59:59") == utc(2026, 6, 29, 23, 59, 59)
    assert host.syslog("Jun 30 01:59:61") is None


def test_fractional_seconds_on_the_traditional_form():
    at = clock(datetime(2026, 11, 3, tzinfo=BERLIN)).syslog("Nov  2 04:17:01.123456")
    assert at == utc(2026, 11, 2, 3, 17, 1, 123456)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-22T09:43:01.622592-05:00", utc(2026, 11, 22, 14, 43, 1, 622592)),
        ("2026-11-22T09:43:01+0100", utc(2026, 11, 22, 8, 43, 1)),
        ("2026-11-22T09:43:01Z", utc(2026, 11, 22, 9, 43, 1)),
        ("2026-11-22T09:43:01.5Z", utc(2026, 11, 22, 9, 43, 1, 500000)),
        ("2026-11-22T09:43:01,25+01:00", utc(2026, 11, 22, 8, 43, 1, 250000)),
        ("2026-11-22T09:43:01.123456789+00:00", utc(2026, 11, 22, 9, 43, 1, 123456)),
        ("2026-11-22T09:43:01", utc(2026, 11, 22, 8, 43, 1)),  # no offset: the host's zone
        ("2026-11-22 09:43:01", utc(2026, 11, 22, 8, 43, 1)),
    ],
)
def test_iso_stamps(stamp, expected):
    assert clock(datetime(2026, 11, 23, tzinfo=BERLIN)).iso(stamp) == expected


def test_iso_stamps_repeat_their_second_from_the_cache():
    host = clock(datetime(2026, 11, 23, tzinfo=BERLIN))
    first = host.iso("2026-11-22T09:43:01.1+01:00")
    second = host.iso("2026-11-22T09:43:01.2+01:00")
    assert (second - first).total_seconds() == pytest.approx(0.1)


def test_fall_back_hour_is_read_twice_in_order():
    # Europe/Berlin, 2024-10-27: 03:00 CEST becomes 02:00 CET, so 02:xx happens twice.
    host = clock(datetime(2024, 10, 28, tzinfo=BERLIN))
    stamps = [
        "Oct 27 01:59:01",
        "Oct 27 02:30:01",
        "Oct 27 02:59:01",
        "Oct 27 02:00:01",
        "Oct 27 02:30:01",
        "Oct 27 03:00:01",
    ]
    assert [host.syslog(stamp) for stamp in stamps] == [
        utc(2024, 10, 26, 23, 59, 1),
        utc(2024, 10, 27, 0, 30, 1),
        utc(2024, 10, 27, 0, 59, 1),
        utc(2024, 10, 27, 1, 0, 1),
        utc(2024, 10, 27, 1, 30, 1),
        utc(2024, 10, 27, 2, 0, 1),
    ]


def test_lines_a_little_out_of_order_in_the_repeated_hour_do_not_flip_it():
    host = clock(datetime(2024, 10, 28, tzinfo=BERLIN))
    assert host.syslog("Oct 27 02:30:05") == utc(2024, 10, 27, 0, 30, 5)
    assert host.syslog("Oct 27 02:30:01") == utc(2024, 10, 27, 0, 30, 1)


def test_spring_forward_gap_is_crossed_without_error():
    host = clock(datetime(2024, 4, 1, tzinfo=BERLIN))
    assert host.syslog("Mar 31 01:59:01") == utc(2024, 3, 31, 0, 59, 1)
    assert host.syslog("Mar 31 03:00:01") == utc(2024, 3, 31, 1, 0, 1)


def test_fall_back_through_parse_lines_keeps_runs_in_order():
    lines = [
        f"Nov  3 {t} host CRON[{pid}]: (root) CMD (/bin/true)"
        for pid, t in enumerate(["01:45:01", "01:59:01", "01:00:01", "01:15:01"], 100)
    ]
    events = parse_lines(lines, ClockContext(NEW_YORK, datetime(2024, 11, 4, tzinfo=NEW_YORK)))
    times = [event.at for event in events.events]
    assert times == sorted(times)
    assert times[2] - times[1] == utc(2024, 11, 3, 6, 0, 1) - utc(2024, 11, 3, 5, 59, 1)


def test_journald_realtime_is_microseconds_since_the_epoch():
    assert epoch_micros(1763822581622592) == utc(2025, 11, 22, 14, 43, 1, 622592)


def test_the_reads_of_one_zone_share_their_hours_and_a_dst_hour_is_never_shared_as_one_offset():
    day = datetime(2026, 10, 26, tzinfo=BERLIN)
    first, second = clock(day), clock(day)
    assert first.syslog("Oct 24 09:15:01") == utc(2026, 10, 24, 7, 15, 1)
    assert second._hours is first._hours and second._hours["Oct 24 09"] == utc(2026, 10, 24, 7)
    # 02:00-03:00 on Oct 25 happens twice in Berlin: no single start, each read places it itself
    assert first.syslog("Oct 25 02:30:01") == utc(2026, 10, 25, 0, 30, 1)
    assert first._hours["Oct 25 02"] is None
    assert second.syslog("Oct 25 02:10:01") == utc(2026, 10, 25, 0, 10, 1)
    assert clock(day, NEW_YORK)._hours is not first._hours


def test_the_reads_of_one_zone_share_each_second_but_not_a_second_pass_of_a_repeated_hour():
    day = datetime(2024, 10, 28, tzinfo=BERLIN)

    def read(host: str, zone: ZoneInfo = BERLIN) -> datetime:
        line = f"Oct 26 09:15:01 {host} CRON[7]: (root) CMD (true)"
        return parse_lines([line], ClockContext(zone, day)).events[0].at

    # one object per second for the fleet: what is made of it (its hash, its stored text) once
    assert read("web2") is read("web1") == utc(2024, 10, 26, 7, 15, 1)
    assert read("web3", NEW_YORK) == utc(2024, 10, 26, 13, 15, 1)
    first, second = clock(day), clock(day)
    # the first read goes back through 02:xx (its second pass); another read is still in its first
    for stamp in ("Oct 27 02:50:01", "Oct 27 02:10:01"):
        first.syslog(stamp)
    assert first.syslog("Oct 27 02:20:01") == utc(2024, 10, 27, 1, 20, 1)
    assert second.syslog("Oct 27 02:20:01") == utc(2024, 10, 27, 0, 20, 1)


@pytest.mark.parametrize(
    ("line", "groups"),
    [
        (
            "Nov  2 04:17:01 web1 CRON[1234]: (root) CMD ([1236] /bin/job)",
            ("Nov  2 04:17:01", "web1", "CRON", "1234", "root", "CMD", "1236", "/bin/job", None),
        ),
        (
            "Nov  2 04:17:01.5 web1 cron.info crond[7]: (bob) CMD (x (y))",
            ("Nov  2 04:17:01.5", "web1", "crond", "7", "bob", "CMD", None, "x (y)", None),
        ),
        (
            "2026-11-02T04:17:01+0100 h CROND: (root) ORPHAN (no passwd entry): Success",
            (
                "2026-11-02T04:17:01+0100",
                "h",
                "CROND",
                None,
                "root",
                "ORPHAN",
                None,
                "no passwd entry",
                ": Success",
            ),
        ),
    ],
)
def test_the_line_grammar_keeps_its_groups_with_and_without_the_optional_parts(line, groups):
    from cronops.logs import STYLES

    match = next(m for style in STYLES if (m := style.shaped.match(line)))
    assert match.groups() == groups
