"""Crontabs are bytes, on a real host: a Latin-1 byte or binary garbage in a crontab never costs
the host its scan, and the history keeps every file byte for byte.

The host `latin` has its own fleet: its crontabs are installed with the real `crontab`, its
planted syslog holds the runs a scan reads, and cronops' actions write them back over SSH.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cronops.cli import main
from cronops.store import Store
from tests.conftest import syslog_day
from tests.fleet import Fleet, HostSpec, require_fleet_tools

pytestmark = pytest.mark.fleet

SPOOL = "/var/spool/cron/crontabs/root"
ROOT = "# root's jobs\n17 * * * * /usr/local/bin/sync --all\n"
# What the issue did on a real host: a Latin-1 comment appended through `crontab -`, and here
# a Latin-1 job too (dash's printf takes octal escapes: \351 is é, \350 is è in Latin-1).
LATIN1_LINES = r"# caf\351\n30 4 * * * /usr/local/bin/caf\351 --fr\350re\n"
LATIN1_COMMAND = "/usr/local/bin/caf\udce9 --fr\udce8re"  # as the probe reads it
# /etc/cron.d/legacy in Latin-1, written whole by a package: actions rename a file over it.
LEGACY = b"# d\xe9j\xe0 vu\n*/5 * * * * root /opt/legacy/poll --r\xe9gion=\xeele\n"
# A file something else overwrote: NUL bytes and other binary bytes, as Debian cron sees it.
GARBAGE = b"\x00\x00\x1a\x89PNG binary\xff\xfe\n\x07\x01\x02\x03 \x7f\x80\n\x00\n"


def log_lines(count: int, start: int) -> str:
    """`count` runs of root's sync in the last hour, as rsyslog writes Debian cron -L 15."""
    now = datetime.now()
    lines = []
    for n in range(count):
        at = now - timedelta(minutes=50 - n)
        pid = 1000 + 10 * (start + n)
        lines.append(
            f"{syslog_day(at)} latin CRON[{pid}]: (root) CMD ([{pid + 1}] /usr/local/bin/sync --all)"
        )
    return "".join(line + "\n" for line in lines)


@pytest.fixture(scope="module")
def latin_fleet(tmp_path_factory):
    if reason := require_fleet_tools():
        pytest.skip(reason)
    fleet = Fleet(tmp_path_factory.mktemp("bytes-fleet"))
    fleet.start([HostSpec(name="latin", log_files={"syslog": ""})])
    yield fleet
    fleet.stop()


@pytest.fixture
def latin(latin_fleet, tmp_path):
    """The host as written above (root's crontab in UTF-8, three runs in its log), not yet
    scanned into a fresh history; returns a `cronops` runner that gives back (exit, stdout)."""
    host = latin_fleet.hosts["latin"]
    host.install_crontab("root", ROOT)
    for name in ("legacy", "garbage"):
        host.path(f"/etc/cron.d/{name}").unlink(missing_ok=True)
    host.path("/var/log/syslog").write_text(log_lines(3, 0))
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(latin_fleet.inventory_toml())
    db = tmp_path / "history.db"

    def cronops(capsys, *args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main([args[0], "--inventory", str(inventory), "--db", str(db), *args[1:]])
        return code, capsys.readouterr().out

    cronops.host = host
    cronops.db = db
    return cronops


def rows(db: Path, sql: str, *params) -> list[dict]:
    store = Store(db)
    try:
        return store.rows(sql, params)
    finally:
        store.close()


def scanned(latin, capsys) -> dict:
    code, out = latin(capsys, "scan", "--format", "json")
    (host,) = json.loads(out)["hosts"]
    return host | {"exit": code}


def append_runs(latin, count: int, start: int) -> None:
    with latin.host.path("/var/log/syslog").open("a") as log:
        log.write(log_lines(count, start))


def test_a_latin1_crontab_is_scanned_stored_byte_for_byte_and_listed(latin, capsys):
    assert scanned(latin, capsys)["new_runs"] == 3
    latin.host.run(f"(crontab -l; printf '{LATIN1_LINES}') | crontab -")
    append_runs(latin, 2, 3)

    host = scanned(latin, capsys)
    assert (host["exit"], host["status"], host["error"]) == (0, "ok", None)
    assert host["new_runs"] == 2 and host["crontab_problems"] == 0
    on_host = latin.host.path(SPOOL).read_bytes()
    assert b"# caf\xe9\n" in on_host
    stored = rows(latin.db, "select text from crontabs where path = ?", SPOOL)[0]["text"]
    assert stored.encode("utf-8", "surrogateescape") == on_host
    versions = rows(latin.db, "select text from crontab_versions where path = ? order by id", SPOOL)
    assert [v["text"].encode("utf-8", "surrogateescape") for v in versions][-1] == on_host
    (state,) = rows(latin.db, "select status, error from hosts")
    assert state == {"status": "ok", "error": None}

    code, out = latin(capsys, "hosts", "--format", "json")
    assert code == 0 and json.loads(out)["hosts"][0]["status"] == "ok"
    code, out = latin(capsys, "jobs", "--format", "json")
    commands = {job["command"] for job in json.loads(out)["jobs"]}
    assert code == 0 and LATIN1_COMMAND in commands  # JSON escapes it, and keeps it exact


def test_binary_garbage_in_a_crontab_is_that_files_problem(latin, capsys):
    latin.host.path("/etc/cron.d/garbage").write_bytes(GARBAGE)
    host = scanned(latin, capsys)
    assert (host["exit"], host["status"], host["new_runs"]) == (0, "ok", 3)
    assert host["crontab_problems"] == 3
    problems = rows(latin.db, "select source, line, text, message from crontab_problems")
    assert [(p["source"], p["line"]) for p in problems] == [
        ("/etc/cron.d/garbage", n) for n in (1, 2, 3)
    ]
    assert all(p["message"].startswith("binary data") for p in problems)
    assert problems[0]["text"].encode("utf-8", "surrogateescape") == GARBAGE.split(b"\n")[0]
    stored = rows(latin.db, "select text from crontabs where path = '/etc/cron.d/garbage'")
    assert stored[0]["text"].encode("utf-8", "surrogateescape") == GARBAGE

    _, out = latin(capsys, "audit", "--no-scan", "--format", "json")
    (finding,) = [f for f in json.loads(out)["findings"] if f["kind"] == "crontab_errors"]
    assert (
        finding["host"] == "latin" and "/etc/cron.d/garbage:1: binary data" in finding["evidence"]
    )


def test_pause_and_resume_write_a_latin1_crontab_back_byte_for_byte(latin, capsys):
    latin.host.run(f"(crontab -l; printf '{LATIN1_LINES}') | crontab -")
    latin.host.path("/etc/cron.d/legacy").write_bytes(LEGACY)
    spool, legacy = latin.host.path(SPOOL), latin.host.path("/etc/cron.d/legacy")
    before = spool.read_bytes()
    scanned(latin, capsys)
    for command in (LATIN1_COMMAND, "/opt/legacy/poll --r\udce9gion=\udceele"):
        (entry,) = rows(latin.db, "select id from entries where command = ?", command)
        assert latin(capsys, "pause", entry["id"], "--yes", "--reason", "d\xe9j\xe0 vu")[0] == 0
        assert latin(capsys, "resume", entry["id"], "--yes")[0] == 0

    assert legacy.read_bytes() == LEGACY  # renamed over: every byte as it was
    # `crontab -` writes its header (with the time) again on each install: the rest is the same
    assert spool.read_bytes().split(b"\n")[3:] == before.split(b"\n")[3:]
    assert b"/usr/local/bin/caf\xe9 --fr\xe8re\n" in spool.read_bytes()
    code, out = latin(capsys, "log", "--format", "json")
    actions = json.loads(out)["actions"]
    assert code == 0
    assert [(a["action"], a["result"]) for a in actions] == [("resume", "ok"), ("pause", "ok")] * 2
    assert actions[3]["before"] == "30 4 * * * " + LATIN1_COMMAND  # the JSON keeps it exact
    trail = rows(latin.db, "select crontab_before, crontab_after from actions order by id")
    assert [t["crontab_after"].encode("utf-8", "surrogateescape") for t in trail][-1] == LEGACY
    assert trail[2]["crontab_before"].encode("utf-8", "surrogateescape") == LEGACY


def refuse_runs(db_path: Path) -> sqlite3.Connection:
    """Make storing fail for a reason of its own: the history refuses every new run, at length.
    Returns the connection that holds the trigger (`drop trigger refuse` lifts it)."""
    reason = "the history refuses this write " + "and says so at length " * 100
    db = sqlite3.connect(db_path)
    db.execute(
        f"create trigger refuse before insert on runs begin select raise(abort, '{reason}'); end"
    )
    db.commit()
    return db


def test_a_host_whose_scan_cannot_be_stored_says_so_and_keeps_its_history(latin, capsys):
    assert scanned(latin, capsys)["status"] == "ok"
    (good,) = rows(latin.db, "select ok_at, coverage_start from hosts")
    cursors = rows(latin.db, "select * from log_cursors")
    db = refuse_runs(latin.db)
    append_runs(latin, 2, 3)

    host = scanned(latin, capsys)
    assert (host["exit"], host["status"]) == (1, "error")
    assert host["error"].startswith("could not store the scan: IntegrityError: the history refuses")
    assert len(host["error"]) < 300
    (state,) = rows(latin.db, "select status, error, ok_at, coverage_start from hosts")
    assert (state["status"], state["error"]) == ("error", host["error"])
    assert (state["ok_at"], state["coverage_start"]) == (good["ok_at"], good["coverage_start"])
    assert len(rows(latin.db, "select id from runs")) == 3
    assert rows(latin.db, "select * from log_cursors") == cursors
    last = rows(latin.db, "select status, error from scans order by id desc limit 1")[0]
    assert last == {"status": "error", "error": host["error"]}
    _, out = latin(capsys, "audit", "--no-scan", "--format", "json")
    audit = json.loads(out)
    assert audit["hosts"] == [{"name": "latin", "status": "error", "error": host["error"]}]
    assert any(host["error"] in f["evidence"] for f in audit["findings"] if f["host"] == "latin")

    db.execute("drop trigger refuse")
    db.commit()
    db.close()
    host = scanned(latin, capsys)  # the runs not stored are read again: nothing lost
    assert (host["status"], host["new_runs"]) == ("ok", 2)
    assert rows(latin.db, "select status, error from hosts") == [{"status": "ok", "error": None}]


def test_a_reachability_check_leaves_a_failed_scan_in_view_until_a_scan_succeeds(
    latin, capsys, monkeypatch
):
    assert scanned(latin, capsys)["status"] == "ok"
    db = refuse_runs(latin.db)
    append_runs(latin, 2, 3)
    error = scanned(latin, capsys)["error"]
    assert error.startswith("could not store the scan: ")

    # The host answers: `hosts` says so, and says the last scan failed; the history keeps both.
    code, out = latin(capsys, "hosts", "--format", "json")
    (host,) = json.loads(out)["hosts"]
    assert code == 1
    assert (host["status"], host["error"], host["last_scan_error"]) == ("ok", None, error)
    (state,) = rows(latin.db, "select status, error, latency_ms from hosts")
    assert (state["status"], state["error"]) == ("error", error)
    assert state["latency_ms"] == host["latency_ms"] is not None
    monkeypatch.setenv("COLUMNS", "400")  # the table on one line a host
    code, out = latin(capsys, "hosts")
    assert code == 1 and "1 hosts, 1 ok, 1 whose last scan failed" in out
    assert "latin (UTC); last scan failed: could not store the scan: IntegrityError" in out
    _, out = latin(capsys, "audit", "--no-scan", "--format", "json")
    assert json.loads(out)["hosts"] == [{"name": "latin", "status": "error", "error": error}]

    db.execute("drop trigger refuse")
    db.commit()
    db.close()
    assert scanned(latin, capsys)["status"] == "ok"
    code, out = latin(capsys, "hosts", "--format", "json")
    (host,) = json.loads(out)["hosts"]
    assert code == 0 and (host["status"], host["last_scan_error"]) == ("ok", None)
    assert rows(latin.db, "select status, error from hosts") == [{"status": "ok", "error": None}]
