"""Tests for the history's reads (cronops.store.History): records out, few queries, no writes.

The history is written through Store's own write methods, as a scan writes it."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cronops.crontab import PauseInfo
from cronops.inventory import Host
from cronops.records import HostFacts, JobEntry, RunningJob, RunRecord
from cronops.store import SCANNED_RUN_COLUMNS, History, Store, iso, scanned_run_records

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HOSTS = [
    Host("alpha", "10.0.0.1", tags=("web",)),
    Host("bravo", "10.0.0.2", timezone="Europe/Berlin"),
    Host("charlie", "10.0.0.3"),  # never scanned
]
PAUSE = PauseInfo(by="alice@ops", at=NOW - timedelta(hours=1), reason="disk full", until=NOW)


def entry_row(host: str, line: int, **changes) -> dict:
    return {
        "id": f"{host}-{line}",
        "host": host,
        "source": "/etc/crontab",
        "user": "root",
        "schedule": "0 * * * *",
        "command": f"/bin/job{line}",
        "env": {"CRON_TZ": "Asia/Tokyo"},
        "line": line,
        "text": f"0 * * * * root /bin/job{line}",
        "disabled": 0,
        "paused": None,
        "log_off": 0,
    } | changes


def run_row(entry: dict, hours_ago: int, status: int | None = 0) -> dict:
    started = NOW - timedelta(hours=hours_ago)
    return {
        "id": f"{entry['id']}@{hours_ago}",
        "host": entry["host"],
        "entry_id": entry["id"],
        "user": "root",
        "command": entry["command"],
        "started_at": iso(started),
        "ended_at": iso(started + timedelta(seconds=30)),
        "status": status,
        "signal": None,
        "pid": 100 + hours_ago,
        "source": "/var/log/syslog",
        "dialect": "debian",
        "trigger": "cron",
        "output_tail": None,
    }


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "history.db")
    pause = json.dumps(
        {"by": PAUSE.by, "at": iso(PAUSE.at), "reason": PAUSE.reason, "until": iso(PAUSE.until)}
    )
    first, paused = entry_row("alpha", 1), entry_row("alpha", 2, disabled=1, paused=pause)
    with store.transaction() as db:
        for name, zone, skew in (("alpha", "UTC", 2.0), ("bravo", "UTC", -1.0)):
            state = {"name": name, "address": name, "status": "ok", "error": None, "zone": zone}
            state |= {"clock_skew_s": skew, "cron_running": 1, "logs": "/var/log/syslog"}
            state |= {"scanned_at": iso(NOW), "ok_at": iso(NOW - timedelta(minutes=5))}
            store.write_host_state(db, state | {"coverage_start": iso(NOW - timedelta(days=2))})
        store.write_problems(
            db,
            "alpha",
            [
                {
                    "host": "alpha",
                    "source": "/etc/cron.d/b",
                    "line": 3,
                    "text": "x",
                    "message": "m3",
                },
                {
                    "host": "alpha",
                    "source": "/etc/cron.d/a",
                    "line": 9,
                    "text": "y",
                    "message": "m9",
                },
            ],
        )
        store.write_entries(db, "alpha", [first, paused], iso(NOW - timedelta(days=3)))
        store.write_runs(db, [run_row(first, hours) for hours in range(1, 6)])
        process = {"host": "alpha", "pid": 7, "user": "root", "command": "/bin/job1"}
        process |= {"entry_id": first["id"], "started_at": iso(NOW), "seen_at": iso(NOW)}
        store.write_processes(db, "alpha", [process])
    yield store
    store.close()


def test_the_facts_of_every_host_are_one_query(store):
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    facts = store.host_facts(HOSTS)
    store.db.set_trace_callback(None)
    assert len(statements) == 1

    alpha = facts["alpha"]
    assert isinstance(alpha, HostFacts)
    assert (alpha.status, alpha.tags, alpha.clock_skew) == ("ok", ("web",), timedelta(seconds=2))
    assert (alpha.scanned_at, alpha.ok_at) == (NOW, NOW - timedelta(minutes=5))
    assert alpha.crontab_problems == (("/etc/cron.d/a", 9, "m9"), ("/etc/cron.d/b", 3, "m3"))
    assert facts["bravo"].zone == ZoneInfo("Europe/Berlin")  # the inventory's zone wins
    assert facts["bravo"].crontab_problems == ()
    assert (facts["charlie"].status, facts["charlie"].error) == ("error", "never scanned")


def test_entries_runs_and_processes_come_back_as_records(store):
    first, paused = store.entries(["alpha", "bravo"])
    assert isinstance(first, JobEntry) and first.id == "alpha-1"
    assert (first.line, first.text, first.cron_tz) == (1, "0 * * * * root /bin/job1", "Asia/Tokyo")
    assert paused.paused == PAUSE and paused.disabled
    assert store.entry("alpha-2") == paused
    assert store.entry("nothing") is None
    assert store.entry_count() == 2
    assert store.entry_count(up_to=1) == 1  # whether there are that many, without counting all
    assert store.entry_count(["bravo"]) == 0

    runs = store.runs(["alpha"], NOW - timedelta(hours=3, minutes=30))
    assert all(isinstance(r, RunRecord) for r in runs)
    assert sorted(r.started_at for r in runs) == [NOW - timedelta(hours=h) for h in (3, 2, 1)]
    recent = store.recent_runs(["alpha"], 2)
    assert [r.started_at for r in recent["alpha-1"]] == [NOW - timedelta(hours=h) for h in (2, 1)]
    newest = store.entry_runs("alpha-1", 2)
    assert [r.started_at for r in newest] == [NOW - timedelta(hours=h) for h in (1, 2)]
    assert store.processes(["alpha", "bravo"]) == [RunningJob("alpha", "alpha-1", 7, NOW)]


def test_an_entry_comes_back_with_every_field_as_written(tmp_path):
    """Read by position (_ENTRIES' columns in JobEntry's order): no field left out or swapped."""
    store = Store(tmp_path / "history.db")
    crontab = {"host": "alpha", "path": "/etc/crontab", "kind": "system", "owner": None}
    crontab |= {"text": "x", "mtime": iso(NOW - timedelta(days=9))}
    env = {"MAILTO": "ops@example.com", "CRON_TZ": "Asia/Tokyo"}
    pause = json.dumps({"by": PAUSE.by, "at": iso(PAUSE.at), "reason": PAUSE.reason, "until": None})
    row = entry_row("alpha", 7, env=env, disabled=1, paused=pause, log_off=1)
    with store.transaction() as db:
        store.write_crontabs(db, "alpha", [crontab], [], iso(NOW))
        store.write_entries(db, "alpha", [row], iso(NOW - timedelta(days=3)))
    expected = JobEntry(
        id="alpha-7",
        host="alpha",
        user="root",
        source="/etc/crontab",
        schedule="0 * * * *",
        command="/bin/job7",
        disabled=True,
        paused=PauseInfo(by=PAUSE.by, at=PAUSE.at, reason=PAUSE.reason, until=None),
        cron_tz="Asia/Tokyo",
        first_seen=NOW - timedelta(days=3),
        crontab_mtime=NOW - timedelta(days=9),
        log_off=True,
        line=7,
        text="0 * * * * root /bin/job7",
        present=True,
        mailto="ops@example.com",
    )
    assert store.entries(["alpha"]) == [expected]
    assert store.entry("alpha-7") == expected == store.entries_by_id(["alpha-7"])[0]
    read = vars(store.entry("alpha-7"))
    assert [(k, type(v)) for k, v in read.items()] == [
        (k, type(v)) for k, v in vars(expected).items()
    ]
    store.close()


def test_the_first_entries_and_their_runs_alone_for_a_first_paint(store):
    assert store.entries(["alpha", "bravo"], limit=1) == store.entries(["alpha", "bravo"])[:1]
    assert list(store.recent_runs(["alpha", "bravo"], 2, limit=1)) == ["alpha-1"]
    assert store.recent_runs(["alpha"], 2, limit=0) == {}


def test_a_history_opened_alone_reads_and_cannot_write(store):
    history = History.open(store.path)
    try:
        assert history.entry_count() == 2
        assert not hasattr(history, "write_runs") and not hasattr(history, "transaction")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            history.rows("delete from runs")
    finally:
        history.close()
    assert len(store.rows("select id from runs")) == 5


def test_open_runs_are_read_through_their_own_index_not_each_of_the_hosts_runs(tmp_path):
    # A rescan asks for each host's open runs: through the (host, started_at) index that walked
    # every run of the host in the window (~1,000 for the bench_ingest fleet) to return none.
    store = Store(tmp_path / "history.db")
    asked: list[str] = []
    store.db.set_trace_callback(asked.append)  # the statement as run, its values in it
    assert store.open_runs("web", NOW) == []
    store.db.set_trace_callback(None)
    (query,) = asked
    plan = [row["detail"] for row in store.rows(f"explain query plan {query}")]
    assert plan == ["SEARCH runs USING INDEX runs_open (host=? AND started_at>?)"]


def test_a_hosts_first_successful_scan_is_found_among_its_first_scans_not_all(tmp_path):
    """A watch stores a scan a minute for each host, never pruned: the first successful one
    is found by reading the scans up to it, not each of a month of them."""
    store = Store(tmp_path / "history.db")
    start = NOW - timedelta(days=30)

    def scan(host: str, minutes: int, status: str = "ok", took: int = 5) -> dict:
        at = start + timedelta(minutes=minutes)
        finished = iso(at + timedelta(seconds=took))
        return {"host": host, "started_at": iso(at), "finished_at": finished, "status": status}

    scans = [scan("alpha", 0, "timeout"), scan("alpha", 1, took=90), scan("alpha", 2, took=3)]
    scans += [scan("alpha", minute) for minute in range(3, 5_000)]
    scans += [scan("bravo", 0, "auth_failed"), scan("bravo", 1, "timeout")]
    with store.transaction() as db:
        for name in ("alpha", "bravo", "charlie"):
            store.write_host_state(db, {"name": name, "address": name, "status": "ok"})
        for row in scans:
            store.write_scan(db, row)
    steps = []
    store.db.set_progress_handler(lambda: steps.append(1) and 0, 1)  # each VM instruction
    found = store.first_scans(["alpha", "bravo", "charlie", "delta"])
    store.db.set_progress_handler(None, 1)
    # alpha's scan started at minute 1 finished after the one started at minute 2 (overlapping
    # scans, two cronops processes): the first to finish is the first successful scan.
    assert found == {"alpha": start + timedelta(minutes=2, seconds=3)}
    assert len(steps) < 1_000  # a few scans read, not 5,000
    store.close()


def test_what_a_scan_reads_of_a_host_does_not_grow_with_its_history_or_the_fleet(tmp_path):
    """Its facts (with the daemon lines that can explain a missed run, among a line a run on
    a host without an MTA) and cronops' own edits of its crontabs, among the audit trail:
    index lookups, not walks of every line, action or problem stored (schema step 15)."""
    store = Store(tmp_path / "history.db")
    start = NOW - timedelta(days=14)
    no_mta = "No MTA installed, discarding output"
    lines = [
        {"host": "alpha", "at": iso(start + timedelta(minutes=m)), "user": None}
        | {"keyword": "info", "detail": no_mta}
        for m in range(5_000)
    ]
    reload = {"host": "alpha", "at": iso(start), "user": "root", "keyword": "RELOAD"}
    lines.append(reload | {"detail": "crontabs/root"})
    with store.transaction() as db:
        for number in range(300):
            name = "alpha" if number == 0 else f"web{number}"
            store.write_host_state(db, {"name": name, "address": name, "status": "ok"})
            problem = {"host": name, "source": "/etc/crontab", "line": 1, "text": "x"}
            store.write_problems(db, name, [problem | {"message": "bad minute"}])
        store.write_daemon_lines(db, lines)
    for hours in range(2_000):
        trail = {"at": iso(start + timedelta(hours=hours)), "actor": "ops", "host": "web1"}
        store.record_action(trail | {"action": "ack", "result": "ok", "detail": ""})
    steps = []
    store.db.set_progress_handler(lambda: steps.append(1) and 0, 1)  # each VM instruction
    facts = store.host_facts([Host("alpha", "10.0.0.1")])["alpha"]
    edits = store.crontab_actions(["alpha"], start)
    store.db.set_progress_handler(None, 1)
    assert [line.keyword for line in facts.daemon_lines] == ["RELOAD"]
    assert facts.crontab_problems == (("/etc/crontab", 1, "bad minute"),)
    assert edits == []
    assert len(steps) < 2_000  # 52,000 walking them (before step 15)
    store.close()


def test_a_scans_rows_are_the_runs_the_store_reads_back_in_its_order(tmp_path):
    """scanned_run_records (the runs a first scan hands its judge) are History.runs' records
    of the same rows, in its order: runs of one second ordered by pid (none first), user and
    command, as the judge's ties between them are broken."""

    def row(second: int, pid: int | None, user: str | None = "root", **rest) -> tuple:
        started = f"2026-12-01T20:00:{second:02d}.000000Z"
        values = {"host": "web1", "entry_id": "e1", "user": user, "command": "backup"}
        values |= {"started_at": started, "ended_at": None, "status": None, "signal": None}
        values |= {"pid": pid, "source": "debian", "dialect": "debian", "still_open": None}
        return tuple((values | rest)[column] for column in SCANNED_RUN_COLUMNS)

    rows = [
        row(5, 300, ended_at="2026-12-01T20:01:05.000000Z", status=0),
        row(5, None, command="other", entry_id=None),
        row(1, 7, status=1, ended_at="2026-12-01T20:00:09.000000Z"),
        row(5, 12, signal=9),
        row(5, 12, user=None),
        row(5, 12, user="alice"),
        row(3, 40, command="b"),
        row(3, 40, command="a"),
    ]
    store = Store(tmp_path / "history.db")
    with store.transaction() as db:
        assert store.write_scanned_runs(db, rows) == len(rows)
    read = store.runs(["web1"], datetime(2026, 12, 1, tzinfo=UTC))
    assert scanned_run_records(rows) == read
    assert [run.started_at.second for run in read] == [1, 3, 3, 5, 5, 5, 5, 5]
