"""`cronops scan` on the real fleet: crontabs and cron logs into the history, incrementally.

charlie's logs are planted (rotated, gzipped, some older than the window); alpha and bravo run
real cron daemons (-L 15 and -L 1) whose rsyslog writes the lines cronops reads.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cronops.cli import main
from cronops.store import Store, iso
from tests.conftest import planted_history

pytestmark = pytest.mark.fleet


def scan(capsys, inventory_path, db, *args: str) -> tuple[int, dict]:
    code = main(
        ["scan", "--inventory", str(inventory_path), "--db", str(db), "--format", "json", *args]
    )
    return code, json.loads(capsys.readouterr().out)


def rows(db, sql, *params):
    store = Store(db)
    try:
        return store.rows(sql, params)
    finally:
        store.close()


@pytest.fixture
def charlie_scanned(inventory, tmp_path, capsys):
    db = tmp_path / "history.db"
    path = inventory(["charlie"])
    code, out = scan(capsys, path, db)
    assert code == 0, out
    return path, db, out


def test_entries_problems_and_files_cron_ignores(charlie_scanned, inventory, tmp_path, capsys):
    _, db, out = charlie_scanned
    (host,) = out["hosts"]
    assert host["status"] == "ok" and host["crontab_problems"] == 1
    problems = rows(db, "select source, line, text, message from crontab_problems")
    assert [(p["source"], p["line"], p["text"]) for p in problems] == [
        ("/etc/cron.d/broken", 2, "61 * * * * root /usr/local/bin/never")
    ]
    assert "61" in problems[0]["message"]
    # Debian's cron wrote its log and runs as `cron`: the family is stored with the host.
    assert rows(db, "select cron_family from hosts") == [{"cron_family": "debian"}]
    commands = {e["command"] for e in rows(db, "select * from entries where host = 'charlie'")}
    assert {"/usr/bin/certbot renew", "/home/alice/rotate-photos"} <= commands

    db2 = tmp_path / "bravo.db"
    scan(capsys, inventory(["bravo"]), db2)
    sources = {e["source"] for e in rows(db2, "select source from entries")}
    assert "/etc/cron.d/sync" in sources
    assert "/etc/cron.d/sync.dpkg-old" not in sources  # Debian cron ignores names with a dot


def test_first_scan_reads_rotated_logs_within_the_window(charlie_scanned):
    _, db, out = charlie_scanned
    runs = rows(db, "select * from runs where host = 'charlie' order by started_at")
    now = datetime.now(ZoneInfo("Europe/Berlin"))
    planted = [
        at
        for lines in planted_history(now).values()
        for at, line in lines
        if " CMD (" in line and at >= now - timedelta(days=8)
    ]
    # syslog.3.gz is older than the window and is not read; syslog.2.gz is, but only its
    # lines inside the window count.
    assert len(runs) == len(planted) == out["hosts"][0]["new_runs"]
    assert min(r["started_at"] for r in runs) >= iso(now - timedelta(days=8))
    failed = [r for r in runs if r["status"]]
    assert [(r["user"], r["command"], r["status"]) for r in failed] == [
        ("root", "/usr/bin/certbot renew", 1)
    ]
    assert all(r["status"] == 0 for r in runs if r not in failed)
    assert all(r["ended_at"] > r["started_at"] for r in runs)
    certbot = rows(db, "select id from entries where command = '/usr/bin/certbot renew'")[0]["id"]
    assert {r["entry_id"] for r in runs if r["user"] == "root"} == {certbot}
    assert out["hosts"][0]["garbage_lines"] >= 1  # the MYSTERY line, counted and skipped


def test_rescan_reads_only_new_lines(charlie_scanned, fleet, capsys):
    path, db, _ = charlie_scanned
    code, out = scan(capsys, path, db)
    assert (code, out["hosts"][0]["new_runs"]) == (0, 0)

    charlie = fleet.hosts["charlie"]
    syslog = charlie.path("/var/log/syslog")
    stamp = time.strftime("%b %e %H:%M:%S")
    with syslog.open("a") as f:
        f.write(f"{stamp} charlie CRON[900]: (root) CMD ([901] /usr/bin/certbot renew)\n")
    code, out = scan(capsys, path, db)
    assert out["hosts"][0]["new_runs"] == 1
    cursor = rows(db, "select * from log_cursors where host = 'charlie'")[0]
    assert cursor["offset"] == syslog.stat().st_size


def test_live_cron_runs_are_paired_by_pid_where_the_log_can_tell(
    live_logs, inventory, tmp_path, capsys
):
    db = tmp_path / "live.db"
    code, out = scan(capsys, inventory(["alpha", "bravo"]), db)
    assert code == 0, out
    alpha = rows(db, "select * from runs where host = 'alpha' and ended_at is not null")
    by_command = {}
    for run in alpha:
        by_command.setdefault(run["command"], []).append(run)
    assert {r["status"] for r in by_command["exit 3"]} == {3}
    assert {r["status"] for r in by_command["echo tick >> /var/log/tick.out"]} == {0}
    assert all(r["entry_id"] for r in alpha)
    bravo = rows(db, "select * from runs where host = 'bravo'")
    assert bravo, "bravo's cron -L 1 logged no start"
    # -L 1 logs starts only: the outcome of `exit 1` is unknown, never guessed.
    assert all(r["ended_at"] is None and r["status"] is None for r in bravo)
    hosts = {h["name"]: h for h in rows(db, "select * from hosts")}
    assert hosts["alpha"]["cron_running"] == 1 and hosts["bravo"]["zone"] == "America/New_York"


def test_an_unreachable_host_is_its_state_and_the_rest_are_scanned(
    fleet, inventory, tmp_path, capsys
):
    path = inventory(["charlie"], extra_hosts=[{"name": "gone", "address": "127.0.0.1", "port": 1}])
    code, out = scan(capsys, path, tmp_path / "h.db")
    assert code == 1
    status = {h["name"]: h["status"] for h in out["hosts"]}
    assert status == {"charlie": "ok", "gone": "unreachable"}
    assert out["summary"]["hosts_failed"] == 1


# charlie's runs by their identity (store.RUN_IDENTITY): ids are numbered in the order stored.
CHARLIE_RUNS = "select host, started_at, pid, user, command from runs where host = 'charlie'"


def test_two_scans_at_once_on_one_database(fleet, inventory, tmp_path):
    db = tmp_path / "shared.db"
    path = inventory(["alpha", "bravo", "charlie"])
    command = [sys.executable, "-m", "cronops", "scan", "--inventory", str(path), "--db", str(db)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for proc in (first, second):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "locked" not in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
        assert conn.execute("pragma journal_mode").fetchone() == ("wal",)
        charlie_runs = conn.execute(CHARLIE_RUNS).fetchall()
    clean = tmp_path / "clean.db"
    subprocess.run([*command[:-1], str(clean)], check=True, capture_output=True, timeout=120)
    with sqlite3.connect(clean) as conn:
        expected = conn.execute(CHARLIE_RUNS).fetchall()
    assert sorted(charlie_runs) == sorted(expected) and len(expected) >= 10


def test_a_scan_killed_midway_loses_and_duplicates_nothing(fleet, inventory, tmp_path):
    path = inventory(["alpha", "bravo", "charlie"])
    db = tmp_path / "killed.db"
    command = [sys.executable, "-m", "cronops", "scan", "--inventory", str(path), "--db", str(db)]
    for tenths in range(3, 18, 2):  # kill at 0.3 s, 0.5 s ... 1.7 s: before, during, after writes
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(tenths / 10)
        proc.kill()
        proc.wait()
    subprocess.run(command, check=True, capture_output=True, timeout=120)

    clean = tmp_path / "clean.db"
    subprocess.run([*command[:-1], str(clean)], check=True, capture_output=True, timeout=120)
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
        after_kills = conn.execute(CHARLIE_RUNS).fetchall()
        twice = conn.execute(
            "select host, started_at, pid, count(*) from runs group by 1, 2, 3 having count(*) > 1"
        ).fetchall()
    with sqlite3.connect(clean) as conn:
        expected = conn.execute(CHARLIE_RUNS).fetchall()
    assert sorted(after_kills) == sorted(expected)
    assert twice == []


def test_runs_match_their_entry_as_cron_logs_the_command():
    # Debian logs `echo "a #1" \% done` as `echo "a #1" % done`, and a command with a bare %
    # only up to it (the rest is the job's input).
    from cronops.crontab import parse_crontab
    from cronops.scan import entry_matcher

    crontab = parse_crontab(
        '0 * * * * echo "a #1" \\% done\n5 * * * * mail -s hi root%body\n',
        host="h",
        source="/var/spool/cron/crontabs/alice",
        kind="user",
        owner="alice",
    )
    escaped, mailed = crontab.entries
    match = entry_matcher(crontab.entries)
    assert match("alice", 'echo "a #1" % done') == escaped.id
    assert match("alice", 'echo "a #1" \\% done') == escaped.id
    assert match("alice", "mail -s hi root") == mailed.id
    assert match("bob", "mail -s hi root") is None
