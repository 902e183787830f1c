"""busybox crond lines (Alpine, OpenWrt): starts and overlaps only."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cronops.logs import ClockContext, LogEvent, parse_lines

DATA = Path(__file__).parent / "data" / "logs"
UTC_ZONE = ZoneInfo("UTC")
CTX = ClockContext(UTC_ZONE, datetime(2026, 11, 13, tzinfo=UTC_ZONE))


def one(line: str) -> LogEvent:
    result = parse_lines([line], CTX)
    assert (result.ignored, result.garbage) == (0, 0), line
    return result.events[0]


@pytest.mark.parametrize(
    "line",
    [
        "Nov 12 00:31:01 alpine cron.info crond[2727]: crond: USER root pid   7 cmd run-parts /x",
        "Nov 12 00:31:01 alpine crond[2727]: USER root pid   7 cmd run-parts /x",
        "Nov 12 00:31:01 alpine crond: USER root pid   7 cmd run-parts /x",
    ],
)
def test_start_with_space_padded_pid(line):
    event = one(line)
    assert (event.kind, event.user, event.command, event.pid) == (
        "start",
        "root",
        "run-parts /x",
        7,
    )
    assert (event.dialect, event.keyword) == ("busybox", "USER")


def test_overlap():
    event = one(
        "Nov 12 00:32:01 melogger cron.info crond[2727]: crond: user root: process already "
        "running: /usr/bin/sync /root/config.lua"
    )
    assert (event.kind, event.user, event.command) == (
        "overlap",
        "root",
        "/usr/bin/sync /root/config.lua",
    )


def test_a_failed_fork_is_an_error_not_a_start():
    event = one("Nov 12 00:31:01 alpine crond[2727]: crond: USER root pid   0 cmd /bin/job")
    assert (event.kind, event.user, event.command) == ("error", "root", "/bin/job")


def test_a_busybox_log():
    result = parse_lines((DATA / "busybox.log").open(), CTX)
    assert [event.kind for event in result.events] == [
        "daemon",
        "start",
        "start",
        "overlap",
        "error",
    ]
    # the level-5 trace line and dnsmasq are skipped on purpose
    assert (result.ignored, result.garbage) == (2, 0)


def test_an_unknown_crond_message_is_garbage():
    result = parse_lines(["Nov 12 00:31:01 alpine crond[2727]: crond: something new"], CTX)
    assert (result.events, result.garbage) == ([], 1)
