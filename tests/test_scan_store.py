"""Several hosts' answers stored in one transaction, each host whole or not at all.

The answers are real: the probe script runs through the local transport on planted logs."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
import time
import weakref
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cronops import probe, scan
from cronops.audit import RUN_HISTORY, read_jobs
from cronops.inventory import Host
from cronops.logs import ClockContext, parse_lines
from cronops.policy import PolicyBook
from cronops.records import LogCursor
from cronops.runs import Run
from cronops.scan import (
    GROUP_HOSTS,
    HostReport,
    _run_rows,
    cron_family,
    fleet_command_lookups,
    probe_host,
    record_group,
    record_host_checks,
    scan_fleet,
)
from cronops.store import (
    PAGE_BYTES,
    RUN_COLUMNS,
    RUNS_PER_STATEMENT,
    SCANNED_RUN_COLUMNS,
    SCANNED_RUNS_PER_STATEMENT,
    Store,
)
from cronops.transport import Connector, HostStatus, Reply, connector, run_on_fleet

NOW = datetime.now(UTC)
SINCE = NOW - timedelta(days=8)


def syslog_line(at: datetime, host: str, pid: int, message: str) -> str:
    return f"{at:%b} {at.day:2d} {at:%H:%M:%S} {host} CRON[{pid}]: {message}\n"


@pytest.fixture
async def answers(tmp_path):
    """Three hosts' probe answers, each with one run of its own in its log."""
    reports = []
    for number, name in enumerate(("a", "b", "c")):
        log = tmp_path / f"{name}.log"
        at = (NOW - timedelta(hours=1)).astimezone().replace(second=1, microsecond=0)
        log.write_text(syslog_line(at, name, 100 + number, f"(root) CMD (job-{name})"))
        host = Host(name=name, address="localhost", transport="local", logs=(str(log),))
        request = probe.LogRequest(since=SINCE, files=host.logs)
        report = await probe_host(host, connector(), crontabs=False, logs=request)
        assert report.ok, report.error
        reports.append(report)
    return reports


class FailingForB(Store):
    def write_scanned_runs(self, db, rows):
        written = super().write_scanned_runs(db, rows)
        if any(dict(zip(SCANNED_RUN_COLUMNS, row, strict=True))["host"] == "b" for row in rows):
            raise OSError("disk full")
        return written


def stored(store: Store, table: str, key: str) -> list[str]:
    return sorted(row[key] for row in store.rows(f"select {key} from {table}"))


def test_a_group_is_stored_whole(answers, tmp_path):
    store = Store(tmp_path / "history.db")
    outcomes = record_group(store, answers, SINCE, NOW)
    assert [(o.host.name, o.ok, o.new_runs) for o in outcomes] == [
        ("a", True, 1),
        ("b", True, 1),
        ("c", True, 1),
    ]
    assert stored(store, "runs", "command") == ["job-a", "job-b", "job-c"]
    assert stored(store, "scans", "host") == ["a", "b", "c"]


def test_a_host_that_cannot_be_stored_is_undone_alone(answers, tmp_path):
    store = FailingForB(tmp_path / "history.db")
    outcomes = record_group(store, answers, SINCE, NOW)
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].error == "could not store the scan: OSError: disk full"
    assert stored(store, "runs", "command") == ["job-a", "job-c"]
    # nothing of b's answer: not its runs or its cursor; only that its scan failed
    assert stored(store, "log_cursors", "host") == ["a", "c"]
    b = store.host_row("b")
    assert (b["status"], b["error"], b["ok_at"]) == ("error", outcomes[1].error, None)
    scans = store.rows("select host, status, error, new_runs from scans order by host")
    assert [(s["host"], s["status"], s["new_runs"]) for s in scans] == [
        ("a", "ok", 1),
        ("b", "error", 0),
        ("c", "ok", 1),
    ]
    assert scans[1]["error"] == outcomes[1].error
    # and b's next scan reads its log again from the start
    assert store.log_cursors("b") == ({}, None)


def test_a_reachability_check_clears_only_what_reaching_the_host_proves(answers, tmp_path):
    store = FailingForB(tmp_path / "history.db")
    a, b, _ = answers
    record_group(store, [HostReport(a.host, HostStatus.TIMEOUT, "timed out", None), b], SINCE, NOW)
    stored_error = store.host_row("b")["error"]

    def check(report: HostReport) -> tuple:
        record_host_checks(store, [report])
        row = store.host_row(report.host.name)
        return row["status"], row["error"], row["latency_ms"], report.last_scan_error

    # b's scan could not be stored: answering does not undo that, not being reached is news
    assert check(HostReport(b.host, HostStatus.OK, None, 12.0)) == (
        "error",
        stored_error,
        12.0,
        stored_error,
    )
    down = HostReport(b.host, HostStatus.UNREACHABLE, "connection refused", None)
    assert check(down) == ("unreachable", "connection refused", None, None)
    assert check(HostReport(b.host, HostStatus.OK, None, 9.0))[:2] == ("error", stored_error)
    # a's last scan timed out: that was reachability, and a answers now
    assert check(HostReport(a.host, HostStatus.OK, None, 5.0)) == ("ok", None, 5.0, None)


async def test_a_first_scans_runs_are_handed_to_its_judge_as_the_history_reads_them(
    answers, tmp_path, monkeypatch
):
    """The judge of a host's first scan is handed the runs it wrote, not reading them again:
    the same records History.runs reads. Not where the history holds others, or may hold them
    otherwise than written: a rescan, a command SQLite may store as bytes."""
    handed: list[dict] = []
    monkeypatch.setattr(scan, "_judge_safely", lambda *args: handed.append(args[-1]))
    log = tmp_path / "d.log"
    at = (NOW - timedelta(hours=1)).astimezone().replace(second=1, microsecond=0)
    line = syslog_line(at, "d", 200, "(root) CMD (/bin/caf\udce9)")  # a byte not UTF-8
    log.write_bytes(line.encode("utf-8", "surrogateescape"))
    host = Host(name="d", address="localhost", transport="local", logs=(str(log),))
    request = probe.LogRequest(since=SINCE, files=host.logs)
    odd = await probe_host(host, connector(), crontabs=False, logs=request)
    store = Store(tmp_path / "history.db")
    record_group(store, [*answers, odd], SINCE, NOW, policy=PolicyBook())
    (first,) = handed
    assert sorted(first) == ["a", "b", "c"]
    assert len(store.runs(["d"], SINCE)) == 1  # stored, and read back as ever
    for name, runs in first.items():
        assert len(runs) == 1 and runs == store.runs([name], SINCE - RUN_HISTORY)
    record_group(store, answers, SINCE, NOW, policy=PolicyBook())  # read again, as ever
    assert handed[1] == {}


def test_the_savepoints_journal_stays_in_memory(tmp_path):
    """Each host's savepoint copies the pages it changes that its group changed before; a temp
    file for that copy cost a write() per page (40,000 on a first scan of 100 hosts)."""
    store = Store(tmp_path / "history.db")
    assert store.db.execute("pragma temp_store").fetchone()[0] == 2  # MEMORY


def test_write_runs_counts_only_the_runs_it_added(tmp_path):
    """A run already stored and completed by a later line is not new; nor is one given twice."""
    store = Store(tmp_path / "history.db")
    started = {"host": "a", "user": "root", "pid": 7, "source": "/var/log/syslog"}

    def run(command: str, ended_at: str | None = None) -> dict:
        at = "2026-11-22T10:00:01.000000Z"
        return started | {
            "entry_id": None,
            "command": command,
            "started_at": at,
            "ended_at": ended_at,
            "status": None if ended_at is None else 0,
            "signal": None,
            "dialect": "debian",
            "trigger": "cron",
            "output_tail": None,
        }

    with store.transaction() as db:
        assert store.write_runs(db, [run("backup"), run("sync")]) == 2
    many = [run(f"job-{n}") for n in range(2 * RUNS_PER_STATEMENT + 1)]  # several statements
    with store.transaction() as db:
        assert store.write_runs(db, many + many[:3]) == len(many)
    with store.transaction() as db:
        assert store.write_runs(db, many) == 0

    # A scan's rows, as many, through the statement that writes its constants itself.
    def scanned(command: str) -> tuple:
        return tuple(run(command).get(column) for column in SCANNED_RUN_COLUMNS)

    with store.transaction() as db:
        assert store.write_scanned_runs(db, [scanned(r["command"]) for r in many]) == 0
        more = [scanned(f"job-scanned-{n}") for n in range(2 * SCANNED_RUNS_PER_STATEMENT + 1)]
        assert store.write_scanned_runs(db, more + more[:3]) == len(more)
    assert store.rows("select distinct trigger, output_tail from runs") == [
        {"trigger": "cron", "output_tail": None}
    ]
    with store.transaction() as db:
        finished = run("backup", ended_at="2026-11-22T10:05:00.000000Z")
        assert store.write_runs(db, [finished, run("report"), run("report")]) == 1
    rows = store.rows(
        "select command, ended_at from runs where command not like 'job-%' order by 1"
    )
    assert [(r["command"], r["ended_at"]) for r in rows] == [
        ("backup", "2026-11-22T10:05:00.000000Z"),
        ("report", None),
        ("sync", None),
    ]


def test_a_run_read_from_the_journal_and_from_a_file_is_one_run(tmp_path):
    """The journal stamps a line to the microsecond, a syslog file to the second: the same run
    read from both (the host's logs and the journal both followed) is stored once, its times to
    the second, every fact either source knew kept; the runs are numbered as they are stored."""
    store = Store(tmp_path / "history.db")
    run = {"host": "a", "entry_id": None, "user": "root", "command": "tick", "pid": 7}
    run |= {"signal": None, "dialect": "debian", "trigger": "cron", "output_tail": None}
    from_file = run | {"started_at": "2026-11-22T10:00:01.000000Z", "ended_at": None}
    from_file |= {"status": None, "source": "/var/log/syslog"}
    from_journal = run | {"started_at": "2026-11-22T10:00:01.734021Z", "status": 0}
    from_journal |= {"ended_at": "2026-11-22T10:00:04.250000Z", "source": "journald"}
    with store.transaction() as db:
        assert store.write_runs(db, [from_file]) == 1
    with store.transaction() as db:
        assert store.write_runs(db, [from_journal, from_file]) == 0
    rows = store.rows("select id, started_at, ended_at, status, source from runs")
    assert rows == [
        {
            "id": 1,
            "started_at": "2026-11-22T10:00:01.000000Z",
            "ended_at": "2026-11-22T10:00:04.000000Z",
            "status": 0,
            "source": "/var/log/syslog",
        }
    ]


def test_a_new_history_opened_by_several_at_once(tmp_path):
    """Switching a new file to WAL takes a lock that the busy timeout does not wait for: those who
    open it while another switches it must wait, not fail with "database is locked"."""
    failures = []

    def open_history(path, start):
        start.wait()
        try:
            Store(path).close()
        except sqlite3.Error as exc:
            failures.append(exc)

    for attempt in range(20):
        start = threading.Barrier(3)
        path = tmp_path / f"history-{attempt}.db"
        openers = [threading.Thread(target=open_history, args=(path, start)) for _ in range(3)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join()
    assert failures == []


def test_a_new_history_has_large_pages_and_an_old_one_keeps_its_own(tmp_path):
    assert Store(tmp_path / "new.db").db.execute("pragma page_size").fetchone() == (PAGE_BYTES,)
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.execute("create table before_cronops_chose (x)")
    store = Store(old)
    assert store.db.execute("pragma page_size").fetchone() == (4096,)
    assert store.rows("select count(*) as n from runs") == [{"n": 0}]  # and it works


def test_a_scan_writes_each_run_as_the_runs_table_has_its_columns(tmp_path):
    run = Run(
        user="root",
        command="backup",
        started_at=datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC),
        ended_at=datetime(2026, 11, 22, 10, 5, tzinfo=UTC),
        status=0,
        pid=42,
        source="/var/log/syslog",
        dialect="debian",
    )
    started = "2026-11-22T10:00:01.000000Z"
    rows = _run_rows(
        "a", [run, Run("root", "backup", None)], lambda user, command: "e1", frozenset({"debian"})
    )
    store = Store(tmp_path / "history.db")
    with store.transaction() as db:
        assert store.write_scanned_runs(db, rows) == 1
    (stored_run,) = store.rows(f"select {', '.join(RUN_COLUMNS)} from runs")
    assert stored_run == {
        "host": "a",
        "entry_id": "e1",
        "user": "root",
        "command": "backup",
        "started_at": started,
        "ended_at": "2026-11-22T10:05:00.000000Z",
        "status": 0,
        "signal": None,
        "pid": 42,
        "source": "/var/log/syslog",
        "dialect": "debian",
        "trigger": "cron",
        "output_tail": None,
        "still_open": None,  # ended
    }


def test_a_runs_unknown_values_are_stored_as_null_without_sqlites_search_for_an_adapter(tmp_path):
    # Python 3.11's sqlite3 looked for a way to adapt each None by raising (and clearing) an
    # AttributeError: store registers None's own adapter, and a None is still a NULL.
    assert sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)](None) is None
    store = Store(tmp_path / "history.db")
    row = _run_rows(
        "a",
        [Run("root", "backup", datetime(2026, 11, 22, tzinfo=UTC))],
        lambda *_: None,
        frozenset(),
    )
    with store.transaction() as db:
        assert store.write_scanned_runs(db, row) == 1
    assert store.rows("select typeof(entry_id) as e, typeof(signal) as s from runs") == [
        {"e": "null", "s": "null"}
    ]


def scanner(store: Store, host: Host, daemon: str | None = None):
    """A scan of the host's log files here; its cron daemon's command line as given."""

    async def scan():
        files, _ = store.log_cursors(host.name)
        request = probe.LogRequest(since=SINCE, files=host.logs, cursors=files)
        report = await probe_host(host, connector(), crontabs=False, logs=request)
        # This machine's cron daemons (and their -L) are not the log's.
        report.result.processes = [] if daemon is None else [process(daemon)]
        (outcome,) = record_group(store, [report], SINCE, NOW)
        assert outcome.ok, outcome.error

    return scan


async def test_a_run_whose_end_the_next_scan_reads_is_one_run_with_its_end(tmp_path):
    log = tmp_path / "syslog"
    host = Host(name="web", address="localhost", transport="local", logs=(str(log),))
    store = Store(tmp_path / "history.db")
    scan = scanner(store, host)

    at = (NOW - timedelta(hours=1)).astimezone().replace(second=1, microsecond=0)
    log.write_text(
        syslog_line(at, "web", 100, "(root) CMD ([101] /bin/early)")
        + syslog_line(at, "web", 100, "(root) END ([101] /bin/early)")  # the log writes ends
        + syslog_line(at, "web", 200, "(root) CMD ([201] /bin/long)")
    )
    await scan()
    assert [r["command"] for r in store.open_runs("web", SINCE)] == ["/bin/long"]
    with log.open("a") as f:
        f.write(syslog_line(at + timedelta(minutes=5), "web", 200, "(root) END ([201] /bin/long)"))
    await scan()
    runs = store.rows("select command, ended_at from runs order by command")
    assert [(r["command"], r["ended_at"] is not None) for r in runs] == [
        ("/bin/early", True),
        ("/bin/long", True),
    ]
    assert store.open_runs("web", SINCE) == []  # its end read, it is no longer taken back


@pytest.mark.parametrize(
    ("daemon", "still_open"),
    [
        ("/usr/sbin/cron -f", []),
        ("/usr/sbin/cron -f -L 5", ["/bin/a", "/bin/b"]),
        (None, ["/bin/a", "/bin/b"]),
    ],
)
async def test_runs_are_kept_open_only_where_a_later_line_can_complete_them(
    tmp_path, daemon, still_open
):
    # Under Debian's default -L 1 no end and no failure line ever comes: every run is stored with
    # no end, and none is marked still open (each would pay the runs_open index). Under -L 5 a
    # failure line may still come; with the level unknown, an end may.
    log = tmp_path / "syslog"
    host = Host(name="web", address="localhost", transport="local", logs=(str(log),))
    store = Store(tmp_path / "history.db")
    at = (NOW - timedelta(hours=1)).astimezone().replace(second=1, microsecond=0)
    log.write_text(
        syslog_line(at, "web", 100, "(root) CMD (/bin/a)")
        + syslog_line(at, "web", 200, "(root) CMD (/bin/b)")
    )
    await scanner(store, host, daemon)()
    assert store.rows("select count(*) as n from runs where ended_at is null") == [{"n": 2}]
    assert [r["command"] for r in store.open_runs("web", SINCE)] == still_open


# -- the cron family ------------------------------------------------------------------------------


def process(args: str) -> probe.Process:
    return probe.Process(pid=1, ppid=0, user="root", elapsed_s=600, args=args)


def crontab(path: str, text: str = "") -> probe.CrontabFile:
    return probe.CrontabFile(path, "user", path.rsplit("/", 1)[-1], NOW, text)


def test_the_cron_family_is_what_the_log_the_daemon_or_the_spool_shows():
    line = syslog_line(NOW.astimezone(UTC), "h", 7, "(root) CMD (true)")
    debian_line = parse_lines([line], ClockContext(ZoneInfo("UTC"), NOW)).events
    assert [event.dialect for event in debian_line] == ["debian"]
    assert cron_family(debian_line, process("/usr/sbin/crond -n"), []) == "debian"
    assert cron_family([], process("/usr/sbin/cron -f -L 15"), []) == "debian"
    spool = [crontab("/var/spool/cron/alice")]
    assert cron_family([], process("/usr/sbin/crond -n"), spool) == "cronie"
    assert cron_family([], process("/usr/sbin/crond -n"), [crontab("/var/spool/cron/tabs/a")]) == (
        "cronie"
    )
    # busybox's crond keeps Debian's spool: cronie or busybox, it cannot tell
    debian_spool = [crontab("/var/spool/cron/crontabs/alice")]
    assert cron_family([], process("crond -f -l 8"), debian_spool) is None
    assert cron_family([], None, spool) is None  # no daemon, no log: nothing to go by


def test_a_cronie_host_with_no_runs_yet_reads_cron_tz(tmp_path):
    # Until the family was stored it came from the latest run: no run, no CRON_TZ.
    host = Host(name="rocky", address="localhost")
    facts = probe.ProbeFacts("rocky", NOW, UTC, "UTC", "root", 0, timedelta(0))
    text = "CRON_TZ=Asia/Tokyo\n0 3 * * * /usr/local/bin/report\n"
    result = probe.ProbeResult(
        facts,
        crontabs=[crontab("/var/spool/cron/alice", text)],
        processes=[process("/usr/sbin/crond -n")],
    )
    store = Store(tmp_path / "history.db")
    (outcome,) = record_group(
        store, [HostReport(host, HostStatus.OK, None, 1.0, result)], SINCE, NOW
    )
    assert outcome.ok and outcome.new_runs == 0

    assert store.host_facts([host])["rocky"].cron_family == "cronie"
    jobs = read_jobs(store, [host])
    (entry,) = jobs.entries
    tokyo = ZoneInfo("Asia/Tokyo")
    assert jobs.zone(entry) == tokyo
    status = jobs.states(PolicyBook(), NOW)[entry.id]
    assert status.next_run is not None and status.next_run.astimezone(tokyo).hour == 3

    # A later scan that cannot tell (no daemon in its process list) keeps what was known.
    quiet = probe.ProbeResult(facts, crontabs=result.crontabs, processes=[])
    record_group(store, [HostReport(host, HostStatus.OK, None, 1.0, quiet)], SINCE, NOW)
    assert store.host_facts([host])["rocky"].cron_family == "cronie"


class Answering:
    """A transport whose hosts answer the probe at once with their facts alone."""

    def __init__(self) -> None:
        self.asked = 0

    async def run(self, host, command, stdin=b"", *, on_output=None, timeout=None):
        self.asked += 1
        tag = "@@" + stdin.decode().split("M='@@", 1)[1].split("@@'", 1)[0] + "@@"
        facts = f"hostname={host.name}\nepoch={int(NOW.timestamp())}\nzone=UTC\n"
        stdout = f"{tag} meta\n{facts}\n{tag} end {len(facts)}\n{tag} done 1\n".encode()
        return Reply(host, HostStatus.OK, stdout=stdout, exit_status=0)

    async def close(self) -> None:
        return None


class SlowWriter(Store):
    """A store that takes a while over each host, and counts the hosts stored."""

    def __init__(self, path, transport: Answering):
        super().__init__(path)
        self.transport = transport
        self.stored = 0
        self.most_waiting = 0  # hosts asked and not stored yet, at the most

    def write_scan(self, db, scan):
        self.most_waiting = max(self.most_waiting, self.transport.asked - self.stored)
        time.sleep(0.005)
        super().write_scan(db, scan)
        self.stored += 1


async def test_answers_never_pile_up_faster_than_they_are_stored(tmp_path):
    """A writer slower than the hosts: without a bound, the whole fleet's answers (up to
    probe.LOG_SEND_BYTES of log each) waited in memory at once."""
    transport = Answering()
    store = SlowWriter(tmp_path / "history.db", transport)
    hosts = [Host(name=f"h{n}", address="x", transport="fake") for n in range(120)]
    outcomes = [o async for o in scan_fleet(hosts, store, Connector({"fake": transport}), 4)]
    assert len(outcomes) == 120 and all(o.ok for o in outcomes)
    assert store.most_waiting <= 4 + GROUP_HOSTS


class Answer:
    """A host's answer, which the test can watch die."""


async def test_an_answer_is_not_kept_once_handed_over():
    """Each finished host's answer lived as long as the whole fleet's run (its task kept it):
    a 1,000-host first scan of 1,000 runs a host peaked at 351 MB."""
    handed: list[weakref.ref[Answer]] = []

    async def ask(host: Host) -> Answer:
        await asyncio.sleep(0)
        return Answer()

    hosts = [Host(name=f"h{n}", address="x") for n in range(50)]
    async for answer in run_on_fleet(hosts, ask, 4):
        handed.append(weakref.ref(answer))
        del answer
        gc.collect()
        # the generator holds the latest while it waits to be asked for the next
        assert all(ref() is None for ref in handed[:-1]), "an answer handed over is still held"


async def test_a_target_that_raises_stops_the_fleet_run_where_results_go():
    async def ask(host: Host) -> str:
        if host.name == "h3":
            raise RuntimeError("broken promise")
        return host.name

    hosts = [Host(name=f"h{n}", address="x") for n in range(6)]
    with pytest.raises(RuntimeError, match="broken promise"):
        [name async for name in run_on_fleet(hosts, ask, 2)]


# -- what a scan reads before asking the hosts ---------------------------------------------------


def test_each_hosts_cursors_and_commands_are_its_own_read_for_the_fleet_at_once(tmp_path):
    store = Store(tmp_path / "history.db")
    syslog = LogCursor("/var/log/syslog", 1, 10, 5, "h1")
    mailbox = LogCursor("/var/mail/root", 2, 20, 5, "h2")
    with store.transaction() as db:
        store.write_cursors(db, "a", [syslog], "journal-a")
        store.write_cursors(db, "b", [mailbox], None, mailboxes=True)
        for host in ("a", "b"):
            entry = {"id": f"{host}1", "host": host, "source": "/etc/crontab", "user": "root"}
            entry |= {"schedule": "* * * * *", "command": f"job-{host}", "env": {"P": host}}
            row = entry | {"line": 1, "text": "", "disabled": 0, "paused": None, "log_off": 0}
            store.write_entries(db, host, [row], "t")
    assert store.fleet_log_cursors(["a", "b", "c"]) == {
        "a": ({syslog.path: syslog}, "journal-a"),
        "b": ({}, None),
        "c": ({}, None),
    }
    assert store.fleet_log_cursors(["a", "b"], mailboxes=True) == {
        "a": ({}, None),
        "b": ({mailbox.path: mailbox}, None),
    }
    assert store.log_cursors("a") == ({syslog.path: syslog}, "journal-a")
    assert store.entry_commands(["a", "b", "c"]) == {
        "a": [("job-a", {"P": "a"})],
        "b": [("job-b", {"P": "b"})],
        "c": [],
    }


async def test_a_scan_reads_the_fleets_cursors_and_commands_in_a_few_queries(tmp_path):
    """Three queries a host before any host was asked: 3,000 for a fleet of 1,000."""
    store = Store(tmp_path / "history.db")
    hosts = [Host(name=f"h{n}", address="x", transport="fake") for n in range(40)]
    read: list[str] = []
    store.db.set_trace_callback(read.append)
    connector = Connector({"fake": Answering()})
    outcomes = [o async for o in scan_fleet(hosts, store, connector, 4)]
    store.db.set_trace_callback(None)
    assert len(outcomes) == 40 and all(o.ok for o in outcomes)
    assert sum("from log_cursors" in sql for sql in read) == 2  # the logs, the mailboxes
    assert sum("from entries where host in" in sql for sql in read) == 1


def test_a_scans_crontabs_are_written_when_their_text_or_facts_change_and_read_each_scan(
    tmp_path,
):
    """Read once a scan for the host: an unchanged file has only its read time moved; one
    whose text changed is a new version; one whose mtime alone changed keeps its version with
    the new mtime; one gone ends its history; an unreadable one stays."""
    store = Store(tmp_path / "h.db")

    def scan(at: str, files: dict[str, tuple[str, str]], unreadable=()) -> None:
        rows = [
            {
                "host": "h",
                "path": path,
                "kind": "system",
                "owner": None,
                "mtime": mtime,
                "text": text,
            }
            for path, (mtime, text) in files.items()
        ]
        with store.transaction() as db:
            store.write_crontabs(db, "h", rows, list(unreadable), at)

    def now() -> list[tuple]:
        rows = store.rows("select path, mtime, text, read_at from crontabs order by path")
        return [tuple(row.values()) for row in rows]

    def versions() -> list[tuple]:
        rows = store.rows("select path, seen_at, mtime, text from crontab_versions order by id")
        return [tuple(row.values()) for row in rows]

    a, b, c = "/etc/cron.d/a", "/etc/cron.d/b", "/etc/cron.d/\udcff"  # c: not UTF-8
    scan("t1", {a: ("m1", "1 * * * * root a\n"), b: ("m1", "2 * * * * root b\n"), c: ("m1", "")})
    scan("t2", {a: ("m1", "1 * * * * root a\n"), b: ("m1", "2 * * * * root b\n"), c: ("m1", "")})
    assert [(path, read_at) for path, *_, read_at in now()] == [(a, "t2"), (b, "t2"), (c, "t2")]
    assert len(versions()) == 3
    scan("t3", {a: ("m2", "1 * * * * root a\n"), b: ("m3", "3 * * * * root b\n"), c: ("m1", "")})
    assert [row[:2] for row in now()] == [(a, "m2"), (b, "m3"), (c, "m1")]
    assert versions()[3:] == [(b, "t3", "m3", "3 * * * * root b\n")]  # a: the same text
    scan("t4", {b: ("m3", "3 * * * * root b\n")}, unreadable=[c])
    assert [(path, read_at) for path, *_, read_at in now()] == [(b, "t4"), (c, "t3")]
    assert versions()[4:] == [(a, "t4", None, None)]  # a is gone; c is there, unreadable


def test_each_hosts_lookups_are_its_own_commands_under_its_own_path():
    """A command read once for the fleet is still looked up under each host's PATH, and a host
    has only its own entries' commands."""
    backup = "/usr/local/bin/backup --all"
    lookups = fleet_command_lookups(
        {
            "a": [(backup, {}), ("tidy % x", {"PATH": "/opt/bin"}), ("$HOME/run", {})],
            "b": [(backup, {"PATH": "/opt/bin"}), (backup, {"PATH": "/opt/bin", "MAILTO": "x"})],
            "c": [(backup, {}), ("tidy % x", {})],
            "d": [],
        }
    )
    assert lookups == {
        "a": (("/opt/bin", "tidy"), ("/usr/bin:/bin", "/usr/local/bin/backup")),
        "b": (("/opt/bin", "/usr/local/bin/backup"),),
        "c": (("/usr/bin:/bin", "/usr/local/bin/backup"), ("/usr/bin:/bin", "tidy")),
        "d": (),
    }
