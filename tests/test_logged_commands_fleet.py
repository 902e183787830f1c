"""Runs of commands with control characters or 8-bit bytes pair with their entries, on real Debian
cron and rsyslog: cron logs such a command made printable (`caf\\351 ^A ^? tab^Ihere`).

One fleet for the module: `accents` runs cron -L 15 with rsyslog's traditional format, `accents-iso`
cron -L 1 with RFC 3339. Root's crontab is installed with the real `crontab`; every job runs once a
minute, and the module waits (once) for a minute's runs to be logged."""

from __future__ import annotations

import json
import time

import pytest

from cronops.cli import main
from cronops.store import Store
from tests.conftest import logged, wait_for
from tests.fleet import Fleet, HostSpec, require_fleet_tools

pytestmark = pytest.mark.fleet

# Latin-1 é, ^A, DEL, a tab; UTF-8 é and ESC; `\%` and the job's input after `%` (cat reads it);
# text that looks like rsyslog's escapes; and a plain job, which always paired.
CRONTAB = (
    b"* * * * * echo caf\xe9 \x01 \x7f tab\there > /dev/null\n"
    b"* * * * * echo utf8 caf\xc3\xa9 \x1b[1m x > /dev/null\n"
    b"* * * * * cat > /dev/null; : \\% a\x01 \xe9 %input\xe9\n"
    b"* * * * * echo hash #012 x \\#011 > /dev/null\n"
    b"* * * * * echo plain > /dev/null\n"
)
JOBS = CRONTAB.count(b"\n")
SPOOL = "/var/spool/cron/crontabs/root"
HOURLY = "cd / && run-parts --report /etc/cron.hourly"
GRACE = 5  # seconds: Debian cron starts a minute's jobs within about one


@pytest.fixture(scope="module")
def logged_fleet(tmp_path_factory):
    """The two hosts once each has logged a minute of every job: -L 15 its END lines too."""
    if reason := require_fleet_tools():
        pytest.skip(reason)
    fleet = Fleet(tmp_path_factory.mktemp("logged-fleet"))
    accents, iso = fleet.start(
        [
            HostSpec(name="accents", cron=True, cron_level=15, syslog="traditional"),
            HostSpec(name="accents-iso", cron=True, cron_level=1, syslog="rfc3339"),
        ]
    )
    # cron notices a new crontab by its spool directory's mtime, in whole seconds
    time.sleep(max(0.0, max(accents.started_at, iso.started_at) + 1.1 - time.time()))
    for host in (accents, iso):
        host.path("/root/jobs").write_bytes(CRONTAB)
        host.run(["crontab", "/root/jobs"])
    try:
        wait_for(lambda: logged(accents, ") END (") >= JOBS, 150, "accents logged no minute")
        wait_for(lambda: logged(iso, ") CMD (") >= JOBS, 30, "accents-iso logged no minute")
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture
def cronops(logged_fleet, tmp_path, capsys):
    """Runs a cronops command on the module's fleet and a fresh history: (exit, stdout)."""
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(logged_fleet.inventory_toml(extra_defaults={"grace": f"{GRACE}s"}))
    db = tmp_path / "history.db"

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main([args[0], "--inventory", str(inventory), "--db", str(db), *args[1:]])
        return code, capsys.readouterr().out

    run.db = db
    return run


def test_runs_of_commands_cron_logs_made_printable_pair_with_their_entries(cronops):
    code, out = cronops("scan", "--format", "json")
    assert code == 0, out
    store = Store(cronops.db)
    try:
        entries = store.rows("select id, host from entries where source = ?", [SPOOL])
        known = {row["id"] for row in store.rows("select id from entries")}
        runs = store.rows("select host, entry_id, command, ended_at, status from runs")
    finally:
        store.close()
    assert len(entries) == 2 * JOBS
    unpaired = [r["command"] for r in runs if r["entry_id"] is None]
    assert unpaired == []
    # /etc/crontab's hourly run-parts (at :17) runs too when the wait spans that minute
    assert {r["entry_id"] for r in runs} <= known
    assert {r["entry_id"] for r in runs if r["command"] != HOURLY} == {e["id"] for e in entries}
    # -L 15 logs END lines: each of accents' runs ended, paired by its job pid
    ended = [
        r
        for r in runs
        if r["host"] == "accents" and r["ended_at"] is not None and r["command"] != HOURLY
    ]
    assert {r["entry_id"] for r in ended} == {e["id"] for e in entries if e["host"] == "accents"}
    assert {r["status"] for r in ended} == {0}


def test_the_audit_finds_them_run_not_never_run(cronops):
    # past the grace of the minute the runs were due: an unpaired entry reads never_ran
    wait_for(lambda: time.time() % 60 > GRACE + 1, GRACE + 2, "the clock stopped")
    _, out = cronops("audit", "--since", "1h", "--format", "json")
    findings = json.loads(out)["findings"]
    assert [f for f in findings if f["kind"] in ("missed", "never_ran")] == []
