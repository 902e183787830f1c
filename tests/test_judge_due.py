"""A rescan judges only what can have changed: a host whose scan stored nothing new keeps its
stored findings unjudged until what its judgement read changes or time alone can change a
verdict (due.py); drift likewise, until the fleet's crontabs change.

Histories filled as scans fill them (tests/history.py); the real fleet's:
tests/test_incidents_fleet.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cronops import audit, due, probe
from cronops.inventory import Host
from cronops.kinds import ENTRY_REMOVED
from cronops.policy import PolicyBook
from cronops.records import Finding, HostFacts, JobEntry, RunningJob, RunRecord
from cronops.schedule import next_time
from cronops.store import Store
from tests import history

ZONE = "UTC"
SPOOL_ROOT = "/var/spool/cron/crontabs/root"
BACKUP = "/usr/local/bin/backup"
HALF_HOURLY = f"0,30 * * * * {BACKUP}\n"
SCANNED = datetime(2026, 11, 28, 10, 10, tzinfo=UTC)
DAEMON_STARTED = datetime(2026, 11, 20, 8, 0, 30, tzinfo=UTC)
MONTH_AGO = {SPOOL_ROOT: SCANNED - timedelta(days=30)}


def run_lines(start: datetime, status: int | None, pid: int) -> str:
    """A Debian -L 15 run of the backup: its start, and its end (a failure first) unless
    `status` is None (still running)."""
    lines = history.syslog(start, ZONE, "web1", f"CRON[{pid}]: (root) CMD ([{pid + 1}] {BACKUP})")
    if status is None:
        return lines
    end = start + timedelta(seconds=20)
    if status:
        failure = f"(CRON) error (grandchild #{pid + 1} failed with exit status {status})"
        lines += history.syslog(end, ZONE, "web1", f"CRON[{pid}]: {failure}")
    return lines + history.syslog(
        end, ZONE, "web1", f"CRON[{pid}]: (root) END ([{pid + 1}] {BACKUP})"
    )


def processes(at: datetime, job_since: datetime | None = None) -> list[probe.Process]:
    """The host's process list at `at`: cron (started at DAEMON_STARTED) and, since
    `job_since`, the backup it started."""

    def elapsed(since: datetime) -> int:
        return int((at - since).total_seconds())

    found = [probe.Process(1, 0, "root", elapsed(DAEMON_STARTED), "/usr/sbin/cron -f -L 15")]
    if job_since is not None:
        found += [
            probe.Process(50, 1, "root", elapsed(job_since), "/usr/sbin/CRON -f -L 15"),
            probe.Process(51, 50, "root", elapsed(job_since), f"/bin/sh -c {BACKUP}"),
        ]
    return found


def scan(
    db,
    at: datetime,
    *,
    log: str = "",
    crontab: str = HALF_HOURLY,
    policy=None,
    job_since=None,
    mtimes=MONTH_AGO,
    window=history.WINDOW,
):
    history.scan(
        db,
        "web1",
        {SPOOL_ROOT: crontab},
        at,
        zone=ZONE,
        log=log,
        log_read=True,
        mtimes=mtimes,
        policy=policy or PolicyBook(),
        processes=processes(at, job_since),
        window=window,
    )


@pytest.fixture
def judged(monkeypatch):
    """How many times a scan's judge read and judged hosts' runs (audit.run_audit)."""
    calls = []
    judge = audit.run_audit

    def counted(*args, **kwargs):
        calls.append(args[2])  # the hosts
        return judge(*args, **kwargs)

    monkeypatch.setattr(audit, "run_audit", counted)
    return calls


@pytest.fixture
def failing(tmp_path):
    """web1's half-hourly backup ran at 09:00 and 09:30, and failed at 10:00; scanned at 10:10."""
    db = tmp_path / "history.db"
    log = "".join(
        run_lines(SCANNED.replace(hour=h, minute=m, second=1), status, pid)
        for h, m, status, pid in ((9, 0, 0, 100), (9, 30, 0, 200), (10, 0, 3, 300))
    )
    scan(db, SCANNED, log=log)
    return db


def incidents(db, now: datetime) -> list:
    store = Store(db)
    try:
        return store.incidents(now=now)
    finally:
        store.close()


def kinds(db, now: datetime) -> dict[str, str]:
    return {i.kind: i.state for i in incidents(db, now)}


def test_a_rescan_with_nothing_new_judges_nothing_and_keeps_the_stored_findings(failing, judged):
    later = SCANNED + timedelta(minutes=10)
    before = incidents(failing, later)
    assert kinds(failing, later) == {"failed": "open"}

    scan(failing, later)

    assert judged == []
    assert incidents(failing, later) == before  # last_seen too: not judged again


def test_a_run_missed_by_time_alone_is_found_by_the_next_scan(failing, judged):
    """10:30 passes its grace (5 minutes) with no new line in the log: nothing new was stored,
    but the next expected time came due."""
    scan(failing, SCANNED + timedelta(minutes=26))  # 10:36

    assert len(judged) == 1
    assert kinds(failing, SCANNED + timedelta(minutes=26)) == {"failed": "open", "missed": "open"}


def test_a_run_hung_by_time_alone_is_found_by_the_next_scan(tmp_path, judged):
    """A daily backup started at 10:00 still runs; past its max_duration (30m) at 10:35 with
    nothing new in the log, long before its next expected time."""
    db = tmp_path / "history.db"
    book = PolicyBook.from_tables(jobs=[{"command": BACKUP, "max_duration": "30m"}])
    started = SCANNED.replace(minute=0, second=1)
    daily = f"0 10 * * * {BACKUP}\n"
    scan(
        db,
        SCANNED,
        log=run_lines(started, None, 300),
        crontab=daily,
        policy=book,
        job_since=started,
    )
    assert kinds(db, SCANNED) == {}

    later = SCANNED + timedelta(minutes=25)
    scan(db, later, crontab=daily, policy=book, job_since=started)

    assert len(judged) == 2
    assert kinds(db, later) == {"hung": "open"}


def test_runs_stored_by_a_scan_whose_judging_failed_are_judged_by_the_next_scan(
    failing, monkeypatch
):
    """The scan's data is kept when judging fails; the next scan, though it stores nothing
    new and no expected time passed, judges what that one stored (the backup, run by hand at
    10:05, failed again)."""
    import cronops.incidents as judging

    def broken(*args, **kwargs):
        raise RuntimeError("judge broke")

    again = run_lines(SCANNED.replace(minute=5, second=1), 3, 400)
    with monkeypatch.context() as patched:
        patched.setattr(judging, "_judge", broken)
        scan(failing, SCANNED + timedelta(minutes=1), log=again)
    (failed,) = incidents(failing, SCANNED + timedelta(minutes=1))
    assert failed.streak == 1

    scan(failing, SCANNED + timedelta(minutes=2))
    (failed,) = incidents(failing, SCANNED + timedelta(minutes=2))
    assert failed.streak == 2


def test_a_changed_policy_judges_again(failing, judged):
    louder = PolicyBook.from_tables(defaults={"severity": {"failed": "critical"}})
    later = SCANNED + timedelta(minutes=10)

    scan(failing, later, policy=louder)

    assert len(judged) == 1
    (failed,) = incidents(failing, later)
    assert (failed.kind, failed.severity, failed.last_seen) == ("failed", "critical", later)


def test_an_edited_crontab_judges_again(failing, judged):
    later = SCANNED + timedelta(minutes=10)

    scan(failing, later, crontab="# no more backups\n", mtimes={SPOOL_ROOT: later})

    assert len(judged) == 1
    (failed,) = [i for i in incidents(failing, later) if i.kind == "failed"]
    assert (failed.state, failed.resolved_why) == ("resolved", ENTRY_REMOVED)


def test_a_longer_window_judges_again(failing, judged):
    scan(failing, SCANNED + timedelta(minutes=10), window=timedelta(days=30))
    assert len(judged) == 1


def test_runs_pruned_or_stored_by_a_scan_without_the_policy_are_judged_by_the_next_scan(
    failing, judged
):
    """What a judgement read changed outside a scan that judged it: the retention folded and
    deleted runs, or a scan without the inventory's policy stored new ones."""
    store = Store(failing)
    try:
        assert store.fold_runs("web1", SCANNED.date(), 1000)[1] > 0  # deleted
    finally:
        store.close()
    scan(failing, SCANNED + timedelta(minutes=10))
    assert len(judged) == 1

    later = SCANNED + timedelta(minutes=20)
    history.scan(
        failing,
        "web1",
        {SPOOL_ROOT: HALF_HOURLY},
        later,
        zone=ZONE,
        log=run_lines(SCANNED.replace(minute=15, second=1), 4, 400),  # a manual run's, say
        mtimes=MONTH_AGO,
        processes=processes(later),
    )
    scan(failing, SCANNED + timedelta(minutes=21))
    assert len(judged) == 2


def test_drift_is_judged_again_when_a_peers_crontab_changes_and_not_before(tmp_path, monkeypatch):
    """web3's backup runs at 03:30, the others' at 03:00: drift. A rescan of web3 with nothing
    new compares nothing anew; once web1 moves to 03:30 too, web3's rescan judges its drift
    again, and it is gone (web2 is the odd one now)."""
    from cronops import analysis

    calls = []
    judge = analysis.drift

    def counted(facts, *args, **kwargs):
        calls.append(sorted(f.name for f in facts))
        return judge(facts, *args, **kwargs)

    monkeypatch.setattr(analysis, "drift", counted)
    db = tmp_path / "history.db"
    book = PolicyBook()

    def scan_of(host: str, minute: int, at: datetime) -> None:
        crontab = {SPOOL_ROOT: f"{minute} 3 * * * {BACKUP}\n"}
        history.scan(db, host, crontab, at, zone=ZONE, mtimes=MONTH_AGO, policy=book)

    for host, minute in (("web1", 0), ("web2", 0), ("web3", 30)):
        scan_of(host, minute, SCANNED)
    store = Store(db)
    try:
        from cronops.incidents import judge_across

        hosts = [Host(name=name, address="127.0.0.1") for name in ("web1", "web2", "web3")]
        with store.transaction() as sql:
            judge_across(store, sql, hosts, book, SCANNED - history.WINDOW, SCANNED)
    finally:
        store.close()
    assert {i.host for i in incidents(db, SCANNED) if i.kind == "drift"} == {"web3"}
    calls.clear()

    scan_of("web3", 30, SCANNED + timedelta(minutes=5))
    assert calls == []

    scan_of("web1", 30, SCANNED + timedelta(minutes=6))
    scan_of("web3", 30, SCANNED + timedelta(minutes=7))
    assert calls == [["web1"], ["web3"]]
    drift = {i.host: i.state for i in incidents(db, SCANNED) if i.kind == "drift"}
    assert drift["web3"] == "resolved"


# -- due.py's moments, pure ------------------------------------------------------------------


def facts(**changes) -> HostFacts:
    values = {
        "name": "web1",
        "status": "ok",
        "error": None,
        "zone": UTC,
        "ok_at": SCANNED,
        "coverage_start": SCANNED - timedelta(days=40),
    }
    return HostFacts(**(values | changes))


def entry(schedule: str = "0 3 * * *") -> JobEntry:
    return history.entry(
        source=SPOOL_ROOT,
        schedule=schedule,
        command=BACKUP,
        first_seen=SCANNED - timedelta(days=40),
        host="web1",
    )


def run(start: datetime, status: int = 0) -> RunRecord:
    return RunRecord(
        host="web1",
        entry_id="backup",
        started_at=start,
        ended_at=start + timedelta(seconds=20),
        status=status,
        signal=None,
    )


def due_of(*, host=None, runs=(), running=(), findings=(), schedule="0 3 * * *", book=None):
    book = book or PolicyBook()
    host = host or facts()
    entries = [entry(schedule)]
    since = SCANNED - timedelta(days=8)
    policies = due.policies(book, host, entries)
    return due.judge_due(
        host, entries, list(runs), list(running), findings, policies, since, SCANNED
    )


def test_a_host_not_answering_or_with_a_process_running_is_due_at_once():
    process = RunningJob("web1", "backup", 51, SCANNED - timedelta(minutes=5))
    silent = due_of(host=facts(status="timeout"))
    assert silent.host.at == silent.entries["backup"].at == SCANNED
    running = due_of(running=[process])
    assert running.entries["backup"].at == SCANNED  # the entry with the process, not the host
    assert running.host.at == SCANNED + due.at_least_every("web1") - due.EARLY


def test_the_next_expected_time_and_an_hour_at_most():
    # A daily 03:00 job scanned at 10:10: nothing due before the hour is up, when the host is
    # judged whole; the entry not before 03:00 tomorrow.
    daily = due_of()
    assert daily.host.at == SCANNED + due.at_least_every("web1") - due.EARLY
    assert daily.entries["backup"].at == datetime(2026, 11, 29, 3, tzinfo=UTC) - due.EARLY
    # Every 15 minutes: 10:15 is expected (the one before, 10:00, is due by 10:05 already).
    quarterly = due_of(schedule="*/15 * * * *").entries["backup"]
    assert quarterly.at == SCANNED.replace(minute=15) - due.EARLY


def test_a_run_that_counts_leaves_the_history_read_before_the_window():
    """A daily job's few runs before the window: the oldest read is compared with the ones in
    the window, so the window's start passing it (RUN_HISTORY on) is due."""
    oldest = SCANNED - timedelta(days=20)
    runs = [run(oldest + timedelta(days=day)) for day in range(20)]
    assert due_of(runs=runs).entries["backup"].start == oldest + audit.RUN_HISTORY - due.EARLY


def test_a_run_started_near_the_boot_or_crons_start_is_due_at_once():
    """Whether a boot or a cron start explains a missed run (causes.py) can turn on a second:
    a run within NEAR_START of either, on either side, among a month of runs (out of start
    order, as read), is judged each scan."""
    booted = SCANNED - timedelta(days=3, seconds=17)
    daily = [run(SCANNED - timedelta(days=day, hours=7)) for day in range(30)]
    near = [daily[5], run(booted + due.NEAR_START), daily[0]]
    assert due_of(runs=daily, host=facts(booted_at=booted)).host.at > SCANNED
    assert due_of(runs=near, host=facts(booted_at=booted)).host.at == SCANNED
    assert due_of(runs=near, host=facts(cron_started_at=booted - due.NEAR_START)).host.at > SCANNED
    before = [*daily, run(booted - due.NEAR_START)]
    assert due_of(runs=before, host=facts(cron_started_at=booted)).host.at == SCANNED
    later = [*daily, run(booted + due.NEAR_START + timedelta(seconds=1))]
    assert (
        due_of(runs=later, host=facts(booted_at=booted, cron_started_at=booted)).host.at > SCANNED
    )


def finding(kind: str, first: datetime, entry_id: str | None = "backup") -> Finding:
    return Finding("web1", kind, "warning", 1, first, first, "", "", entry_id=entry_id)


def test_an_entrys_finding_leaving_the_window_is_due_for_the_entry_a_crontabs_for_the_host():
    """A job finding's first occurrence leaving the window changes that entry's verdict; a
    lint or change note is judged with the host's own findings, so it is the host's."""
    failed = finding("failed", SCANNED - timedelta(days=5))
    changed = finding("changed", SCANNED - timedelta(days=3))
    dues = due_of(findings=[failed, changed])
    assert dues.entries["backup"].start == failed.first_at - due.EARLY
    assert dues.host.start == changed.first_at - due.EARLY


def test_a_findings_words_that_turn_with_the_day_make_its_entry_due():
    """'exit status 3 at 22:53' becomes 'at 11-27 22:53' a day after the run, and 'failed ×3
    since 09:00' becomes 'since 11-28' at midnight: each is a moment of the entry."""
    failed = finding("failed", SCANNED.replace(hour=1))  # 01:00 today, the daily job's
    assert due_of(findings=[failed]).entries["backup"].at == failed.last_at + due.DAY - due.EARLY
    streak = replace(failed, streak=3, streak_since=datetime(2026, 11, 27, 23, 0, tzinfo=UTC))
    streak = replace(streak, last_at=SCANNED.replace(hour=1, minute=30))
    # Its start is yesterday already: the day turns only for the latest run, 01:30 tomorrow.
    assert due_of(findings=[streak]).entries["backup"].at == streak.last_at + due.DAY - due.EARLY
    today = replace(streak, streak_since=SCANNED.replace(hour=2))
    midnight = datetime(2026, 11, 29, tzinfo=UTC)
    assert due_of(findings=[today]).entries["backup"].at == midnight - due.EARLY


def test_an_entry_judged_on_a_host_whose_cron_is_stopped_judges_every_entry():
    """Its jobs' missed runs are folded under the stopped daemon's finding (how many jobs
    missed how many runs): one judged alone would tell it of its own only. Nothing due, none."""
    from cronops.incidents import _entries_to_judge
    from cronops.records import Stored

    stopped = (facts(cron_running=False), [entry()], [], [], [])
    nothing = Stored(frozenset(), None)
    assert _entries_to_judge(stopped, nothing, {"backup": False}) == set()
    assert _entries_to_judge(stopped, nothing, {"backup": True}) is None
    assert _entries_to_judge((facts(), [entry()], [], [], []), nothing, {"backup": True}) == {
        "backup"
    }


def test_a_run_stored_before_the_last_boot_judges_every_entry():
    """A run stored now that started before the host's last boot can tell why another entry
    missed a run before it (the host was down, or not: causes.py): every entry is judged."""
    from cronops.incidents import _entries_to_judge
    from cronops.records import Stored

    booted = SCANNED - timedelta(hours=2)
    evidence = (facts(booted_at=booted), [entry()], [], [], [])
    after = Stored(frozenset({"backup"}), booted + timedelta(minutes=1))
    assert _entries_to_judge(evidence, after, {"backup": False}) == {"backup"}
    before = Stored(frozenset({"backup"}), booted - timedelta(minutes=1))
    assert _entries_to_judge(evidence, before, {"backup": False}) is None
    assert _entries_to_judge(evidence, Stored(frozenset(), None), {}) is None
    nothing = Stored(frozenset(), None)
    assert _entries_to_judge(evidence, nothing, {"backup": False}) == set()


def test_the_store_tells_an_entry_due_as_its_due_would(tmp_path):
    """store.entries_due compares the stored moments as Due.passed compares them."""
    from cronops.records import Due

    since = SCANNED - timedelta(days=8)
    second = timedelta(seconds=1)
    dues = {
        "at_now": Due(SCANNED, since),
        "at_later": Due(SCANNED + second, since),
        "window_past_start": Due(SCANNED + second, since - second),
        "window_before_start": Due(SCANNED + second, since + second),
    }
    store = Store(tmp_path / "history.db")
    with store.transaction() as db:
        store.write_entry_judgements(db, {"web1": dues}, ["web1"])
    found = store.entries_due(["web1", "db1"], since, SCANNED)
    store.close()
    assert found == {"web1": {e: d.passed(since, SCANNED) for e, d in dues.items()}}
    assert found["web1"] == {
        "at_now": True,
        "at_later": False,
        "window_past_start": True,
        "window_before_start": False,
    }


def test_hosts_judged_whole_by_one_scan_are_judged_whole_again_spread_over_a_quarter_hour():
    every = {due.at_least_every(f"host{index:04d}") for index in range(1000)}
    assert max(every) <= due.JUDGED_AT_LEAST_EVERY
    assert min(every) > due.JUDGED_AT_LEAST_EVERY - due.STAGGER
    assert max(every) - min(every) > due.STAGGER * 0.9 and len(every) > 500


def test_a_start_measured_to_the_second_is_kept_to_its_minute_unless_a_whole_one():
    at = datetime(2026, 11, 28, 9, 59, 20, tzinfo=UTC)
    assert due._steady(at) == due._steady(at + timedelta(seconds=39)) == at.replace(second=30)
    whole = at.replace(minute=0, second=0)
    assert due._steady(whole) == whole != due._steady(whole + timedelta(seconds=1))


def test_a_policys_fingerprint_is_the_same_in_every_process():
    """A scan stores it and the next, in another process, compares: a set's order follows its
    strings' hashes, seeded anew in each process."""
    import subprocess
    import sys

    code = (
        "from cronops import due; from cronops.policy import PolicyBook; "
        "book = PolicyBook.from_tables(defaults={'ignore': ['late', 'slow', 'lint', 'drift']}); "
        "print(due.policies_print([book.resolve_host(due_host)]))"
    )
    setup = "from tests.test_judge_due import facts; due_host = facts(); "
    prints = {
        subprocess.run(
            [sys.executable, "-c", setup + code],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(prints) == 1


def test_hosts_scanned_in_the_same_minute_share_the_walks_of_a_schedule():
    """The next expected times are worked out once for every host whose evidence ends in the
    same minute: cron runs on whole minutes, so each second of it has the same next run."""
    schedule = "*/15 * * * *"
    next_time.cache_clear()
    first = due_of(host=facts(ok_at=SCANNED + timedelta(seconds=7)), schedule=schedule)
    first = first.entries["backup"]
    walks = next_time.cache_info().misses
    later = due_of(host=facts(ok_at=SCANNED + timedelta(seconds=52)), schedule=schedule)
    later = later.entries["backup"]
    assert next_time.cache_info().misses == walks
    assert first.at == later.at == SCANNED.replace(minute=15) - due.EARLY
    # A second before 10:15, 10:15 is next; on the minute itself it is not after the evidence:
    # 10:15 past its grace (5 minutes) comes first.
    just_before = facts(ok_at=SCANNED.replace(minute=14, second=59))
    before = due_of(host=just_before, schedule=schedule).entries["backup"]
    assert before.at == SCANNED.replace(minute=15) - due.EARLY
    on_it = facts(ok_at=SCANNED.replace(minute=15))
    assert due_of(host=on_it, schedule=schedule).entries["backup"].at == (
        SCANNED.replace(minute=20) - due.EARLY
    )
