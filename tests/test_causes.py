"""Why a run did not happen: each cause on the lines real daemons write, and "unknown" otherwise.

The daemon lines are the ones Debian cron 3.0pl1 wrote on the test fleet (see test_causes_fleet)
and cronie's PAM failure; the judge puts the cause on its missed and never_ran findings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronops.causes import crontab_name, missed_cause
from cronops.logs import ClockContext, parse_lines
from cronops.records import DaemonLine
from tests.test_analysis import NOW, daily, entry, host, judged, only

SLOT = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
REJECTED = "Syntax error, this crontab file will be ignored"


def line(at: datetime, keyword: str, detail: str, user: str | None = None) -> DaemonLine:
    return DaemonLine("web1", at, user, keyword, detail)


def cause_of(**facts):
    return missed_cause(entry(), host(**facts), SLOT.timestamp(), ())


def test_no_fact_about_the_slot_is_cause_unknown():
    assert cause_of() is None
    before = line(SLOT - timedelta(days=1), "STARTUP", "fork ok")
    assert cause_of(daemon_lines=(before,), booted_at=SLOT - timedelta(days=2)) is None


def test_a_boot_after_the_slot_is_a_host_that_was_down():
    booted = SLOT + timedelta(minutes=7)
    cause = cause_of(booted_at=booted)
    assert (cause.why, cause.at) == ("the host was down", booted)


def test_a_job_started_between_the_slot_and_the_boot_shows_the_host_was_up():
    booted = SLOT + timedelta(minutes=7)
    other_job = (SLOT + timedelta(minutes=1)).timestamp()
    assert missed_cause(entry(), host(booted_at=booted), SLOT.timestamp(), [other_job]) is None


def test_a_cron_start_after_the_slot_is_cron_not_running():
    startup = line(SLOT + timedelta(minutes=3), "STARTUP", "fork ok")
    cause = cause_of(daemon_lines=(startup,))
    assert cause.why == "cron was not running"
    assert cause.evidence == "(CRON) STARTUP (fork ok)"
    # without a STARTUP line in the log, the daemon's process start says it
    started = SLOT + timedelta(minutes=5)
    cause = cause_of(cron_started_at=started)
    assert (cause.why, cause.at) == ("cron was not running", started)


def test_a_rejected_crontab_stands_until_cron_reads_it_again():
    rejected = [
        line(SLOT - timedelta(hours=1), "Error", "bad minute; while reading crontab for user root"),
        line(SLOT - timedelta(hours=1), "ERROR", REJECTED, "root"),
    ]
    cause = cause_of(daemon_lines=tuple(rejected))
    assert cause.why == "its crontab was rejected by cron"
    assert cause.evidence == (
        "Error: bad minute; while reading crontab for user root / "
        "(root) ERROR (Syntax error, this crontab file will be ignored)"
    )
    fixed = line(SLOT - timedelta(minutes=10), "RELOAD", "crontabs/root", "root")
    assert cause_of(daemon_lines=(*rejected, fixed)) is None
    someone_else = line(SLOT - timedelta(minutes=10), "RELOAD", "crontabs/bob", "bob")
    assert cause_of(daemon_lines=(*rejected, someone_else)) is not None
    # a restart reads it again, and says so again in the same second when it is still bad
    restart = line(SLOT - timedelta(minutes=5), "STARTUP", "fork ok")
    again = line(SLOT - timedelta(minutes=5), "ERROR", REJECTED, "root")
    assert cause_of(daemon_lines=(*rejected, restart)) is None
    assert cause_of(daemon_lines=(*rejected, restart, again)).at == again.at
    # a rejection after the slot says nothing about it
    later = line(SLOT + timedelta(minutes=1), "ERROR", REJECTED, "root")
    assert cause_of(daemon_lines=(later,)) is None


def test_cron_names_system_crontabs_by_file():
    assert crontab_name(entry(source="/etc/crontab")) == "*system*"
    assert crontab_name(entry(source="/etc/cron.d/app")) == "*system*app"
    assert crontab_name(entry(user="bob", source="/var/spool/cron/crontabs/bob")) == "bob"
    app = entry(source="/etc/cron.d/app")
    lines = (
        line(SLOT - timedelta(hours=1), "Error", "bad username; while reading /etc/cron.d/app"),
        line(SLOT - timedelta(hours=1), "ERROR", REJECTED, "*system*app"),
    )
    cause = missed_cause(app, host(daemon_lines=lines), SLOT.timestamp(), ())
    assert cause.evidence.startswith("Error: bad username; while reading /etc/cron.d/app / ")


def test_an_orphan_crontab_is_a_user_with_no_passwd_entry():
    orphan = line(SLOT - timedelta(hours=2), "ORPHAN", "no passwd entry", "root")
    cause = cause_of(daemon_lines=(orphan,))
    assert cause.why == "the user root has no passwd entry"
    assert cause.evidence == "(root) ORPHAN (no passwd entry)"
    # a restart that no longer finds it an orphan
    restart = line(SLOT - timedelta(hours=1), "STARTUP", "fork ok")
    assert cause_of(daemon_lines=(orphan, restart)) is None


def test_cronies_pam_failure_in_the_slots_minute():
    failure = line(
        SLOT + timedelta(seconds=1),
        "FAILED to open PAM security session",
        "Authentication failure",
        "root",
    )
    cause = cause_of(daemon_lines=(failure,))
    assert cause.why == "cron could not open a PAM session for root"
    assert cause_of(daemon_lines=(line(SLOT + timedelta(minutes=2), *_pam(failure)),)) is None


def _pam(failure: DaemonLine) -> tuple[str, str, str | None]:
    return failure.keyword, failure.detail, failure.user


def test_the_judge_puts_the_cause_on_the_missed_finding():
    startup = line(datetime(2026, 3, 9, 3, 5, tzinfo=UTC), "STARTUP", "fork ok")
    runs = daily(skip=[datetime(2026, 3, 9).date()])
    found = only(judged(runs=runs, hosts=[host(daemon_lines=(startup,))]), "missed")
    assert found.cause == (
        "Most likely cause: cron was not running (2026-03-09 03:05 UTC: (CRON) STARTUP (fork ok))."
    )
    assert found.cause in found.detail and found.cause in found.evidence
    unknown = only(judged(runs=runs), "missed")
    assert unknown.cause.startswith("Cause unknown")
    assert unknown.cause in unknown.detail


def test_a_rejected_crontabs_job_that_never_ran_says_why():
    rejected = line(NOW - timedelta(days=20), "ERROR", REJECTED, "root")
    found = only(judged(runs=[], hosts=[host(daemon_lines=(rejected,))]), "never_ran")
    assert "its crontab was rejected by cron" in found.cause


def test_debians_read_error_line_is_an_error_event():
    ctx = ClockContext(zone=UTC, now=NOW)
    text = [
        "Mar  4 12:38:46 exp cron[16]: Error: bad username; while reading /etc/cron.d/bad",
        "Mar  4 12:38:46 exp cron[16]: (*system*bad) ERROR (Syntax error, this crontab file "
        "will be ignored)",
        "Mar  4 12:38:46 exp cron[16]: (ghost) ORPHAN (no passwd entry)",
        "Mar  4 12:38:46 exp cron[16]: (CRON) STARTUP (fork ok)",
    ]
    parsed = parse_lines(text, ctx)
    assert parsed.garbage == 0
    read_error, rejected, orphan, startup = parsed.events
    assert (read_error.kind, read_error.keyword, read_error.user) == ("error", "Error", None)
    assert read_error.detail == "bad username; while reading /etc/cron.d/bad"
    assert (rejected.kind, rejected.user, rejected.keyword) == ("error", "*system*bad", "ERROR")
    assert (orphan.keyword, orphan.user) == ("ORPHAN", "ghost")
    assert (startup.kind, startup.keyword) == ("daemon", "STARTUP")


def test_a_failing_job_whose_output_nobody_sees_is_an_info_finding():
    quiet = entry(mailto="")
    runs = daily(status=1)
    found = only(judged(entries=[quiet], runs=runs), "output_lost")
    assert found.severity == "info"
    assert 'MAILTO="" above it' in found.detail
    no_mta = host(no_mta_at=NOW)
    found = only(judged(runs=runs, hosts=[no_mta]), "output_lost")
    assert "the host has no MTA" in found.detail
    # output that reaches someone, or a job that did not fail, says nothing
    assert "output_lost" not in [f.kind for f in judged(runs=runs)]
    assert "output_lost" not in [f.kind for f in judged(entries=[quiet], runs=daily())]


def test_a_slot_a_dst_gap_moved():
    # Berlin skips 02:00-03:00 on 2026-03-29: a 02:30 job runs when the clock lands on 03:00
    berlin = ZoneInfo("Europe/Berlin")
    job = entry("30 2 * * *")
    moved = datetime(2026, 3, 29, 3, 0, tzinfo=berlin).timestamp()
    cause = missed_cause(job, host(zone=berlin), moved, (), berlin)
    assert cause.why == "the slot fell in a DST gap"
    assert cause.evidence.startswith("02:30 never showed on the clock in Europe/Berlin")
    usual = datetime(2026, 3, 28, 2, 30, tzinfo=berlin).timestamp()
    assert missed_cause(job, host(zone=berlin), usual, (), berlin) is None
