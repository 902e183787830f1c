"""A host whose only cron log is the systemd journal, read by the real `journalctl` over SSH.

juliet has no syslog daemon and no cron log file, so the probe falls back to the journal: a real
journal file that systemd-journal-remote wrote from the records journald keeps for Debian's
`cron -L 15` (in cron.service, with its PAM session lines) and for the `crontab` program (in
root's login session, not in cron.service). Its runs and who edited a crontab are stored; a
rescan with nothing new reads nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cronops.cli import main
from cronops.store import Store
from tests.conftest import own_fleet
from tests.fleet import HostSpec

pytestmark = pytest.mark.fleet

SPOOL = "/var/spool/cron/crontabs"
JOB = "/home/alice/backup"
ALICE = f"*/20 * * * * {JOB}\n"
START = datetime.now(UTC).replace(second=1, microsecond=0) - timedelta(hours=2)

# The senders' trusted fields, as journald records them.
CRON = {
    "_UID": "0",
    "_GID": "0",
    "_COMM": "cron",
    "_EXE": "/usr/sbin/cron",
    "_CMDLINE": "/usr/sbin/cron -f",
    "_SYSTEMD_CGROUP": "/system.slice/cron.service",
    "_SYSTEMD_UNIT": "cron.service",
    "_SYSTEMD_SLICE": "system.slice",
}
ROOT_LOGIN = {
    "_UID": "0",
    "_GID": "0",
    "_COMM": "crontab",
    "_EXE": "/usr/bin/crontab",
    "_CMDLINE": "crontab -e -u alice",
    "_AUDIT_SESSION": "4",
    "_SYSTEMD_CGROUP": "/user.slice/user-0.slice/session-4.scope",
    "_SYSTEMD_SESSION": "4",
    "_SYSTEMD_UNIT": "session-4.scope",
    "_SYSTEMD_SLICE": "user-0.slice",
    "_SYSTEMD_OWNER_UID": "0",
}


def micros(at: datetime) -> str:
    return str(int(at.timestamp()) * 1_000_000 + at.microsecond)


def logged(at: datetime, tag: str, pid: int, message: str, sender: dict[str, str]) -> dict:
    """What journald keeps of a line a program wrote with syslog(3)."""
    return {
        "__REALTIME_TIMESTAMP": micros(at),
        "_TRANSPORT": "syslog",
        "PRIORITY": "6",
        "SYSLOG_FACILITY": "9",  # cron
        "SYSLOG_IDENTIFIER": tag,
        "SYSLOG_PID": str(pid),
        "SYSLOG_TIMESTAMP": f"{at:%b %e %H:%M:%S} ",
        "MESSAGE": message,
        "_PID": str(pid),
        **sender,
    }


def run(at: datetime, pid: int, status: int | None = None) -> list[dict]:
    """Cron's records of one run of JOB: PAM's session around its start, end (and failure)."""
    job, end = pid + 1, at + timedelta(seconds=7, microseconds=250)
    records = [
        logged(at, "CRON", pid, "pam_unix(cron:session): session opened for user alice", CRON),
        logged(at, "CRON", pid, f"(alice) CMD ([{job}] {JOB})", CRON),
    ]
    if status is not None:
        failed = f"(CRON) error (grandchild #{job} failed with exit status {status})"
        records.append(logged(end, "CRON", pid, failed, CRON))
    records.append(logged(end, "CRON", pid, f"(alice) END ([{job}] {JOB})", CRON))
    records.append(
        logged(end, "CRON", pid, "pam_unix(cron:session): session closed for user alice", CRON)
    )
    return records


def crontab_e(saved: datetime, pid: int) -> list[dict]:
    """root's `crontab -e -u alice`, saved 20 s after it opened the editor."""
    opened = saved - timedelta(seconds=20)
    return [
        logged(opened, "crontab", pid, "(root) BEGIN EDIT (alice)", ROOT_LOGIN),
        logged(saved, "crontab", pid, "(root) REPLACE (alice)", ROOT_LOGIN),
        logged(saved, "crontab", pid, "(root) END EDIT (alice)", ROOT_LOGIN),
    ]


def others(at: datetime) -> list[dict]:
    """What else the journal holds: sshd's login, and a job's own line from inside cron.service."""
    sshd = {"_UID": "0", "_COMM": "sshd", "_SYSTEMD_UNIT": "ssh.service"}
    job = {**CRON, "_UID": "1000", "_COMM": "logger", "_EXE": "/usr/bin/logger"}
    return [
        logged(at, "sshd", 700, "Accepted publickey for root from 10.0.0.7 port 52144 ssh2", sshd),
        logged(at, "backup", 701, "backup done: 1042 files", job),
    ]


def started(at: datetime) -> dict:
    """systemd's record of starting cron.service (journalctl -u cron matches it)."""
    init = {"_UID": "0", "_COMM": "systemd", "_EXE": "/usr/lib/systemd/systemd"}
    init |= {"_SYSTEMD_UNIT": "init.scope", "_TRANSPORT": "journal", "UNIT": "cron.service"}
    message = "Started cron.service - Regular background program processing daemon."
    return {**logged(at, "systemd", 1, message, init), "SYSLOG_FACILITY": "3"}


@pytest.fixture(scope="module")
def juliet(tmp_path_factory):
    history = [*run(START, 4000), *others(START + timedelta(minutes=5))]
    history += crontab_e(START + timedelta(minutes=10), 4100)
    history += [*run(START + timedelta(minutes=20), 4200, status=2)]
    history += [*run(START + timedelta(minutes=40), 4400)]
    spec = HostSpec(name="juliet", crontabs={"alice": ALICE}, journal=history)
    yield from own_fleet(tmp_path_factory, "journal-fleet", spec)


def test_runs_and_crontab_edits_in_the_journal_are_stored_once(juliet, tmp_path, capsys):
    host = juliet.hosts["juliet"]
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(juliet.inventory_toml())
    db = tmp_path / "history.db"

    def cronops(command: str) -> dict:
        capsys.readouterr()
        assert (
            main([command, "--inventory", str(inventory), "--db", str(db), "--format", "json"]) == 0
        )
        return json.loads(capsys.readouterr().out)

    def scan() -> dict:
        (outcome,) = cronops("scan")["hosts"]
        assert outcome["status"] == "ok" and outcome["garbage_lines"] == 0
        return outcome

    def stored() -> tuple[list, list]:
        store = Store(db)
        try:
            since = START - timedelta(hours=1)
            runs = [(r.started_at, r.ended_at, r.status) for r in store.runs(["juliet"], since)]
            edits = [
                (e.at, e.pid, e.actor, e.user, e.action)
                for e in store.crontab_edits(["juliet"], since)
            ]
        finally:
            store.close()
        return sorted(runs), edits

    first = scan()
    assert first["new_runs"] == 3 and first["missing_logs"] == []
    runs, edits = stored()
    assert [(start - START, end - start, status) for start, end, status in runs] == [
        (timedelta(0), timedelta(seconds=7), 0),
        (timedelta(minutes=20), timedelta(seconds=7), 2),
        (timedelta(minutes=40), timedelta(seconds=7), 0),
    ]
    saved = START + timedelta(minutes=10)
    opened = saved - timedelta(seconds=20)
    assert edits == [
        (opened, 4100, "root", "alice", "BEGIN EDIT"),
        (saved, 4100, "root", "alice", "REPLACE"),
        (saved, 4100, "root", "alice", "END EDIT"),
    ]

    # 3 runs' CMD and END, one failure, the 3 lines of the edit, and the last PAM line read (it
    # carries the cursor past itself); not the other PAM lines, sshd's or the job's own line
    assert first["log_lines"] == 11

    # Another run, then root edits alice's crontab again: the real `crontab` changes the spool
    # file, and the journal gets its lines.
    host.install_crontab("alice", ALICE.replace("*/20", "*/30"))
    edited = datetime.now(UTC)
    host.append_journal([*run(START + timedelta(minutes=60), 4600), *crontab_e(edited, 4500)])
    second = scan()
    # the run's CMD and END, the edit's 3 lines: the record at the cursor (the last PAM line)
    # is not read twice, and no PAM line comes last
    assert second["new_runs"] == 1 and second["log_lines"] == 2 + 3
    runs, edits = stored()
    assert len(runs) == 4 and [e[-1] for e in edits[3:]] == ["BEGIN EDIT", "REPLACE", "END EDIT"]
    changes = cronops("changes")["changes"]
    # the edit before the first scan wrote a crontab no scan read before it; the second made
    # the version the second scan read
    assert [
        (c["at"], c["path"], c["kind"], c["who"], c["via"], c["known_by"]) for c in changes
    ] == [
        (saved.isoformat(), f"{SPOOL}/alice", "replaced", "root", "crontab -e", "log"),
        (edited.isoformat(), f"{SPOOL}/alice", "schedule changed", "root", "crontab -e", "log"),
    ]

    # nothing new: the journal is read from its cursor, and nothing comes back
    third = scan()
    assert (third["new_runs"], third["log_lines"]) == (0, 0)
    assert stored() == (runs, edits)

    # A cursor kept from `journalctl -u cron` (cronops before it matched syslog tags): systemd's
    # own record about cron.service, which the tags leave out. The first cron record after it,
    # root's `crontab -u alice -`, is read all the same (`--after-cursor` would skip it).
    restarted = datetime.now(UTC)
    installed = restarted + timedelta(microseconds=10)
    piped = {**ROOT_LOGIN, "_CMDLINE": "crontab -u alice -"}
    replace = logged(installed, "crontab", 4900, "(root) REPLACE (alice)", piped)
    host.append_journal([started(restarted), replace])
    found = host.run(["journalctl", "-q", "-o", "json", "SYSLOG_IDENTIFIER=systemd"]).stdout
    store = Store(db)
    try:
        with store.transaction() as write:
            store.write_cursors(write, "juliet", [], json.loads(found)["__CURSOR"])
    finally:
        store.close()
    assert scan()["log_lines"] == 1
    assert stored()[1][-1] == (installed, 4900, "root", "alice", "REPLACE")

    # A cursor journalctl refuses ("Failed to seek to cursor"): the window is read again, so the
    # host's journal does not stay unread for good; what was stored already is stored once.
    store = Store(db)
    try:
        with store.transaction() as write:
            store.write_cursors(write, "juliet", [], "s=garbled;i=1")
    finally:
        store.close()
    host.append_journal(run(START + timedelta(minutes=80), 4800))
    before = stored()
    again = scan()
    assert again["new_runs"] == 1 and again["log_lines"] > 2
    runs, edits = stored()
    assert len(runs) == len(before[0]) + 1 and edits == before[1]
    assert scan()["log_lines"] == 0  # and its cursor is good again
