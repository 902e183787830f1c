"""cronie lines from /var/log/cron (RHEL, Fedora, Rocky, Arch)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cronops.logs import ClockContext, LogEvent, parse_lines

DATA = Path(__file__).parent / "data" / "logs"
UTC_ZONE = ZoneInfo("UTC")
CTX = ClockContext(UTC_ZONE, datetime(2026, 2, 20, tzinfo=UTC_ZONE))


def one(line: str) -> LogEvent:
    result = parse_lines([line], CTX)
    assert (result.ignored, result.garbage) == (0, 0), line
    return result.events[0]


def test_cmd_comes_from_the_job_process():
    event = one("Feb 19 04:01:01 app3 CROND[899752]: (root) CMD (run-parts /etc/cron.hourly)")
    assert (event.kind, event.user, event.command) == (
        "start",
        "root",
        "run-parts /etc/cron.hourly",
    )
    assert (event.pid, event.process_pid, event.dialect) == (899752, 899752, "cronie")


def test_cmdend_comes_from_the_parent_process():
    event = one("Feb 19 04:01:01 app3 CROND[899751]: (root) CMDEND (run-parts /etc/cron.hourly)")
    assert (event.kind, event.command, event.pid, event.keyword) == (
        "end",
        "run-parts /etc/cron.hourly",
        899751,
        "CMDEND",
    )


def test_cmdout_is_an_output_line_with_escapes_undone():
    event = one("Feb 19 04:02:01 app3 CROND[899800]: (study) CMDOUT (rows#011123 (total))")
    assert (event.kind, event.user, event.command, event.detail) == (
        "output",
        "study",
        None,
        "rows\t123 (total)",
    )


def test_empty_cmdout_line():
    assert one("Feb 19 04:02:01 app3 CROND[1]: (study) CMDOUT ()").detail == ""


def test_pam_failure_means_the_job_never_ran():
    event = one(
        "Dec 19 10:05:01 c1 crond[56]: (root) FAILED to open PAM security session "
        "(Cannot make/remove an entry for the specified session)"
    )
    assert (event.kind, event.user, event.keyword) == (
        "error",
        "root",
        "FAILED to open PAM security session",
    )
    assert event.detail == "Cannot make/remove an entry for the specified session"


def test_errno_suffix_is_kept_in_the_detail():
    event = one(
        "Feb 19 04:04:01 app3 crond[1034]: (ghost) CAN'T OPEN (/var/spool/cron/ghost): "
        "No such file or directory"
    )
    assert (event.kind, event.detail) == (
        "error",
        "/var/spool/cron/ghost: No such file or directory",
    )


def test_daemon_lines():
    event = one("May 17 16:48:21 server crond[241166]: (CRON) STARTUP (1.5.5)")
    assert (event.kind, event.keyword, event.detail, event.user) == (
        "daemon",
        "STARTUP",
        "1.5.5",
        None,
    )


def test_rfc3339_cronie_line():
    event = one("2026-02-19T04:01:01.5+01:00 app3 CROND[7]: (root) CMD (/bin/true)")
    assert event.at == datetime(2026, 2, 19, 3, 1, 1, 500000, tzinfo=UTC)


def test_a_var_log_cron_file():
    result = parse_lines((DATA / "cronie.log").open(), CTX)
    kinds = [event.kind for event in result.events]
    assert kinds.count("start") == 2
    assert kinds.count("end") == 2
    assert kinds.count("output") == 2
    assert kinds.count("error") == 2
    # run-parts, anacron and PAM lines are not cron's own job lines
    assert (result.ignored, result.garbage) == (4, 0)
    assert all(event.source == "cronie" for event in result.events)
