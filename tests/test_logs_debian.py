"""Debian/Ubuntu cron lines at every -L level, as rsyslog writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cronops.logs import ClockContext, LogEvent, parse_lines

DATA = Path(__file__).parent / "data" / "logs"
BERLIN = ZoneInfo("Europe/Berlin")
CTX = ClockContext(BERLIN, datetime(2026, 11, 23, 12, 0, tzinfo=BERLIN))


def one(line: str) -> LogEvent:
    result = parse_lines([line], CTX)
    assert (result.ignored, result.garbage) == (0, 0), line
    return result.events[0]


def test_cmd_with_jobpid_at_level_8():
    event = one("Nov  2 04:17:01 web1 CRON[20680]: (root) CMD ([20681] cd / && run-parts /etc/x)")
    assert event.kind == "start"
    assert (event.user, event.command) == ("root", "cd / && run-parts /etc/x")
    assert (event.pid, event.process_pid) == (20681, 20680)
    assert (event.source, event.dialect, event.keyword, event.host) == (
        "debian",
        "debian",
        "CMD",
        "web1",
    )
    assert event.at == datetime(2026, 11, 2, 3, 17, 1, tzinfo=UTC)


def test_cmd_without_jobpid_comes_from_the_job_itself():
    event = one("Aug  4 22:07:01 villes CRON[5557]: (root) CMD (/root/bin/screen.sh)")
    assert (event.kind, event.command, event.pid, event.process_pid) == (
        "start",
        "/root/bin/screen.sh",
        5557,
        5557,
    )


def test_end_with_and_without_jobpid():
    with_pid = one("Nov  2 04:17:02 web1 CRON[20680]: (root) END ([20681] /bin/job)")
    without = one("Nov  2 04:17:02 web1 CRON[20680]: (root) END (/bin/job)")
    assert (with_pid.kind, with_pid.command, with_pid.pid) == ("end", "/bin/job", 20681)
    assert (without.kind, without.command, without.pid) == ("end", "/bin/job", 20680)


def test_failure_line_names_the_job_pid_not_the_logging_process():
    event = one(
        "Nov  2 04:17:03 web1 CRON[20682]: (CRON) error "
        "(grandchild #20684 failed with exit status 4)"
    )
    assert (event.kind, event.status, event.signal) == ("failed", 4, None)
    assert (event.pid, event.process_pid, event.user, event.command) == (20684, 20682, None, None)


@pytest.mark.parametrize(
    ("text", "signal", "core"),
    [
        ("grandchild #20693 terminated by signal 9", 9, False),
        ("grandchild #20693 terminated by signal 11, dumped core", 11, True),
    ],
)
def test_signal_lines(text, signal, core):
    event = one(f"Nov  2 04:18:05 web1 CRON[20692]: (CRON) error ({text})")
    assert (event.kind, event.signal, event.core_dumped, event.pid) == (
        "signal",
        signal,
        core,
        20693,
    )
    assert event.status is None


def test_mail_line_undoes_rsyslog_newline_escape():
    event = one(
        "Nov  2 04:17:03 web1 CRON[20682]: (www-data) MAIL "
        "(mailed 1 byte of output; but got status 0x00ff, #012)"
    )
    assert (event.kind, event.user, event.keyword) == ("mail", "www-data", "MAIL")
    assert event.detail == "mailed 1 byte of output; but got status 0x00ff,"


def test_a_command_is_kept_as_cron_logged_it():
    # cron logs a command through mkprints (a tab is "^I"): a "#011" is the command's own text,
    # not rsyslog's escape of a tab (seen on Debian 12's cron and rsyslog, test_logs_rendering).
    event = one("Nov  2 04:17:01 web1 CRON[7]: (root) CMD ([8] printf 'a#011b' #0125 ^I)")
    assert event.command == "printf 'a#011b' #0125 ^I"


def test_commands_keep_their_spaces_brackets_and_parentheses():
    event = one(
        "Nov  2 04:18:01 web1 CRON[20690]: (root) CMD ([20691]   [ -x /usr/lib/php/sessionclean ] "
        "&& (cd /tmp; ls) )"
    )
    assert event.command == "  [ -x /usr/lib/php/sessionclean ] && (cd /tmp; ls) "


@pytest.mark.parametrize(
    ("line", "kind", "keyword", "user", "detail"),
    [
        ("cron[611]: (CRON) STARTUP (fork ok)", "daemon", "STARTUP", None, "fork ok"),
        ("cron[611]: (CRON) INFO (Running @reboot jobs)", "daemon", "INFO", None,
         "Running @reboot jobs"),
        ("cron[611]: (deploy) RELOAD (crontabs/deploy)", "daemon", "RELOAD", "deploy",
         "crontabs/deploy"),
        ("crontab[9]: (deploy) REPLACE (deploy)", "daemon", "REPLACE", "deploy", "deploy"),
        ("crontab[9]: (deploy) BEGIN EDIT (deploy)", "daemon", "BEGIN EDIT", "deploy", "deploy"),
        ("crontab[9]: (deploy) END EDIT (deploy)", "daemon", "END EDIT", "deploy", "deploy"),
        ("CRON[5]: (CRON) info (No MTA installed, discarding output)", "daemon", "info", None,
         "No MTA installed, discarding output"),
        ("cron[801]: (root) ERROR (Syntax error, this crontab file will be ignored)", "error",
         "ERROR", "root", "Syntax error, this crontab file will be ignored"),
        ("cron[801]: (bob) ORPHAN (no passwd entry)", "error", "ORPHAN", "bob", "no passwd entry"),
        ("CRON[9]: (CRON) error (can't fork)", "error", "error", None, "can't fork"),
    ],
)  # fmt: skip
def test_daemon_and_error_lines(line, kind, keyword, user, detail):
    event = one(f"Nov  2 04:10:01 web1 {line}")
    assert (event.kind, event.keyword, event.user, event.detail) == (kind, keyword, user, detail)
    assert event.command is None


def test_old_debian_process_name():
    event = one("Aug  4 22:10:01 villes /USR/SBIN/CRON[5700]: (root) CMD (/usr/local/bin/rotate)")
    assert (event.kind, event.pid, event.command) == ("start", 5700, "/usr/local/bin/rotate")


def test_a_level_15_syslog_file():
    result = parse_lines((DATA / "debian-L15.log").open(), CTX)
    kinds = [event.kind for event in result.events]
    assert kinds.count("start") == 4
    assert kinds.count("end") == 4
    assert kinds.count("failed") == 1
    assert kinds.count("signal") == 2
    # PAM session lines, sshd, the kernel and systemd are skipped on purpose ...
    assert result.ignored == 5
    # ... while a CRON line with a keyword cron never writes is counted as garbage.
    assert result.garbage == 1
    assert result.lines == 27 == len(result.events) + result.ignored + result.garbage


def test_a_level_1_syslog_file():
    result = parse_lines((DATA / "debian-L1.log").open(), CTX)
    assert [e.command for e in result.events if e.kind == "start"] == [
        "/root/bin/screen.sh",
        "/root/bin/syncdata.bash",
        "/root/bin/syncdata.bash",
        "/usr/local/bin/rotate-logs.sh",
    ]
    assert (result.ignored, result.garbage) == (0, 0)


def test_a_debian_12_rfc3339_file():
    result = parse_lines((DATA / "debian12-rfc3339.log").open(), CTX)
    first = result.events[0]
    assert (first.kind, first.pid, first.at) == (
        "start",
        8002,
        datetime(2026, 11, 22, 14, 43, 1, 622592, tzinfo=UTC),
    )
    assert [e.kind for e in result.events] == ["start", "start", "end", "failed", "end"]
    assert (result.ignored, result.garbage) == (1, 0)


@pytest.mark.parametrize(
    "message", ["(root) CRONTAB (no such keyword)", "(root) CMD missing parentheses", ""]
)
def test_unknown_cron_messages_are_garbage(message):
    result = parse_lines([f"Nov  2 04:10:01 web1 CRON[1]: {message}"], CTX)
    assert (result.events, result.ignored, result.garbage) == ([], 0, 1)


def test_pam_session_lines_are_ignored():
    line = (
        "Nov  2 04:17:01 web1 CRON[20680]: pam_unix(cron:session): session opened for user "
        "root(uid=0) by (uid=0)"
    )
    assert parse_lines([line], CTX).ignored == 1
