"""Upgrading cronops never loses history: every released schema is upgraded to the current one.

tests/schemas/vN.sql is schema version N as it was released; each is filled with a row per table,
opened by the current Store, and must then have the schema of a new history with its rows intact.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cronops.store import MIGRATIONS, SCHEMA_VERSION, Store

SCHEMAS = Path(__file__).parent / "schemas"
RELEASED = sorted(SCHEMAS.glob("v*.sql"), key=lambda p: int(p.stem[1:]))


def schema(db: sqlite3.Connection) -> dict[str, object]:
    """What a history's shape is: each table's columns (name, type, key) and each index's columns."""
    tables = [r[0] for r in db.execute("select name from sqlite_master where type = 'table'")]
    shape: dict[str, object] = {}
    for table in tables:
        shape[table] = [(c[1], c[2], c[5]) for c in db.execute(f"pragma table_info('{table}')")]
        for index in db.execute(f"pragma index_list('{table}')"):
            columns = [c[2] for c in db.execute(f"pragma index_info('{index[1]}')")]
            shape[f"{table} index {index[1]}"] = (columns, index[2])
    return shape


def fill(db: sqlite3.Connection) -> dict[str, int]:
    """One row in every table (each column given a value of its declared type); rows per table."""
    counts = {}
    for (table,) in db.execute("select name from sqlite_master where type = 'table'").fetchall():
        columns = db.execute(f"pragma table_info('{table}')").fetchall()
        values = [1 if c[2] in ("INTEGER", "FLOAT") else f"{table}.{c[1]}" for c in columns]
        names = ", ".join(f'"{c[1]}"' for c in columns)
        db.execute(
            f'insert into "{table}" ({names}) values ({", ".join("?" for _ in columns)})', values
        )
        counts[table] = 1
    db.commit()
    return counts


def test_every_version_up_to_the_current_one_is_kept_as_released():
    assert [int(p.stem[1:]) for p in RELEASED] == sorted(MIGRATIONS), (
        "a new schema step needs its schema frozen in tests/schemas/vN.sql"
    )
    assert max(MIGRATIONS) == SCHEMA_VERSION


def test_the_current_schema_is_the_one_released(tmp_path):
    fresh = Store(tmp_path / "new.db")
    released = sqlite3.connect(":memory:")
    released.executescript(RELEASED[-1].read_text())
    assert schema(fresh.db) == schema(released)


@pytest.mark.parametrize("released", RELEASED[:-1], ids=lambda p: p.stem)
def test_an_earlier_history_is_upgraded_with_every_row_kept(released, tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(released.read_text())
    counts = fill(old)
    rows = {t: old.execute(f'select * from "{t}"').fetchall() for t in counts}
    old.close()

    store = Store(path)

    assert store.db.execute("pragma user_version").fetchone()[0] == SCHEMA_VERSION
    assert schema(store.db) == schema(Store(tmp_path / "new.db").db)
    for table, before in rows.items():
        after = store.db.execute(f'select * from "{table}"').fetchall()
        if table == "runs" and int(released.stem[1:]) < 12:
            # Step 12 numbers the runs (their key was a hash of the run): the rest is kept.
            assert [type(row[0]) for row in after] == [int] * len(before)
            after, before = [row[1:] for row in after], [row[1:] for row in before]
        assert [row[: len(before[0])] for row in after] == before, table


def test_a_failed_upgrade_leaves_the_history_as_it_was(tmp_path, monkeypatch):
    from cronops import store as store_module

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(RELEASED[0].read_text())
    old.close()

    def broken(db):
        db.execute("create table half_done (x)")
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(store_module.MIGRATIONS, SCHEMA_VERSION, broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        Store(path)
    check = sqlite3.connect(path)
    assert check.execute("pragma user_version").fetchone()[0] == 1
    tables = {r[0] for r in check.execute("select name from sqlite_master where type = 'table'")}
    assert "half_done" not in tables


def test_an_upgraded_host_keeps_the_cron_family_its_runs_showed(tmp_path):
    # Before version 6 the family was guessed from the latest run; the upgrade stores that guess.
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript((SCHEMAS / "v2.sql").read_text())
    old.executemany("insert into hosts (name, status) values (?, 'ok')", [("rocky",), ("new",)])
    old.executemany(
        "insert into runs (id, host, started_at, dialect) values (?, 'rocky', ?, ?)",
        [("a", "2026-11-01T01:00:00.000000Z", "debian"), ("b", "2026-11-02T01:00:00Z", "cronie")],
    )
    old.commit()
    old.close()

    store = Store(path)
    families = dict(store.db.execute("select name, cron_family from hosts").fetchall())
    assert families == {"rocky": "cronie", "new": None}


def test_runs_stored_twice_from_the_journal_and_a_file_become_one_numbered_run(tmp_path):
    # Before version 12 a run's id hashed its start to the microsecond: the journal's stamp and a
    # syslog file's (to the second) made two runs of one. The upgrade merges them, keeping every
    # fact either knew, and numbers the runs in (host, start) order.
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript((SCHEMAS / "v11.sql").read_text())
    columns = "id, host, user, command, started_at, ended_at, status, pid, source, trigger"
    old.executemany(
        f"insert into runs ({columns}) values (?, ?, 'root', '/bin/tick', ?, ?, ?, 41, ?, 'cron')",
        [
            ("f2", "web", "2026-11-01T01:02:00.000000Z", None, None, "/var/log/syslog"),
            (
                "j2",
                "web",
                "2026-11-01T01:02:00.532118Z",
                "2026-11-01T01:02:03.100000Z",
                0,
                "journald",
            ),
            (
                "f1",
                "web",
                "2026-11-01T01:01:00.000000Z",
                "2026-11-01T01:01:04.000000Z",
                0,
                "/var/log/syslog",
            ),
            ("a1", "api", "2026-11-01T01:05:00.000000Z", None, None, "/var/log/syslog"),
        ],
    )
    old.commit()
    old.close()

    store = Store(path)
    rows = store.rows("select id, host, started_at, ended_at, status, source from runs order by id")
    assert rows == [
        {
            "id": 1,
            "host": "api",
            "started_at": "2026-11-01T01:05:00.000000Z",
            "ended_at": None,
            "status": None,
            "source": "/var/log/syslog",
        },
        {
            "id": 2,
            "host": "web",
            "started_at": "2026-11-01T01:01:00.000000Z",
            "ended_at": "2026-11-01T01:01:04.000000Z",
            "status": 0,
            "source": "/var/log/syslog",
        },
        {
            "id": 3,
            "host": "web",
            "started_at": "2026-11-01T01:02:00.000000Z",
            "ended_at": "2026-11-01T01:02:03.000000Z",
            "status": 0,
            "source": "/var/log/syslog",
        },
    ]


def test_step_14_marks_the_runs_a_scan_may_still_complete(tmp_path):
    # What open_runs read before step 14, but for hosts known to log neither ends nor failures.
    path = tmp_path / "history.db"
    old = sqlite3.connect(path)
    old.executescript((SCHEMAS / "v13.sql").read_text())
    old.executemany(
        "insert into hosts (name, ends_logged, failures_logged) values (?, ?, ?)",
        [("quiet", 0, 0), ("fails", 0, 1), ("full", 1, 1)],
    )
    runs = [  # host, command, ended_at, dialect, trigger
        ("quiet", "a", None, "debian", "cron"),  # -L 1: nothing will complete it
        ("fails", "b", None, "debian", "cron"),  # -L 5: a failure line may
        ("full", "c", None, "debian", "cron"),
        ("full", "d", "2026-11-01T01:02:00.000000Z", "debian", "cron"),  # ended
        ("full", "e", None, "busybox", "cron"),  # busybox logs no end
        ("full", "f", None, "debian", "manual"),  # not cron's
        ("new", "g", None, "cronie", "cron"),  # a host with no row: its log level unknown
    ]
    old.executemany(
        "insert into runs (host, command, started_at, ended_at, dialect, trigger) "
        "values (?, ?, '2026-11-01T01:01:00.000000Z', ?, ?, ?)",
        runs,
    )
    old.commit()
    old.close()

    store = Store(path)
    marked = store.rows("select command from runs where still_open = 1 order by command")
    assert [r["command"] for r in marked] == ["b", "c", "g"]
