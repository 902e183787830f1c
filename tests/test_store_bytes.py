"""Text from a host is bytes: whatever its encoding, the history keeps it exactly and finds it again.

The probe reads every file with surrogateescape, so a Latin-1 byte or binary garbage is a str that
UTF-8 cannot encode; SQLite takes only UTF-8 text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cronops.crontab import parse_crontab
from cronops.inventory import Host
from cronops.records import Finding
from cronops.scan import ERROR_CHARS, _entry_row, _not_stored, _problem_row
from cronops.store import RUN_COLUMNS, RUNS_PER_STATEMENT, Store, iso

RAW = b"# caf\xe9 au lait\nMSG=d\xe9j\xe0 vu\n0 3 * * * /usr/bin/caf\xe9 --fr\xe8re\n\x00\x89PNG\n"
TEXT = RAW.decode("utf-8", "surrogateescape")
COMMAND = "/usr/bin/caf\udce9 --fr\udce8re"
SEEN = iso(datetime(2026, 3, 1, tzinfo=UTC))


def as_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "history.db")
    yield store
    store.close()


def run(command: str, pid: int, entry_id: str | None = None, output: str | None = None) -> tuple:
    started = iso(datetime(2026, 3, 1, 3, 0, 1, tzinfo=UTC))
    row = {
        "host": "h",
        "entry_id": entry_id,
        "user": "root",
        "command": command,
        "started_at": started,
        "ended_at": None,
        "status": None,
        "signal": None,
        "pid": pid,
        "source": "/var/log/syslog",
        "dialect": "debian",
        "trigger": "cron",
        "output_tail": output,
        "still_open": 1,
    }
    return tuple(row[c] for c in RUN_COLUMNS)


def test_a_crontab_that_is_not_utf8_is_stored_and_read_back_exactly(store):
    crontab = parse_crontab(TEXT, host="h", source="/var/spool/cron/crontabs/root", kind="user")
    row = {"host": "h", "path": crontab.source, "kind": "user", "owner": "root", "mtime": None}
    with store.transaction() as db:
        assert store.write_crontabs(db, "h", [row | {"text": TEXT}], [], SEEN) == [crontab.source]
        store.write_entries(db, "h", [_entry_row(e) for e in crontab.entries], SEEN)
        store.write_problems(db, "h", [_problem_row("h", p) for p in crontab.problems])
        process = {"host": "h", "pid": 7, "user": "root", "started_at": SEEN, "seen_at": SEEN}
        store.write_processes(db, "h", [process | {"command": COMMAND, "entry_id": None}])
    with store.transaction() as db:  # the same bytes again: no new version, no changed entry
        assert not store.write_crontabs(db, "h", [row | {"text": TEXT}], [], SEEN)
        store.write_entries(db, "h", [_entry_row(e) for e in crontab.entries], SEEN)

    assert as_bytes(store.crontab("h", crontab.source)["text"]) == RAW
    (version,) = store.rows("select text from crontab_versions")
    assert as_bytes(version["text"]) == RAW
    (entry,) = store.entries(["h"])
    assert (entry.command, entry.text) == (COMMAND, "0 3 * * * " + COMMAND)
    (stored,) = store.rows("select env from entries")
    assert '"MSG": "d\\udce9j\\udce0 vu"' in stored["env"]  # JSON: escaped, and exact
    assert len(store.rows("select * from entry_versions")) == 1
    assert store.rows("select command from processes") == [{"command": COMMAND}]
    (problem,) = store.rows("select text, message from crontab_problems")
    assert as_bytes(problem["text"]) == b"\x00\x89PNG"
    # A query that compares host text finds it; valid UTF-8 stays text for SQLite.
    assert store.rows("select id from entries where command = ?", [COMMAND]) == [{"id": entry.id}]
    assert store.rows("select typeof(text) as t from crontabs") == [{"t": "blob"}]
    assert store.rows("select typeof(message) as t from crontab_problems") == [{"t": "text"}]


def test_runs_with_bytes_that_are_not_utf8_are_stored_in_any_batch(store):
    rows = [run(f"job {n}", n) for n in range(RUNS_PER_STATEMENT + 5)]
    rows[3] = run(COMMAND, 3)  # one bad value in the first statement's batch
    with store.transaction() as db:
        assert store.write_run_rows(db, rows) == len(rows)
        assert store.write_run_rows(db, rows) == 0  # the same runs again are not new
    stored = store.rows("select pid, command from runs where command = ?", [COMMAND])
    assert stored == [{"pid": 3, "command": COMMAND}]
    assert len(store.rows("select id from runs")) == len(rows)


def test_a_run_that_printed_bytes_that_are_not_utf8_is_read_back_exactly(store):
    """Runs are read as rows, their output the one value looked at for a BLOB: every read that
    returns runs gives back what the host printed."""
    printed = "caf\udce9 au lait\n"
    with store.transaction() as db:
        store.write_run_rows(db, [run("job", 1, "e1", "ok\n"), run("job", 2, "e1", printed)])
    since = datetime(2026, 3, 1, tzinfo=UTC)
    for runs in (store.runs(["h"], since), store.entry_runs("e1", 5)):
        assert sorted(r.output for r in runs) == ["caf\udce9 au lait\n", "ok\n"]


def test_the_audit_trail_keeps_a_crontab_that_is_not_utf8(store):
    action = {
        "at": SEEN,
        "actor": "alice@here",
        "host": "h",
        "entry_id": "abcdefgh",
        "action": "pause",
        "path": "/var/spool/cron/crontabs/root",
        "line": 3,
        "before": "0 3 * * * " + COMMAND,
        "after": "#cronops:paused by=alice #0 3 * * * " + COMMAND,
        "crontab_before": TEXT,
        "crontab_after": TEXT.replace("0 3", "#0 3"),
        "result": "ok",
        "detail": None,
    }
    store.record_action(action)
    (stored,) = store.actions(entry_id="abcdefgh")
    assert {key: stored[key] for key in action} == action


def test_a_failure_to_store_is_told_in_one_short_line():
    exc = UnicodeEncodeError("utf-8", TEXT * 100, 5, 6, "surrogates not allowed")
    outcome = _not_stored(Host(name="h", address="h"), exc)
    assert outcome.error.startswith("could not store the scan: UnicodeEncodeError: ")
    assert len(outcome.error) <= len("could not store the scan: UnicodeEncodeError: ") + ERROR_CHARS
    assert "\n" not in outcome.error and "au lait" not in outcome.error
    long = _not_stored(Host(name="h", address="h"), OSError("x" * 5000 + "\nmore"))
    assert long.error.endswith("x…") and "more" not in long.error


def test_an_unchanged_crontab_is_not_written_again_but_a_changed_byte_is(store):
    """Only its read time and file facts move on; its text is written when it changes."""
    row = {"host": "h", "path": "/etc/crontab", "kind": "system", "owner": None, "mtime": None}
    written: list[str] = []
    with store.transaction() as db:
        assert store.write_crontabs(db, "h", [row | {"text": "* * * * * root first\n"}], [], SEEN)
    store.db.set_trace_callback(written.append)
    with store.transaction() as db:
        assert not store.write_crontabs(
            db, "h", [row | {"text": "* * * * * root first\n"}], [], "later"
        )
    store.db.set_trace_callback(None)
    assert not [sql for sql in written if "root first" in sql]
    stored = store.crontab("h", "/etc/crontab")
    assert (stored["read_at"], stored["text"]) == ("later", "* * * * * root first\n")
    with store.transaction() as db:
        assert store.write_crontabs(db, "h", [row | {"text": "* * * * * root firsT\n"}], [], "last")
    assert store.crontab("h", "/etc/crontab")["text"] == "* * * * * root firsT\n"
    versions = store.rows("select text from crontab_versions order by id")
    assert [v["text"] for v in versions] == ["* * * * * root first\n", "* * * * * root firsT\n"]


def test_entries_read_again_are_versioned_only_when_they_change(store):
    """A rescan's unchanged entries only move last_seen; a changed schedule is a new version
    and keeps first_seen; a changed setting updates the row alone; a vanished entry is absent."""
    source = "/var/spool/cron/crontabs/root"

    def write(text: str, seen: str) -> None:
        crontab = parse_crontab(text, host="h", source=source, kind="user")
        with store.transaction() as db:
            store.write_entries(db, "h", [_entry_row(e) for e in crontab.entries], seen)

    def versions() -> list[str]:
        return [
            r["schedule"] for r in store.rows("select schedule from entry_versions order by rowid")
        ]

    first, later, last = (
        SEEN,
        iso(datetime(2026, 3, 2, tzinfo=UTC)),
        iso(datetime(2026, 3, 3, tzinfo=UTC)),
    )
    write(TEXT + "5 * * * * /bin/other\n", first)
    write(TEXT + "5 * * * * /bin/other\n", later)
    assert versions() == ["0 3 * * *", "5 * * * *"]
    stored = store.rows("select command, first_seen, last_seen, present from entries order by line")
    assert [(r["first_seen"], r["last_seen"], r["present"]) for r in stored] == [
        (first, later, 1)
    ] * 2
    write(TEXT.replace("MSG=d", "MSG=D").replace("0 3", "0 4"), last)
    assert versions() == ["0 3 * * *", "5 * * * *", "0 4 * * *"]
    rows = store.rows(
        "select command, env, first_seen, last_seen, present from entries order by line"
    )
    assert [(r["command"], r["first_seen"], r["last_seen"], r["present"]) for r in rows] == [
        (COMMAND, first, last, 1),
        ("/bin/other", first, last, 0),
    ]
    assert '"MSG": "D\\udce9j\\udce0 vu"' in rows[0]["env"]


def test_incidents_saying_bytes_that_are_not_utf8_are_stored_and_updated_exactly(store):
    """A finding quotes the job's command: opened, then updated among others that are UTF-8."""
    from cronops.incidents import lifecycle

    now = datetime(2026, 3, 1, 4, tzinfo=UTC)

    def finding(entry_id: str, command: str, count: int) -> Finding:
        detail = f"'{command}' (root@h) did not start at 03:00 ({count} times)"
        return Finding("h", "missed", "warning", count, now, now, detail, detail, entry_id)

    for count in (1, 2):
        found = [finding("e1", "/bin/ok", count), finding("e2", COMMAND, count)]
        found.append(finding("e3", "/bin/fine", count))
        with store.transaction() as db:
            stored = store.incidents(hosts=["h"], now=now)
            store.write_incidents(db, lifecycle(stored, found, {}, {}, {}, now))
        read = {i.entry_id: i for i, _ in store.incident_findings(hosts=["h"], now=now)}
        assert read["e2"].detail == found[1].detail and read["e2"].count == count
        assert {i.entry_id: i.count for i in read.values()} == {
            "e1": count,
            "e2": count,
            "e3": count,
        }
