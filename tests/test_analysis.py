"""Tests for cronops.analysis: each rule that turns history into findings, and what it will not say.

Times are built in the host's zone, as its cron log stamps them; `NOW` is pinned.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronops import wording
from cronops.analysis import (
    EntryStatus,
    Finding,
    HostFacts,
    JobEntry,
    RunningJob,
    RunRecord,
    _Tally,
    entry_status,
    every_finding,
    judge,
)
from cronops.crontab import PauseInfo
from cronops.policy import PolicyBook
from cronops.records import RunDay

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def host(**changes) -> HostFacts:
    values = {
        "name": "web1",
        "status": "ok",
        "error": None,
        "zone": UTC_ZONE,
        "cron_running": True,
        "coverage_start": NOW - timedelta(days=30),
        "ok_at": NOW,
        "ends_logged": True,
        "failures_logged": True,
    }
    return HostFacts(**(values | changes))


def entry(schedule: str = "0 3 * * *", **changes) -> JobEntry:
    values = {
        "id": "backup",
        "host": "web1",
        "user": "root",
        "source": "/var/spool/cron/crontabs/root",
        "schedule": schedule,
        "command": "/usr/local/bin/backup --full",
        "disabled": False,
        "paused": None,
        "cron_tz": None,
        "first_seen": NOW - timedelta(days=60),
        "crontab_mtime": NOW - timedelta(days=60),
    }
    return JobEntry(**(values | changes))


def paused(until: datetime | None = None, **changes) -> JobEntry:
    """The entry as `cronops pause` leaves it: commented out behind alice's marker."""
    pause = PauseInfo(
        by="alice@ops", at=datetime(2026, 3, 7, 8, 0, tzinfo=UTC), reason="disk full", until=until
    )
    return entry(disabled=True, paused=pause, **changes)


def run(
    start: datetime,
    took: timedelta | None = timedelta(minutes=1),
    status: int | None = 0,
    **changes,
) -> RunRecord:
    values = {
        "entry_id": "backup",
        "host": "web1",
        "started_at": start,
        "ended_at": start + took if took is not None else None,
        "status": status,
        "signal": None,
    }
    return RunRecord(**(values | changes))


def daily(hour: int = 3, minute: int = 0, zone=UTC, days: int = 8, skip=(), **changes):
    """One run a day at hour:minute (plus 2 s, as cron logs it) over the days before NOW."""
    today = NOW.astimezone(zone).date()
    runs = []
    for back in range(days, -1, -1):
        day = today - timedelta(days=back)
        start = datetime(day.year, day.month, day.day, hour, minute, 2, tzinfo=zone)
        if start <= NOW and day not in skip:
            runs.append(run(start, **changes))
    return runs


def judged(
    entries=None,
    runs=(),
    hosts=None,
    running=(),
    book: PolicyBook | None = None,
    now: datetime = NOW,
    since: datetime | None = None,
    folded=(),
) -> list[Finding]:
    return judge(
        hosts if hosts is not None else [host()],
        entries if entries is not None else [entry()],
        list(runs),
        list(running),
        book or PolicyBook(),
        now,
        since or now - WEEK,
        folded=folded,
    )


def only(findings: list[Finding], kind: str) -> Finding:
    matching = [f for f in findings if f.kind == kind]
    assert len(matching) == 1, findings
    return matching[0]


def kinds(findings: list[Finding]) -> list[str]:
    return sorted(f.kind for f in findings)


# -- missed and late --------------------------------------------------------------------------


def test_a_job_that_ran_every_day_on_time_has_no_finding():
    assert judged(runs=daily()) == []


def test_one_missing_run_is_one_missed_finding_at_its_expected_time():
    skipped = NOW.date() - timedelta(days=2)
    findings = judged(runs=daily(skip={skipped}))
    missed = only(findings, "missed")
    assert kinds(findings) == ["missed"]
    expected = datetime(skipped.year, skipped.month, skipped.day, 3, 0, tzinfo=UTC)
    assert (missed.count, missed.first_at, missed.last_at) == (1, expected, expected)
    assert (missed.entry_id, missed.host, missed.severity) == ("backup", "web1", "warning")
    assert "did not start at 2026-03-08 03:00 UTC" in missed.detail
    assert "No start line was logged" in missed.evidence
    assert missed.summary == "no start at 03-08 03:00"  # over a day ago: its date too


def test_repeated_misses_fold_into_one_finding_with_count_first_and_last():
    skipped = {NOW.date() - timedelta(days=n) for n in (1, 3, 5)}
    missed = only(judged(runs=daily(skip=skipped)), "missed")
    assert missed.count == 3
    assert missed.first_at == datetime(2026, 3, 5, 3, 0, tzinfo=UTC)
    assert missed.last_at == datetime(2026, 3, 9, 3, 0, tzinfo=UTC)
    assert "3 times since 2026-03-05 03:00 UTC" in missed.detail
    assert missed.summary == "no start at 03-09 03:00 (×3 since 03-05)"


def test_a_summary_gives_times_of_the_last_day_without_their_date():
    job = entry("0 * * * *")
    runs = [run(NOW - timedelta(hours=h, seconds=-2)) for h in range(24, 4, -1)]
    missed = only(judged([job], runs, since=NOW - timedelta(hours=24)), "missed")
    assert missed.summary == "no start at 11:00 (×4 since 08:00)"


def test_a_start_after_the_grace_period_is_late_not_missed():
    runs = daily()
    late_start = datetime(2026, 3, 9, 3, 20, tzinfo=UTC)
    runs = [r for r in runs if r.started_at.date() != late_start.date()] + [run(late_start)]
    findings = judged(runs=runs)
    late = only(findings, "late")
    assert kinds(findings) == ["late"]
    assert (late.count, late.first_at, late.severity) == (
        1,
        datetime(2026, 3, 9, 3, 0, tzinfo=UTC),
        "info",
    )
    assert "started 20m late" in late.detail
    assert late.summary == "started 20m late for 03-09 03:00"


def test_a_start_within_the_grace_period_is_on_time():
    runs = [r for r in daily() if r.started_at.day != 9] + [
        run(datetime(2026, 3, 9, 3, 4, 59, tzinfo=UTC))
    ]
    assert judged(runs=runs) == []


def test_a_lost_run_does_not_shift_every_later_run_by_one():
    # */5 with the default 5m grace: the grace reaches the next expected time, which must not
    # borrow the next run and push the miss to the end of the window.
    starts = [NOW - timedelta(hours=2) + timedelta(minutes=5 * n, seconds=3) for n in range(24)]
    lost = starts.pop(6)
    findings = judged(
        entries=[entry("*/5 * * * *", crontab_mtime=NOW - timedelta(hours=2, minutes=1))],
        runs=[run(s) for s in starts],
        since=NOW - timedelta(hours=2, minutes=1),
    )
    missed = only(findings, "missed")
    assert kinds(findings) == ["missed"]
    assert missed.count == 1
    assert missed.first_at == lost.replace(second=0)


def test_an_expected_run_still_inside_its_grace_period_is_not_judged_yet():
    # Due at 11:58, last scan at 12:00: with 5m grace it may still start.
    job = entry("58 * * * *")
    runs = [run(NOW.replace(hour=h, minute=58, second=1)) for h in range(0, 11)]
    assert judged(entries=[job], runs=runs, since=NOW.replace(hour=0)) == []


def test_a_run_belongs_to_the_latest_expected_time_before_it_so_a_very_late_run_is_late():
    job = entry("0 * * * *")
    runs = [run(NOW.replace(hour=h, minute=0, second=2)) for h in range(0, 12) if h != 9]
    runs.append(run(NOW.replace(hour=9, minute=40)))
    findings = judged(entries=[job], runs=runs, since=NOW.replace(hour=0))
    assert kinds(findings) == ["late"]
    assert only(findings, "late").first_at == NOW.replace(hour=9, minute=0)


# -- time zones and DST -----------------------------------------------------------------------


def berlin_host(**changes) -> HostFacts:
    return host(zone=BERLIN, **changes)


def test_a_0230_job_on_the_fall_back_day_is_expected_once():
    # 2024-10-27: 02:30 happens twice in Berlin; Debian cron runs the job the first time only.
    now = datetime(2024, 10, 28, 12, tzinfo=UTC)
    since = datetime(2024, 10, 25, tzinfo=UTC)
    job = entry("30 2 * * *", crontab_mtime=since - WEEK, first_seen=since - WEEK)
    facts = berlin_host(coverage_start=since - WEEK, ok_at=now)
    runs = [run(datetime(2024, 10, d, 2, 30, 1, tzinfo=BERLIN)) for d in (25, 26, 27, 28)]
    assert judged([job], runs, [facts], now=now, since=since) == []

    missing = [r for r in runs if r.started_at.day != 27]
    missed = only(judged([job], missing, [facts], now=now, since=since), "missed")
    assert missed.count == 1
    assert missed.first_at == datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN)  # the first pass
    assert missed.first_at.utcoffset() == timedelta(hours=2)


def test_a_0230_job_on_the_spring_forward_day_is_expected_at_the_end_of_the_gap():
    # 2024-03-31: Berlin skips 02:00-03:00; cron runs a fixed-time job in the gap at 03:00.
    now = datetime(2024, 4, 1, 12, tzinfo=UTC)
    since = datetime(2024, 3, 29, tzinfo=UTC)
    job = entry("30 2 * * *", crontab_mtime=since - WEEK, first_seen=since - WEEK)
    facts = berlin_host(coverage_start=since - WEEK, ok_at=now)
    runs = [
        run(datetime(2024, 3, 29, 2, 30, 1, tzinfo=BERLIN)),
        run(datetime(2024, 3, 30, 2, 30, 1, tzinfo=BERLIN)),
        run(datetime(2024, 3, 31, 3, 0, 1, tzinfo=BERLIN)),
        run(datetime(2024, 4, 1, 2, 30, 1, tzinfo=BERLIN)),
    ]
    assert judged([job], runs, [facts], now=now, since=since) == []

    missed = only(judged([job], runs[:2] + runs[3:], [facts], now=now, since=since), "missed")
    assert (missed.count, missed.first_at) == (1, datetime(2024, 3, 31, 3, 0, tzinfo=BERLIN))


def test_a_non_utc_host_is_judged_in_its_own_zone():
    facts = host(zone=NEW_YORK)
    job = entry("0 9 * * *")
    on_time = daily(hour=9, zone=NEW_YORK)
    assert judged([job], on_time, [facts]) == []

    skipped = NOW.astimezone(NEW_YORK).date() - timedelta(days=1)
    missed = only(judged([job], daily(hour=9, zone=NEW_YORK, skip={skipped}), [facts]), "missed")
    assert missed.first_at == datetime(skipped.year, skipped.month, skipped.day, 9, tzinfo=NEW_YORK)
    assert missed.first_at.tzinfo == NEW_YORK
    assert "09:00 EDT" in missed.detail or "09:00 EST" in missed.detail
    assert "America/New_York" in missed.evidence


def test_cron_tz_moves_the_schedule_on_cronie_only():
    job = entry("0 9 * * *", cron_tz="America/New_York")
    new_york_runs = daily(hour=9, zone=NEW_YORK)
    assert judged([job], new_york_runs, [host(cron_family="cronie")]) == []
    # Debian cron ignores CRON_TZ: the host's zone (UTC) decides, so those runs are late.
    assert "late" in kinds(judged([job], new_york_runs, [host(cron_family="debian")]))


def test_the_host_clock_decides_when_a_run_is_due():
    # The host's clock is 10 minutes behind ours: at our 12:00 it reads 11:50, so a job due at
    # its 11:48 is still within its grace period.
    job = entry("48 * * * *")
    runs = [run(NOW.replace(hour=h, minute=48, second=1)) for h in range(0, 11)]
    facts = host(clock_skew=-timedelta(minutes=10))
    assert kinds(judged([job], runs, [facts], since=NOW.replace(hour=0))) == ["clock_skew"]
    assert "missed" in kinds(judged([job], runs, [host()], since=NOW.replace(hour=0)))


# -- never ran, and when judging starts --------------------------------------------------------


def test_an_entry_with_no_run_at_all_is_one_never_ran_finding():
    findings = judged(runs=[])
    never = only(findings, "never_ran")
    assert kinds(findings) == ["never_ran"]
    assert never.count == 7
    assert never.first_at == datetime(2026, 3, 4, 3, tzinfo=UTC)
    assert never.last_at == datetime(2026, 3, 10, 3, tzinfo=UTC)
    assert "has not run once since" in never.detail
    assert never.summary == "never started: 7 runs due since 03-04 03:00"  # the first due


def test_a_verdict_that_stands_is_worded_alike_scan_after_scan():
    """Absence's basis names no moment that moves with each scan while the host answers (the
    window's start, its latest scan): a rescan that finds the same verdict leaves its row."""
    skipped = daily(skip=[date(2026, 3, 8)])
    earlier = only(judged(runs=skipped), "missed")
    later = only(
        judged(
            runs=skipped,
            now=NOW + timedelta(minutes=17),
            hosts=[host(ok_at=NOW + timedelta(minutes=17))],
        ),
        "missed",
    )
    assert (later.detail, later.evidence, later.summary) == (
        earlier.detail,
        earlier.evidence,
        earlier.summary,
    )
    assert "Judged from the start of the audit window to the last successful scan;" in (
        later.evidence
    )
    never = [only(judged(runs=[], now=NOW + timedelta(minutes=m)), "never_ran") for m in (0, 17)]
    assert never[0].detail == never[1].detail and never[0].summary == never[1].summary


def test_a_host_that_did_not_answer_says_up_to_which_scan_its_jobs_are_judged():
    silent = host(status="unreachable", ok_at=NOW - timedelta(hours=2))
    missed = only(judged(runs=daily(skip=[date(2026, 3, 8)]), hosts=[silent]), "missed")
    assert "to the last successful scan at 2026-03-10 10:00" in missed.evidence


def test_a_job_added_yesterday_was_not_missed_last_week():
    yesterday = NOW - timedelta(days=1, hours=12)  # 2026-03-09 00:00
    by_mtime = entry(crontab_mtime=yesterday, first_seen=yesterday)
    never = only(judged([by_mtime], []), "never_ran")
    assert never.count == 2  # 03-09 03:00 and 03-10 03:00, nothing earlier
    assert never.first_at == datetime(2026, 3, 9, 3, tzinfo=UTC)
    assert "its crontab's last change" in never.evidence

    # Without an mtime, the first sighting bounds it, as does the first observed run.
    by_sight = entry(crontab_mtime=None, first_seen=yesterday)
    assert only(judged([by_sight], []), "never_ran").count == 2
    assert judged([by_sight], daily(days=1)) == []


def test_judging_starts_at_the_oldest_log_line_held():
    facts = host(coverage_start=NOW - timedelta(days=2, hours=12))  # 2026-03-07 23:59
    never = only(judged(runs=[], hosts=[facts]), "never_ran")
    assert never.count == 3
    assert "the oldest cron log line held" in never.evidence


def test_nothing_is_missed_without_log_coverage_or_readable_logs():
    assert judged(runs=[], hosts=[host(coverage_start=None)]) == []
    findings = judged(runs=[], hosts=[host(logs_readable=False)])
    assert kinds(findings) == ["logs_unreadable"]


def test_disabled_and_paused_entries_are_not_missed_nor_never_ran():
    entries = [entry(id="off", disabled=True), paused(id="held")]
    assert judged(entries, runs=[]) == []


# -- pauses that outlived their --until ----------------------------------------------------------

ENDED = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # 3 days before NOW


def test_an_expired_pause_is_one_pause_expired_finding_even_days_later():
    findings = judged([paused(ENDED)], runs=[], since=NOW - timedelta(hours=24))
    expired = only(findings, "pause_expired")
    assert kinds(findings) == ["pause_expired"]
    assert (expired.entry_id, expired.severity, expired.count) == ("backup", "info", 1)
    assert expired.first_at == expired.last_at == ENDED
    assert expired.detail == (
        "'/usr/local/bin/backup --full' (root@web1) was paused by alice@ops until "
        "2026-03-07 12:00 UTC, and cron still does not run it: cronops does not resume on its "
        "own, so resume it (`cronops resume backup`, or p in the TUI) or pause it again."
    )
    assert expired.evidence == (
        "The crontab line carries cronops's pause marker: paused by alice@ops at 2026-03-07 "
        "08:00 UTC until 2026-03-07 12:00 UTC (reason: disk full), still in place at the last "
        "successful scan."
    )
    assert expired.summary == "paused by alice@ops until 03-07 12:00"


def test_an_expired_pause_is_still_neither_missed_nor_never_ran():
    assert kinds(judged([paused(ENDED)], runs=[])) == ["pause_expired"]
    skipped = {NOW.date() - timedelta(days=1)}
    assert kinds(judged([paused(ENDED)], runs=daily(skip=skipped))) == ["pause_expired"]


def test_a_pause_without_until_or_not_over_yet_gives_no_finding():
    assert judged([paused()], runs=[]) == []
    assert judged([paused(NOW + timedelta(hours=1))], runs=[]) == []
    # cronops stamped `until` by our clock: a host clock running ahead does not end it early
    ahead = host(clock_skew=timedelta(minutes=5))
    findings = judged([paused(NOW + timedelta(minutes=1))], runs=[], hosts=[ahead])
    assert kinds(findings) == ["clock_skew"]


def test_pause_expired_follows_the_policy():
    jobs = [paused(ENDED)]
    ignored = PolicyBook.from_tables(jobs=[{"id": "backup", "ignore": ["pause_expired"]}])
    assert judged(jobs, runs=[], book=ignored) == []
    louder = PolicyBook.from_tables(defaults={"severity": {"pause_expired": "critical"}})
    assert only(judged(jobs, runs=[], book=louder), "pause_expired").severity == "critical"
    window = PolicyBook.from_tables(
        defaults={"maintenance": [{"cron": "0 11 * * *", "duration": "2h"}]}
    )
    assert judged(jobs, runs=[], book=window) == []


def test_reboot_entries_are_never_missed():
    assert judged([entry("@reboot")], runs=[]) == []


def test_entries_cronie_does_not_log_are_not_missed():
    assert judged([entry(log_off=True)], runs=[]) == []


def test_manual_runs_do_not_stand_in_for_scheduled_runs_but_can_fail():
    skipped = NOW.date() - timedelta(days=1)
    manual = run(datetime(2026, 3, 9, 3, 1, tzinfo=UTC), status=3, trigger="manual")
    findings = judged(runs=[*daily(skip={skipped}), manual])
    assert kinds(findings) == ["failed", "missed"]
    assert "(manual run)" in only(findings, "failed").detail


def test_runs_of_no_known_entry_are_not_judged():
    stray = run(NOW - timedelta(hours=1), status=1, entry_id=None)
    assert judged(runs=[*daily(), stray]) == []


# -- failed, slow, hung, overlap ----------------------------------------------------------------


def test_failed_needs_an_exit_status_or_signal_in_the_record():
    runs = daily()
    runs[-1] = run(runs[-1].started_at, status=2)
    runs[-2] = run(runs[-2].started_at, status=None, signal=9)
    runs[-3] = run(runs[-3].started_at, status=None)  # unknown outcome: not a failure
    failed = only(judged(runs=runs), "failed")
    assert failed.count == 2
    assert "failed with exit status 2 at 2026-03-10 03:00 UTC" in failed.detail
    assert "show: killed by signal 9 at 2026-03-09 03:00 UTC; failed with exit status 2" in (
        failed.evidence
    )
    assert failed.summary == "failed ×2 since 03-09 (exit status 2)"  # the last two runs


def test_a_failing_job_shows_its_streak_back_before_the_window():
    runs = [run(r.started_at, status=1) if r.started_at.day >= 4 else r for r in daily()]
    failed = only(judged(runs=runs, since=NOW - timedelta(hours=24)), "failed")
    assert failed.count == 1  # inside the window...
    assert (failed.streak, failed.streak_since) == (7, datetime(2026, 3, 4, 3, 0, 2, tzinfo=UTC))
    assert failed.summary == "failed ×7 since 03-04 (exit status 1)"  # ...and in a row
    assert failed.detail.endswith("It has failed 7 times in a row since 2026-03-04 03:00 UTC.")


def test_a_streak_ends_at_a_run_that_did_not_fail_and_passes_over_one_still_running():
    runs = [run(r.started_at, status=1) for r in daily()]
    job = entry("0 3 * * *")
    recovered = [*runs[:-1], run(runs[-1].started_at, status=0)]
    failed = only(judged([job], recovered), "failed")
    assert (failed.streak, failed.streak_since) == (0, None)
    assert failed.summary == "exit status 1 at 03-09 03:00 (×6 since 03-04)"
    # An unknown outcome (an end, no status, where failures are logged) breaks it too.
    unknown = [*runs[:-2], run(runs[-2].started_at, status=None), runs[-1]]
    assert only(judged([job], unknown), "failed").streak == 1
    # The latest run still going (its process is in the list) is no outcome yet.
    going = [*runs[:-1], run(runs[-1].started_at, took=None, status=None)]
    process = RunningJob("web1", "backup", 7, runs[-1].started_at)
    failed = only(judged([job], going, running=[process]), "failed")
    assert failed.streak == len(runs) - 1


def test_a_finding_a_later_run_put_right_is_over_while_still_in_the_window():
    runs = [run(r.started_at, status=1) for r in daily()]
    job = entry("0 3 * * *")
    assert only(judged([job], runs), "failed").over is None
    recovered = [*runs[:-1], run(runs[-1].started_at, status=0)]
    assert only(judged([job], recovered), "failed").over == "a later run succeeded"
    # Where the log writes no ends, a later start is all that is known.
    started = [*runs[:-1], run(runs[-1].started_at, took=None, status=None)]
    assert only(judged([job], started), "failed").over == "a later run started"
    # A missed run stands until a run for a later expected time starts.
    skipped = daily(skip=[(NOW - timedelta(days=2)).date()])
    assert only(judged([job], skipped), "missed").over == "a later run succeeded"
    last_missed = daily(skip=[NOW.date()])
    assert only(judged([job], last_missed), "missed").over is None


def test_debian_default_log_level_runs_give_no_failed_or_slow_and_say_so():
    # Debian cron at -L 1 logs starts only: no end, no exit status.
    facts = host(ends_logged=False, failures_logged=False)
    skipped = NOW.date() - timedelta(days=1)
    runs = daily(skip={skipped}, took=None, status=None)
    findings = judged(runs=runs, hosts=[facts])
    assert kinds(findings) == ["missed"]
    assert "Outcomes are unknown" in only(findings, "missed").evidence
    assert "-L 1" in only(findings, "missed").evidence

    status = entry_status(entry(), facts, runs, [], PolicyBook(), NOW)
    assert (status.state, status.last_outcome) == ("ran", "unknown")
    assert "whether it succeeded is unknown" in status.explanation
    assert "-L 1" in status.explanation


def test_slow_beyond_max_duration():
    book = PolicyBook.from_tables(jobs=[{"command": "backup", "max_duration": "30m"}])
    runs = daily()
    runs[-1] = run(runs[-1].started_at, took=timedelta(minutes=45))
    slow = only(judged(runs=runs, book=book), "slow")
    assert slow.count == 1
    assert "ran 45m" in slow.detail and "max_duration is 30m" in slow.detail
    assert slow.summary == "ran 45m at 03:00 (max 30m)"


def test_slow_far_beyond_its_own_history_needs_five_runs_of_it():
    starts = [NOW - timedelta(hours=h) for h in range(12, 0, -1)]
    job = entry("* * * * *")
    usual = [run(s, took=timedelta(minutes=5)) for s in starts[:-1]]
    outlier = run(starts[-1], took=timedelta(minutes=20))
    slow = only(judged([job], [*usual, outlier], since=NOW - timedelta(hours=13)), "slow")
    assert "the median of the 11 runs around it is 5m" in slow.detail
    assert slow.summary == "ran 20m at 11:00 (usual 5m)"

    few = [*usual[-4:], outlier]
    assert "slow" not in kinds(judged([job], few, since=NOW - timedelta(hours=13)))


def test_slow_ignores_a_tiny_job_that_took_a_few_seconds_more():
    starts = [NOW - timedelta(hours=h) for h in range(12, 0, -1)]
    runs = [run(s, took=timedelta(seconds=2)) for s in starts[:-1]]
    runs.append(run(starts[-1], took=timedelta(seconds=9)))
    assert "slow" not in kinds(judged([entry("* * * * *")], runs, since=NOW - timedelta(hours=13)))


def hourly(tooks: list[timedelta], **changes) -> list[RunRecord]:
    """One run an hour with these durations, the last ending before NOW."""
    first = NOW - timedelta(hours=len(tooks))
    return [
        run(first + timedelta(hours=n, seconds=2), took=took, **changes)
        for n, took in enumerate(tooks)
    ]


def test_one_run_30x_its_usual_is_slow_among_a_handful_even_as_the_first():
    # Nothing before it: its baseline is the five runs after it.
    runs = hourly([timedelta(minutes=150)] + [timedelta(minutes=5)] * 5)
    slow = only(judged([entry("0 * * * *")], runs, since=NOW - timedelta(hours=7)), "slow")
    assert slow.count == 1 and slow.first_at == runs[0].started_at
    assert "the median of the 5 runs around it is 5m" in slow.detail


def test_a_backup_that_took_1s_instead_of_5m_is_too_fast():
    tooks = [timedelta(minutes=5)] * 3 + [timedelta(seconds=1)] + [timedelta(minutes=5)] * 3
    runs = hourly(tooks)
    findings = judged([entry("0 * * * *")], runs, since=NOW - timedelta(hours=8))
    fast = only(findings, "too_fast")
    assert fast.count == 1 and fast.first_at == runs[3].started_at
    assert fast.severity == "warning"
    assert "ran 1s" in fast.detail and "the median of the 6 runs around it is 5m" in fast.detail
    assert fast.summary == "ran 1s at 08:00 (usual 5m)"
    assert "slow" not in kinds(findings)


def test_too_fast_and_slow_runs_on_either_side_each_stand_out_alone():
    five = timedelta(minutes=5)
    tooks = [five, five, timedelta(seconds=2), five, five, timedelta(hours=2), five, five]
    runs = hourly(tooks)
    findings = judged([entry("0 * * * *")], runs, since=NOW - timedelta(hours=9))
    assert only(findings, "too_fast").first_at == runs[2].started_at
    assert only(findings, "slow").first_at == runs[5].started_at
    assert only(findings, "slow").count == 1 and only(findings, "too_fast").count == 1


def test_durations_need_five_other_runs_and_runs_that_vary_a_lot_are_not_flagged():
    four = hourly([timedelta(minutes=5)] * 2 + [timedelta(seconds=1)] + [timedelta(minutes=5)] * 2)
    assert "too_fast" not in kinds(judged([entry("0 * * * *")], four, since=NOW - WEEK))
    # 1 to 10 minutes, and one run of 30 s: a third of the median, but within its spread.
    minutes = [1, 10, 2, 9, 3, 0.5, 8, 4, 7]
    varied = hourly([timedelta(minutes=m) for m in minutes])
    assert "too_fast" not in kinds(judged([entry("0 * * * *")], varied, since=NOW - WEEK))


def mailed(runs: list[RunRecord], sizes: list[int]) -> list[RunRecord]:
    """The runs with the output cron mailed for each (0: it printed nothing, so no mail)."""
    return [
        replace(r, output="done" if size else None, output_size=size or None, output_from="mail")
        for r, size in zip(runs, sizes, strict=True)
    ]


def test_a_run_that_printed_far_less_than_usual_is_too_fast_by_its_output_alone():
    # Its duration is the usual one (and with Debian's -L 1 it would have none): the output
    # is the signal.
    sizes = [14_000, 14_200, 13_900, 14_100, 0, 14_050, 13_950, 14_000]
    runs = mailed(hourly([timedelta(minutes=5)] * 8), sizes)
    fast = only(judged([entry("0 * * * *")], runs, since=NOW - timedelta(hours=9)), "too_fast")
    assert fast.count == 1 and fast.first_at == runs[4].started_at
    assert "printed 0 B; the median of the 7 runs around it printed 14 kB" in fast.detail
    assert fast.summary == "printed 0 B at 08:00 (usually 14 kB)"
    assert "(and the output each run sent)" in fast.evidence


def test_a_run_too_fast_by_both_its_duration_and_its_output_says_both():
    tooks = [timedelta(minutes=5)] * 3 + [timedelta(seconds=1)] + [timedelta(minutes=5)] * 3
    runs = mailed(hourly(tooks), [14_000, 14_200, 13_900, 120, 14_100, 14_050, 13_950])
    fast = only(judged([entry("0 * * * *")], runs, since=NOW - timedelta(hours=8)), "too_fast")
    assert fast.count == 1
    assert "ran 1s" in fast.detail and "and it printed 120 B" in fast.detail
    assert fast.summary == "ran 1s at 08:00 (usual 5m; printed 120 B)"


def test_output_sizes_that_vary_a_lot_or_by_little_are_not_flagged():
    runs = hourly([timedelta(minutes=5)] * 8)
    varied = mailed(runs, [3_000, 30_000, 5_000, 25_000, 900, 20_000, 8_000, 15_000])
    assert "too_fast" not in kinds(judged([entry("0 * * * *")], varied, since=NOW - WEEK))
    # A one-line report that lost a word: a third of usual, but by less than OUTPUT_MARGIN.
    terse = mailed(runs, [60, 60, 60, 60, 15, 60, 60, 60])
    assert "too_fast" not in kinds(judged([entry("0 * * * *")], terse, since=NOW - WEEK))
    # Bigger than usual is not too fast.
    more = mailed(runs, [900, 900, 900, 900, 90_000, 900, 900, 900])
    assert "too_fast" not in kinds(judged([entry("0 * * * *")], more, since=NOW - WEEK))


@pytest.mark.parametrize(
    ("trigger", "source", "said"),
    [
        ("cron", "mail", "from the mail cron sent"),
        ("cron", "log", "from the lines cron logged"),  # cronie's CMDOUT, file or journal
        ("manual", None, "as cronops captured it when it reran the job"),
    ],
)
def test_a_failed_runs_output_in_the_evidence_says_where_it_was_read(trigger, source, said):
    failed_run = run(NOW - timedelta(hours=1), status=2, trigger=trigger, output="disk full")
    failed_run = replace(failed_run, output_from=source)
    failed = only(judged([entry("0 * * * *")], [failed_run], since=NOW - WEEK), "failed")
    assert f"printed (the end of its output, {said}): disk full" in failed.evidence


def test_min_duration_from_policy_makes_a_short_run_too_fast_without_history():
    book = PolicyBook.from_tables(jobs=[{"command": "backup", "min_duration": "2m"}])
    runs = hourly([timedelta(seconds=40)])
    fast = only(judged([entry("0 * * * *")], runs, book=book, since=NOW - WEEK), "too_fast")
    assert "its min_duration is 2m" in fast.detail and fast.summary.endswith("(min 2m)")


def test_hung_by_history_is_3x_the_p95_of_its_durations_not_the_interval():
    # An every-minute job that always takes 75 s overlaps its next run: it is not hung at 72 s.
    job = entry("* * * * *")
    start = NOW - timedelta(minutes=10)
    runs = [
        run(start + timedelta(minutes=n, seconds=1), took=timedelta(seconds=75)) for n in range(8)
    ]
    going = NOW - timedelta(seconds=72)
    runs.append(run(going, took=None, status=None))
    process = RunningJob("web1", "backup", 31, going)
    assert "hung" not in kinds(judged([job], runs, running=[process], since=start))
    # At 4 minutes it is past 3 x 75 s.
    stuck = NOW - timedelta(minutes=4)
    process = RunningJob("web1", "backup", 32, stuck)
    runs[-1] = run(stuck, took=None, status=None)
    hung = only(judged([job], runs, running=[process], since=start), "hung")
    assert "limit 3m45s: 3x the p95 of its last 6 runs, 1m15s" in hung.evidence

    # A daily backup of 5 minutes is hung after 15, not after the 24 h to its next run.
    daily_runs = daily(days=7, took=timedelta(minutes=5))[:-1]
    today = NOW.replace(hour=3, minute=0, second=2)
    daily_runs.append(run(today, took=None, status=None))
    process = RunningJob("web1", "backup", 33, today)
    hung = only(judged(runs=daily_runs, running=[process]), "hung")
    assert hung.summary == "pid 33 running 8h59m (limit 15m)"


def test_hung_without_duration_history_is_a_process_running_longer_than_the_interval():
    job = entry("0 * * * *")
    # Starts only (Debian -L 1): no durations to take a limit from.
    runs = [run(NOW.replace(hour=h, second=2), took=None, status=None) for h in range(0, 9)]
    runs.append(run(NOW.replace(hour=9, second=2), took=None, status=None))
    process = RunningJob("web1", "backup", 4242, NOW.replace(hour=9, second=2))
    findings = judged([job], runs, running=[process], since=NOW.replace(hour=0))
    hung = only(findings, "hung")
    assert hung.first_at == NOW.replace(hour=9, second=2)
    assert hung.last_at == NOW
    assert "pid 4242" in hung.evidence and "limit 1h: the interval of its schedule" in hung.evidence
    assert hung.summary == "pid 4242 running 2h59m (limit 1h)"

    fresh = RunningJob("web1", "backup", 4243, NOW.replace(hour=11, minute=30))
    assert "hung" not in kinds(judged([job], runs, running=[fresh], since=NOW.replace(hour=0)))
    # Without a process list, a run with no end is not called hung.
    assert "hung" not in kinds(judged([job], runs, since=NOW.replace(hour=0)))


# -- baselines from the days folded past the retention ------------------------------------------

MONTHLY = "0 3 1 * *"


def folded_day(day: date, p50: float = 300, p95: float = 360, entry_id="backup") -> RunDay:
    """A day folded past the retention, as store.run_days reads it: one run by default."""
    seconds = [timedelta(seconds=s) for s in (p50, p95, p95)]
    return RunDay("web1", entry_id, day, 1, 1, 0, 0, 0, 0, *seconds)


def first_of_months(*months: tuple[int, int]) -> list[date]:
    return [date(year, month, 1) for year, month in months]


# A monthly job's year, folded: the raw runs kept (35 days) hold one or two of its runs.
FOLDED_MONTHS = first_of_months(*((2025, m) for m in range(4, 13)), (2026, 1))


def test_a_monthly_job_is_slow_against_its_folded_days_when_its_runs_are_too_few():
    job = entry(MONTHLY)
    runs = [
        run(datetime(2026, 2, 1, 3, 0, 2, tzinfo=UTC), took=timedelta(minutes=5)),
        run(datetime(2026, 3, 1, 3, 0, 2, tzinfo=UTC), took=timedelta(minutes=20)),
    ]
    days = [folded_day(day) for day in FOLDED_MONTHS]
    since = NOW - timedelta(days=10)

    assert "slow" not in kinds(judged([job], runs, since=since))  # two runs: no baseline
    slow = only(judged([job], runs, since=since, folded=days), "slow")

    assert slow.first_at == runs[1].started_at
    assert slow.detail == (
        "'/usr/local/bin/backup --full' (root@web1) ran 20m from 2026-03-01 03:00 UTC "
        "(the median of the 11 runs around it is 5m; 10 of them are folded days, each day's "
        "median)."
    )
    assert slow.summary == "ran 20m at 03-01 03:00 (usual 5m)"


def test_folded_days_stand_in_only_before_the_runs_read_and_only_where_they_are_too_few():
    job = entry("0 * * * *")
    # Six hourly runs of 5m and one of 20m: enough of its own for a baseline.
    runs = [run(NOW - timedelta(hours=h), took=timedelta(minutes=5)) for h in range(7, 1, -1)]
    runs.append(run(NOW - timedelta(hours=1), took=timedelta(minutes=20)))
    # Folded days of 20m would make the 20m run usual, if they were read.
    days = [folded_day(day, p50=1200, p95=1200) for day in FOLDED_MONTHS]
    since = NOW - timedelta(hours=8)
    assert judged([job], runs, since=since, folded=days) == judged([job], runs, since=since)
    assert "folded" not in only(judged([job], runs, since=since, folded=days), "slow").detail

    # A run kept past the retention is in its folded day too: that day, and any later, is not
    # read again.
    few = runs[-2:]
    same_day = [folded_day(few[0].started_at.date(), p50=1200), *map(folded_day, FOLDED_MONTHS)]
    slow = only(judged([job], few, since=since, folded=same_day), "slow")
    assert "; 10 of them are folded days, each day's median)" in slow.detail


def test_hung_takes_the_p95_of_folded_days_when_too_few_runs_ended_before():
    job = entry(MONTHLY)
    started = datetime(2026, 3, 1, 3, 0, 2, tzinfo=UTC)
    runs = [run(started, took=None, status=None)]
    process = RunningJob("web1", "backup", 77, started)
    days = [folded_day(day, p50=300, p95=600) for day in FOLDED_MONTHS]
    since = NOW - timedelta(days=10)

    # Without them, the limit is the month to its next run.
    assert "hung" not in kinds(judged([job], runs, running=[process], since=since))
    hung = only(judged([job], runs, running=[process], since=since, folded=days), "hung")

    assert (
        "(limit 30m: 3x the p95 of its last 10 runs, 10m; 10 of them are folded days, each "
        "day's p95)" in hung.evidence
    )


def test_overlap_from_end_times_and_from_the_process_list():
    job = entry("*/5 * * * *")
    base = NOW - timedelta(minutes=30)
    runs = [
        run(base + timedelta(minutes=5 * n, seconds=1), took=timedelta(minutes=2)) for n in range(6)
    ]
    runs[2] = run(runs[2].started_at, took=timedelta(minutes=7))  # still running at the next start
    overlap = only(judged([job], runs, since=base), "overlap")
    assert overlap.count == 1
    assert overlap.first_at == runs[3].started_at
    assert overlap.summary == "started 11:45 while 11:40 ran"

    # -L 1: no ends; the process list shows the run from 11:45 still going at 11:50 and 11:55.
    no_ends = [run(r.started_at, took=None, status=None) for r in runs]
    process = RunningJob("web1", "backup", 99, runs[3].started_at)
    facts = host(ends_logged=False, failures_logged=False)
    findings = judged([job], no_ends, [facts], running=[process], since=base)
    assert only(findings, "overlap").count == 2
    assert only(findings, "overlap").summary == "started 11:55 while 11:45 ran (×2 since 11:50)"


def test_a_manual_run_during_a_scheduled_one_is_an_overlap():
    job = entry("0 * * * *")
    runs = [run(NOW.replace(hour=h, second=2), took=timedelta(minutes=20)) for h in range(0, 12)]
    runs.append(run(NOW.replace(hour=10, minute=10), trigger="manual"))
    overlap = only(judged([job], runs, since=NOW.replace(hour=0)), "overlap")
    assert overlap.first_at == NOW.replace(hour=10, minute=10)


# -- hosts ------------------------------------------------------------------------------------


def test_an_unreachable_host_gives_one_host_finding_and_no_missed():
    facts = host(status="unreachable", error="connection refused", ok_at=None)
    findings = judged(runs=[], hosts=[facts])
    assert kinds(findings) == ["unreachable"]
    assert findings[0].entry_id is None and findings[0].severity == "critical"
    assert "never scanned successfully" in findings[0].detail
    assert findings[0].summary == "connection refused"


def test_an_unreachable_host_is_judged_only_up_to_its_last_successful_scan():
    last_ok = NOW - timedelta(days=3)  # 2026-03-07 12:00; nothing read since
    facts = host(status="timeout", error="timed out", ok_at=last_ok)
    runs = [r for r in daily() if r.started_at < last_ok]
    assert kinds(judged(runs=runs, hosts=[facts])) == ["unreachable"]

    runs_with_gap = [r for r in runs if r.started_at.day != 5]
    findings = judged(runs=runs_with_gap, hosts=[facts])
    assert kinds(findings) == ["missed", "unreachable"]
    assert only(findings, "missed").count == 1


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("auth_failed", "auth"),
        ("host_key_unknown", "host_key"),
        ("host_key_changed", "host_key"),
        ("error", "unreachable"),
    ],
)
def test_connection_problems_are_host_findings(status, kind):
    findings = judged(runs=[], hosts=[host(status=status, error="x", ok_at=None)])
    assert kinds(findings) == [kind]


def test_a_stopped_cron_daemon_is_one_finding_with_its_jobs_missed_runs_under_it():
    stopped_at = NOW - timedelta(hours=1, minutes=30)
    job = entry("*/5 * * * *")
    starts = [NOW - timedelta(hours=4) + timedelta(minutes=5 * n, seconds=1) for n in range(48)]
    runs = [run(s) for s in starts if s < stopped_at]
    facts = host(cron_running=False)
    findings = judged([job], runs, [facts], since=NOW - timedelta(hours=4))
    assert kinds(findings) == ["cron_not_running"]
    stopped = findings[0]
    assert kinds(stopped.jobs) == ["missed"]
    missed = stopped.jobs[0]
    assert missed.first_at == datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
    assert "cron is not running" in missed.detail
    assert stopped.detail.endswith(f"1 job missed {missed.count} runs since 2026-03-10 10:30 UTC.")
    assert stopped.summary == f"no cron daemon: 1 job missed {missed.count} runs since 03-10 10:30"
    assert list(every_finding(findings)) == [stopped, missed]

    # A job that never ran there is missed too: the daemon, not the entry, is why.
    (stopped,) = judged([job], [], [facts], since=NOW - timedelta(hours=4))
    assert kinds(stopped.jobs) == ["missed"]


def test_a_running_cron_daemon_leaves_missed_runs_each_a_finding():
    job = entry("*/5 * * * *")
    findings = judged([job], [run(NOW - timedelta(hours=3))], since=NOW - timedelta(hours=4))
    assert kinds(findings) == ["missed"] and findings[0].jobs == []


def test_host_facts_findings():
    facts = host(
        clock_skew=timedelta(minutes=3),
        crontab_problems=(("/etc/cron.d/sync", 3, "bad minute '61'"),),
    )
    findings = judged(runs=daily(), hosts=[facts])
    assert kinds(findings) == ["clock_skew", "crontab_errors"]
    assert "3m ahead of ours" in only(findings, "clock_skew").evidence
    assert "/etc/cron.d/sync:3: bad minute '61'" in only(findings, "crontab_errors").evidence
    assert only(findings, "clock_skew").summary == "clock 3m ahead of ours"
    assert only(findings, "crontab_errors").summary == "/etc/cron.d/sync:3: bad minute '61'"
    more = host(crontab_problems=(("/etc/crontab", 1, "bad hour"), ("/etc/crontab", 2, "x")))
    assert only(judged(runs=daily(), hosts=[more]), "crontab_errors").summary == (
        "/etc/crontab:1: bad hour (+1 more)"
    )


def test_a_job_in_a_file_cron_rejects_says_so():
    facts = host(crontab_problems=(("/var/spool/cron/crontabs/root", 3, "bad minute '61'"),))
    never = only(judged(runs=[], hosts=[facts]), "never_ran")
    assert "Debian cron ignores the whole file" in never.evidence


# -- policy in findings ------------------------------------------------------------------------


def test_no_job_finding_inside_a_maintenance_window():
    skipped = {NOW.date() - timedelta(days=1), NOW.date() - timedelta(days=2)}
    runs = daily(skip=skipped)
    once = PolicyBook.from_tables(
        defaults={"maintenance": [{"start": "2026-03-09T02:00:00Z", "end": "2026-03-09T04:00:00Z"}]}
    )
    missed = only(judged(runs=runs, book=once), "missed")
    assert (missed.count, missed.first_at.day) == (1, 8)

    weekly = PolicyBook.from_tables(
        hosts={"web1": {"maintenance": [{"cron": "0 2 * * *", "duration": "2h"}]}}
    )
    assert judged(runs=runs, book=weekly) == []


def test_a_host_finding_inside_a_maintenance_window_is_dropped():
    facts = host(status="unreachable", error="down", ok_at=None)
    book = PolicyBook.from_tables(
        defaults={"maintenance": [{"cron": "0 11 * * *", "duration": "2h"}]}
    )
    assert judged(runs=[], hosts=[facts], book=book) == []


def test_ignored_kinds_and_severity_from_policy():
    skipped = NOW.date() - timedelta(days=1)
    runs = daily(skip={skipped})
    assert (
        judged(
            runs=runs, book=PolicyBook.from_tables(jobs=[{"id": "backup", "ignore": ["missed"]}])
        )
        == []
    )
    low = judged(
        runs=runs,
        book=PolicyBook.from_tables(tags={"batch": {"tier": "low"}}),
        hosts=[host(tags=("batch",))],
    )
    assert only(low, "missed").severity == "info"
    critical = PolicyBook.from_tables(jobs=[{"command": "backup", "tier": "critical"}])
    assert only(judged(runs=runs, book=critical), "missed").severity == "critical"
    book = PolicyBook.from_tables(
        jobs=[{"user": "root", "runbook": "https://wiki/backup", "severity": "info"}]
    )
    missed = only(judged(runs=runs, book=book), "missed")
    assert (missed.severity, missed.runbook) == ("info", "https://wiki/backup")


def test_grace_from_policy():
    runs = [r for r in daily() if r.started_at.day != 9] + [
        run(datetime(2026, 3, 9, 3, 20, tzinfo=UTC))
    ]
    assert kinds(judged(runs=runs)) == ["late"]
    assert judged(runs=runs, book=PolicyBook.from_tables(defaults={"grace": "30m"})) == []


def test_findings_come_hosts_first_then_worst_first_then_latest_first():
    entries = [entry(id="a", command="a"), entry(id="b", command="b", schedule="0 5 * * *")]
    runs = [*daily(entry_id="a"), *daily(hour=5, entry_id="b")]
    runs = [r for r in runs if not (r.entry_id == "a" and r.started_at.day == 8)]
    runs = [r for r in runs if not (r.entry_id == "b" and r.started_at.day == 9)]
    late_a = run(datetime(2026, 3, 6, 3, 30, tzinfo=UTC), entry_id="a")
    runs = [r for r in runs if not (r.entry_id == "a" and r.started_at.day == 6)] + [late_a]
    findings = judged(entries, runs, hosts=[host(clock_skew=timedelta(minutes=5))])
    order = [(f.severity, f.kind, f.entry_id) for f in findings]
    assert order == [
        ("warning", "clock_skew", None),  # the host's own: it may explain the jobs'
        ("warning", "missed", "b"),  # 03-09 05:00
        ("warning", "missed", "a"),  # 03-08 03:00
        ("info", "late", "a"),
    ]


# -- entry status -------------------------------------------------------------------------------


def status_of(runs, job=None, facts=None, running=()) -> EntryStatus:
    return entry_status(job or entry(), facts or host(), runs, list(running), PolicyBook(), NOW)


def test_entry_status_states():
    ok = status_of(daily())
    assert (ok.state, ok.last_outcome) == ("ok", "ok")
    assert ok.last_run == datetime(2026, 3, 10, 3, 0, 2, tzinfo=UTC)
    assert ok.next_run == datetime(2026, 3, 11, 3, 0, tzinfo=UTC)

    failing = daily()
    failing[-1] = run(failing[-1].started_at, status=1)
    assert status_of(failing).state == "failing"
    assert "exit status 1" in status_of(failing).explanation

    missed = status_of(daily(skip={NOW.date()}))
    assert missed.state == "missed"
    assert "2026-03-10 03:00 UTC" in missed.explanation

    assert status_of(daily(), entry(disabled=True)).state == "disabled"
    held = status_of(daily(), paused(NOW + timedelta(hours=1)))
    assert (held.state, held.next_run) == ("paused", None)
    assert held.explanation == "paused by cronops: cron does not run it."

    away = status_of(daily(), facts=host(status="unreachable", error="x"))
    assert away.state == "unknown" and "unreachable" in away.explanation

    fresh = status_of([], entry(crontab_mtime=NOW - timedelta(hours=1)))
    assert fresh.state == "unknown" and fresh.last_outcome == ""
    assert "are unknown" in fresh.explanation


def test_entry_status_of_an_expired_pause_says_when_it_ended():
    expired = status_of(daily(), paused(NOW - timedelta(hours=3)))
    assert (expired.state, expired.next_run) == ("paused", None)
    assert expired.explanation == (
        "paused by cronops until 2026-03-10 09:00 UTC; that was 3h ago: cron still does not run it."
    )


def test_entry_status_late():
    runs = [r for r in daily() if r.started_at.day != 10]
    runs.append(run(datetime(2026, 3, 10, 3, 25, tzinfo=UTC)))
    late = status_of(runs)
    assert late.state == "late" and "25m late" in late.explanation


def test_entry_status_running_and_hung():
    job = entry("0 * * * *")
    start = NOW.replace(hour=11, second=2)
    runs = [run(NOW.replace(hour=10, second=2)), run(start, took=None, status=None)]
    running = status_of(runs, job, running=[RunningJob("web1", "backup", 7, start)])
    assert (running.state, running.last_outcome) == ("running", "running")
    old = NOW.replace(hour=8, second=2)
    hung = status_of(runs, job, running=[RunningJob("web1", "backup", 7, old)])
    assert hung.state == "hung" and "pid 7" in hung.explanation


# -- scale and the expected-time shortcut --------------------------------------------------------


def test_a_large_fleet_is_judged_in_seconds():
    since = NOW - WEEK
    zones = (UTC_ZONE, BERLIN, NEW_YORK)
    hosts = [host(name=f"h{i}", zone=zones[i % 3]) for i in range(100)]
    entries = [
        entry("*/5 * * * *", id=f"e{i}", host=f"h{i % 100}", command=f"job {i}")
        for i in range(10_000)
    ]
    runs = [
        run(since + timedelta(minutes=5 * k, seconds=2), entry_id=f"e{i}", host=f"h{i % 100}")
        for i in range(0, 10_000, 500)
        for k in range(2016)
    ]
    started = time.perf_counter()
    findings = judged(entries, runs, hosts, since=since)
    elapsed = time.perf_counter() - started
    print(f"judged 10k entries x a week of */5 ({len(runs)} runs) in {elapsed:.2f}s")
    assert len(findings) == 10_000 - 20


# -- one judge: the Jobs view's state and Problems say the same --------------------------------


def both(runs, job=None, facts=None, running=(), book=None, now=NOW):
    """What Problems says about the entry (its finding kinds over the last day) and what the
    Jobs view says (its state), from the same evidence."""
    job = job or entry()
    facts = facts or host(ok_at=now)
    book = book or PolicyBook()
    findings = judge([facts], [job], runs, running, book, now, now - timedelta(days=1))
    status = entry_status(job, facts, runs, running, book, now)
    return [f.kind for f in findings if f.entry_id == job.id], status


def quieting(kind: str) -> tuple[PolicyBook, PolicyBook]:
    """Two policies that quiet `kind` for today's 03:00 run: a maintenance window, an ignore."""
    window = {"start": "2026-03-10T02:00:00Z", "end": "2026-03-10T04:00:00Z"}
    return (
        PolicyBook.from_tables(defaults={"maintenance": [window]}),
        PolicyBook.from_tables(jobs=[{"id": "backup", "ignore": [kind]}]),
    )


def test_a_0_1_3_job_started_at_1_and_running_at_0430_is_hung_in_both():
    # Its scheduled runs around 01:00 are 2h apart: that is its limit, not the 22h from 03:00.
    now = datetime(2026, 3, 10, 4, 30, tzinfo=UTC)
    job = entry("0 1,3 * * *")
    start = datetime(2026, 3, 10, 1, 0, 2, tzinfo=UTC)
    # No durations known (starts only): the limit is the schedule's.
    earlier = [*daily(hour=1, days=3, took=None)[:-1], *daily(hour=3, days=3, took=None)[:-1]]
    runs = [*earlier, run(start, took=None)]
    runs = [r for r in runs if r.started_at < now]
    process = RunningJob("web1", "backup", 77, start)
    found, status = both(runs, job, running=[process], now=now)
    assert "hung" in found
    assert status.state == "hung"
    assert "limit 2h" in status.explanation and "pid 77" in status.explanation

    # Started at 03:00 instead, the next run is 22h away: running, in both.
    late_start = datetime(2026, 3, 10, 3, 0, 2, tzinfo=UTC)
    process = RunningJob("web1", "backup", 78, late_start)
    runs[-1] = run(late_start, took=None)
    found, status = both(runs, job, running=[process], now=now)
    assert "hung" not in found
    assert status.state == "running"


def test_hung_past_max_duration_in_both_and_neither_when_the_policy_ignores_it():
    job = entry("0 * * * *")
    start = NOW.replace(hour=11, second=2)
    runs = [run(NOW.replace(hour=10, second=2)), run(start, took=None, status=None)]
    process = RunningJob("web1", "backup", 7, start)
    book = PolicyBook.from_tables(jobs=[{"id": "backup", "max_duration": "30m"}])
    found, status = both(runs, job, running=[process], book=book)
    assert "hung" in found and status.state == "hung" and "limit 30m" in status.explanation

    book = PolicyBook.from_tables(
        jobs=[{"id": "backup", "max_duration": "30m", "ignore": ["hung"]}]
    )
    found, status = both(runs, job, running=[process], book=book)
    assert "hung" not in found and status.state == "running"


def test_the_latest_due_run_is_missed_in_both_once_its_grace_has_passed():
    runs = daily(skip={NOW.date()})
    for minutes, missed in ((4, False), (6, True)):
        now = NOW.replace(hour=3, minute=minutes)
        found, status = both([r for r in runs if r.started_at < now], now=now)
        assert ("missed" in found) is missed
        assert (status.state == "missed") is missed, (minutes, status)
        if missed:
            assert "2026-03-10 03:00 UTC" in status.explanation


def test_a_missed_run_in_a_maintenance_window_or_ignored_is_missed_in_neither():
    runs = daily(skip={NOW.date()})
    for book in quieting("missed"):
        found, status = both(runs, book=book)
        assert "missed" not in found
        assert status.state == "ok"


def test_the_latest_due_run_is_late_in_both():
    runs = [r for r in daily() if r.started_at.day != 10]
    runs.append(run(datetime(2026, 3, 10, 3, 25, tzinfo=UTC)))
    found, status = both(runs)
    assert "late" in found and status.state == "late"

    book = PolicyBook.from_tables(defaults={"grace": "30m"})
    found, status = both(runs, book=book)
    assert "late" not in found and status.state == "ok"


def test_a_failed_last_run_is_failing_in_jobs_and_failed_in_problems():
    runs = daily()
    runs[-1] = run(runs[-1].started_at, status=None, signal=9)
    found, status = both(runs)
    assert "failed" in found
    assert (status.state, status.last_outcome) == ("failing", "killed")

    # Inside a maintenance window, or ignored by the policy: neither.
    for book in quieting("failed"):
        found, status = both(runs, book=book)
        assert "failed" not in found
        assert status.state == "ran" and status.last_outcome == "killed"


def test_a_process_is_its_run_within_5s_in_both_the_outcome_and_the_overlap():
    job = entry("0 * * * *")
    # Starts only: the hour of the schedule, not a duration history, is the hung limit here.
    runs = [run(NOW.replace(hour=h, second=2), took=None) for h in range(0, 11)]
    runs.append(run(NOW.replace(hour=11, second=2), took=None, status=None))
    own = RunningJob("web1", "backup", 7, NOW.replace(hour=11, second=6))
    found, status = both(runs, job, running=[own])
    assert "overlap" not in found
    assert (status.state, status.last_outcome) == ("running", "running")

    # A process from 10:59:50 is not the 11:00 run's: that run overlapped it (and, belonging to
    # 10:00, it has outrun its hour).
    earlier = RunningJob("web1", "backup", 6, NOW.replace(hour=10, minute=59, second=50))
    found, status = both(runs, job, running=[earlier])
    assert {"overlap", "hung"} <= set(found)
    assert (status.state, status.last_outcome) == ("hung", "unknown")


def test_cron_tz_moves_the_state_as_it_moves_the_findings():
    # On cronie CRON_TZ=Asia/Tokyo puts 03:00 at 18:00 UTC the day before.
    job = entry(cron_tz="Asia/Tokyo")
    facts = host(cron_family="cronie", ok_at=NOW)
    runs = daily(hour=3, zone=ZoneInfo("Asia/Tokyo"))
    found, status = both(runs, job, facts)
    assert found == [] and status.state == "ok"
    found, status = both(runs[:-1], job, facts)
    assert "missed" in found and status.state == "missed"


# -- crontabs and the fleet: lint, changed, drift ---------------------------------------------


def on(name: str, schedule: str = "0 3 * * *", user: str = "root", **changes) -> JobEntry:
    return entry(schedule, id=f"backup-{name}", host=name, user=user, **changes)


def test_a_command_on_three_hosts_with_one_other_schedule_is_drift_on_that_one():
    hosts = [host(name=n, tags=("web",)) for n in ("web1", "web2", "web3")]
    entries = [on("web1"), on("web2"), on("web3", "0 4 * * *")]
    drift = only(judged(entries, hosts=hosts), "drift")
    assert (drift.host, drift.entry_id, drift.severity) == ("web3", "backup-web3", "info")
    assert "schedule '0 4 * * *' here, '0 3 * * *' on 2 other hosts (web1, web2)" in drift.detail
    assert "on purpose" in drift.evidence
    # Two hosts that differ: no majority, nothing said (it may be a staggered schedule).
    assert "drift" not in kinds(judged(entries[1:], hosts=hosts[1:]))
    # A different user is drift too.
    users = [on("web1"), on("web2"), on("web3", user="alice")]
    assert only(judged(users, hosts=hosts), "drift").host == "web3"


def test_a_command_on_nearly_all_hosts_of_a_tag_is_drift_where_it_is_missing():
    names = [f"web{n:02}" for n in range(1, 11)]
    hosts = [host(name=n, tags=("web",)) for n in names]
    entries = [on(n) for n in names if n != "web07"]
    drift = only(judged(entries, hosts=hosts), "drift")
    assert (drift.host, drift.entry_id) == ("web07", None)
    assert "on 9 of 10 hosts tagged web" in drift.detail
    # 2 of 3 is a role, not drift; an unreachable host is not "missing" anything.
    assert "drift" not in kinds(judged(entries[:2], hosts=hosts[:3]))
    down = [
        h if h.name != "web07" else host(name="web07", tags=("web",), status="unreachable")
        for h in hosts
    ]
    assert "drift" not in kinds(judged(entries, hosts=down))


def stored(text: str, path: str = "/var/spool/cron/crontabs/root", **changes):
    from cronops.crontab import StoredCrontab

    values = {"host": "web1", "path": path, "kind": "user", "owner": "root", "text": text}
    return StoredCrontab(**(values | changes))


def test_lint_notes_are_info_findings_on_their_entry_and_rejected_lines_are_not_repeated():
    from cronops.analysis import CrontabEvidence

    text = "0 0 13 * 5 /usr/local/bin/backup --full\nbad line\n"
    crontab = stored(text)
    (job,) = crontab.parsed().entries
    evidence = CrontabEvidence(files=[crontab])
    found = judge([host()], [entry(id=job.id)], [], [], PolicyBook(), NOW, NOW - WEEK, evidence)
    lint = only(found, "lint")
    assert (lint.entry_id, lint.severity) == (job.id, "info")
    assert "either" in lint.detail and "/var/spool/cron/crontabs/root:1" in lint.detail
    assert "cannot be seen" not in lint.evidence  # read from the crontab, not the log


def test_an_edit_outside_cronops_is_a_changed_finding_and_cronops_own_is_not():
    from cronops.analysis import CrontabEvidence
    from cronops.changes import BY_CRONOPS, BY_LOG, Change

    edit = Change(
        at=NOW - timedelta(hours=1),
        known_by=BY_LOG,
        host="web1",
        path="/var/spool/cron/crontabs/root",
        kind="schedule changed",
        entry_id="backup",
        before="0 3 * * * /usr/local/bin/backup --full",
        after="30 4 * * * /usr/local/bin/backup --full",
        who="bob",
        via="crontab -",
    )
    evidence = CrontabEvidence(changes=[edit])
    found = judge([host()], [entry()], [], [], PolicyBook(), NOW, NOW - WEEK, evidence)
    changed = only(found, "changed")
    assert (changed.entry_id, changed.severity, changed.last_at) == ("backup", "info", edit.at)
    assert "schedule changed" in changed.detail and "by bob (crontab -)" in changed.detail
    assert changed.summary.startswith("schedule changed by bob (crontab -)")
    ours = CrontabEvidence(changes=[replace(edit, known_by=BY_CRONOPS, who="alice@ops")])
    found = judge([host()], [entry()], [], [], PolicyBook(), NOW, NOW - WEEK, ours)
    assert "changed" not in kinds(found)


@given(
    before=st.lists(st.floats(0, 100), max_size=4),
    ats=st.lists(st.floats(0, 100), max_size=12).map(sorted),
)
def test_occurrences_added_at_once_tally_as_added_one_by_one(before, ats):
    """_Tally.add_each (an entry's hundreds of slow runs) keeps the count, the first and last
    times, the examples shown and the latest note that adding each in turn keeps."""

    def note(i: int) -> wording.Note:
        return wording.Note(f"full {i}", f"short {i}")

    one_by_one, at_once = _Tally(), _Tally()
    for tally in (one_by_one, at_once):
        for at in before:
            tally.add(at, lambda: wording.Note("earlier", "e"))
    for i, at in enumerate(ats):
        one_by_one.add(at, lambda i=i: note(i))
    at_once.add_each(ats, note)
    assert at_once.folded() == one_by_one.folded()
