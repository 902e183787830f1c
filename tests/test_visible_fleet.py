"""Escape sequences in a real host's crontab and cron log, scanned over SSH: every view shows them
as escapes, JSON gives them back exactly, and a refusal's diff of the host's crontab is visible.

The host `golf` has its own fleet: its crontab is changed here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cronops.cli import main
from tests.fleet import Fleet, HostSpec, require_fleet_tools
from tests.test_visible import raw_controls

pytestmark = pytest.mark.fleet

SPOOL = "/var/spool/cron/crontabs"
TITLE = "echo \x1b]0;owned\x07 title"  # would set the operator's window title
CLEAR = "printf '\x1b[2J' \u009b31m \u202eevil\u202c"  # clear the screen; C1 CSI; a bidi override
LATIN1 = b"echo caf\xe9"  # a byte that is not UTF-8
CRONTAB = f"# golf: jobs an attacker wrote\n*/5 * * * * {TITLE}\n0 3 * * * {CLEAR}\n".encode()
CRONTAB += b"0 4 * * * " + LATIN1 + b"\n"


def syslog(now: datetime) -> str:
    """A run of TITLE ten minutes ago that exited 3, as rsyslog writes Debian's cron -L 15."""
    start = now - timedelta(minutes=10)
    stamp = f"{start:%b} {start.day:2d} {start:%H:%M:%S}"
    return (
        f"{stamp} golf CRON[500]: (root) CMD ([501] {TITLE})\n"
        f"{stamp} golf CRON[500]: (CRON) error (grandchild #501 failed with exit status 3)\n"
        f"{stamp} golf CRON[500]: (root) END ([501] {TITLE})\n"
    )


@pytest.fixture(scope="module")
def golf_fleet(tmp_path_factory):
    if reason := require_fleet_tools():
        pytest.skip(reason)
    fleet = Fleet(tmp_path_factory.mktemp("visible-fleet"))
    now = datetime.now(UTC).replace(microsecond=0)
    spec = HostSpec(name="golf", crontabs={"root": ""}, log_files={"syslog": syslog(now)})
    fleet.start([spec])
    yield fleet
    fleet.stop()


@pytest.fixture
def golf(golf_fleet, tmp_path, monkeypatch):
    """golf scanned into a fresh history; returns a `cronops` runner. Wide columns, so no
    cell is cut short."""
    monkeypatch.setenv("COLUMNS", "300")
    host = golf_fleet.hosts["golf"]
    host.path(f"{SPOOL}/root").write_bytes(CRONTAB)
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(golf_fleet.inventory_toml())
    db = tmp_path / "history.db"

    def cronops(*args: str) -> int:
        return main([args[0], "--inventory", str(inventory), "--db", str(db), *args[1:]])

    assert cronops("scan", "--format", "json") == 0
    cronops.host = host
    return cronops


def test_jobs_audit_and_json_show_a_hosts_escape_sequences_visibly(golf, capsys):
    capsys.readouterr()
    assert golf("jobs") == 0
    out = capsys.readouterr().out
    assert raw_controls(out) == []
    assert r"echo \x1b]0;owned\x07 title" in out
    assert r"printf '\x1b[2J' \u009b31m \u202eevil\u202c" in out
    assert r"echo caf\xe9" in out

    assert golf("jobs", "--format", "json") == 0
    out = capsys.readouterr().out
    assert out.isascii()
    jobs = json.loads(out)["jobs"]
    commands = {j["command"] for j in jobs if j["source"] == f"{SPOOL}/root"}
    assert commands == {TITLE, CLEAR, LATIN1.decode("utf-8", "surrogateescape")}

    for form in ("table", "markdown"):
        golf("audit", "--no-scan", "--format", form)
        out = capsys.readouterr().out
        assert "failed" in out and raw_controls(out) == []
        assert r"echo \x1b]0;owned\x07 title" in out


def test_a_refusals_diff_of_the_hosts_crontab_and_the_trail_show_them_visibly(golf, capsys):
    capsys.readouterr()
    assert golf("jobs", "--format", "json") == 0
    (title,) = [
        j["id"] for j in json.loads(capsys.readouterr().out)["jobs"] if "owned" in j["command"]
    ]
    # Someone changes the crontab on the host after the scan: the pause is refused, with the diff.
    golf.host.path(f"{SPOOL}/root").write_bytes(CRONTAB + b"* * * * * echo \x1b[?1049h\xff\n")
    assert golf("pause", title, "--yes") == 1
    err = capsys.readouterr().err
    assert "changed since cronops read it" in err
    assert raw_controls(err) == [] and r"+* * * * * echo \x1b[?1049h\xff" in err
    assert r" 0 4 * * * echo caf\xe9" in err

    assert golf("log") == 0
    out = capsys.readouterr().out
    assert "refused" in out and raw_controls(out) == []
