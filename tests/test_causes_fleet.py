"""Why a run did not happen, and what a job printed, on real hosts: real Debian cron, rsyslog,
Debian's dma delivering cron's mail to /var/mail, and `cronops audit`.

`restarted` runs a job every minute; its cron is stopped across one minute and started again, so
that minute's run is missed and cron's start after it is the cause. On `rejects`, cron refuses
bob's crontab (a line it cannot read) and ghost's (no passwd entry), so their jobs never start.
On `mailer`, alice's job fails every minute printing text and bytes that are not UTF-8; cron
mails it through the real dma, and the audit shows the output on the failed run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.conftest import LIVE_POLICY, logged, own_fleet, wait_for
from tests.fleet import Fleet, HostSpec

pytestmark = pytest.mark.fleet

TICK = "echo tick"
GARBAGE = "this is not a cron line"
# a first line, a line mbox must quote, UTF-8, a raw byte and an escape sequence, then exit 3
FAILING = "echo first line; echo From the job; printf 'caf\\303\\251 \\377 \\033[2J\\n' >&2; exit 3"


@pytest.fixture(scope="module")
def causes_fleet(tmp_path_factory):
    yield from own_fleet(
        tmp_path_factory,
        "causes-fleet",
        HostSpec(
            name="restarted",
            cron=True,
            cron_level=15,
            syslog="traditional",
            crontabs={"alice": f"* * * * * {TICK}\n"},
        ),
        HostSpec(
            name="rejects",
            cron=True,
            cron_level=15,
            syslog="traditional",
            crontabs={
                "alice": f"* * * * * {TICK}\n",
                "bob": f"* * * * * echo bob\n{GARBAGE}\n",
                "ghost": "* * * * * echo ghost\n",
            },
        ),
        HostSpec(
            name="mailer",
            cron=True,
            cron_level=15,
            syslog="traditional",
            mta="dma",
            crontabs={"alice": f"* * * * * {FAILING}\n"},
        ),
    )


def _seconds_into_minute() -> float:
    return time.time() % 60


@pytest.fixture(scope="module")
def findings(causes_fleet: Fleet, tmp_path_factory):
    fleet = causes_fleet
    restarted = fleet.hosts["restarted"]
    wait_for(lambda: logged(restarted, "(alice) CMD", TICK) >= 1, 75, "alice's first run")
    restarted.stop_cron()
    # cron is stopped across the next minute: that run is missed, then cron starts again
    time.sleep(60 - _seconds_into_minute() + 3)
    restarted.start_cron()
    # the missed minute's deadline (its time + the 20 s grace) passes before the audit
    time.sleep(max(0.0, 25 - _seconds_into_minute()))
    tmp = tmp_path_factory.mktemp("causes-audit")
    inventory = tmp / "hosts.toml"
    inventory.write_text(fleet.inventory_toml(extra_defaults=LIVE_POLICY))
    audit = ["audit", "--inventory", str(inventory), "--db", str(tmp / "history.db")]
    done = subprocess.run(
        [sys.executable, "-m", "cronops", *audit, "--since", "1h", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    return [g for f in json.loads(done.stdout)["findings"] for g in (f, *f["jobs"])]


@pytest.fixture(scope="module")
def mailer_audit(findings, causes_fleet: Fleet, tmp_path_factory):
    """`cronops audit` on mailer alone, in a terminal's table (--verbose) and in JSON."""
    del findings  # after the minutes it waited, the mail of a run or two is there
    mailer = causes_fleet.hosts["mailer"]
    box = mailer.path("/var/mail/alice")
    wait_for(lambda: box.exists() and b"(failed)" in box.read_bytes(), 75, "alice's cron mail")
    tmp = tmp_path_factory.mktemp("mailer-audit")
    inventory = tmp / "hosts.toml"
    inventory.write_text(causes_fleet.inventory_toml(["mailer"], extra_defaults=LIVE_POLICY))
    audit = ["audit", "--inventory", str(inventory), "--db", str(tmp / "history.db")]

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "cronops", *audit, "--since", "1h", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        return done.stdout

    return json.loads(run("--format", "json"))["findings"], run("--verbose"), box.read_bytes()


def of(findings, host: str, user: str, kinds=("missed", "never_ran")):
    found = [
        f
        for f in findings
        if f["host"] == host and f["kind"] in kinds and f["job"] and f["job"]["user"] == user
    ]
    assert len(found) == 1, findings
    return found[0]


def test_a_run_missed_while_cron_was_stopped_names_crons_start(findings, causes_fleet):
    missed = of(findings, "restarted", "alice")
    assert missed["kind"] == "missed"
    assert "Most likely cause: cron was not running" in missed["cause"]
    assert "(CRON) STARTUP" in missed["cause"]
    assert missed["cause"] in missed["detail"] and missed["cause"] in missed["evidence"]


def test_a_rejected_crontab_is_the_cause_with_crons_line(findings, causes_fleet):
    assert logged(causes_fleet.hosts["rejects"], "(bob) ERROR (Syntax error")
    bob = of(findings, "rejects", "bob")
    assert "its crontab was rejected by cron" in bob["cause"]
    assert "Error: bad minute; while reading crontab for user bob" in bob["cause"]
    assert "(bob) ERROR (Syntax error, this crontab file will be ignored)" in bob["cause"]


def test_a_user_with_no_passwd_entry_is_the_cause(findings):
    ghost = of(findings, "rejects", "ghost")
    assert "the user ghost has no passwd entry" in ghost["cause"]
    assert "(ghost) ORPHAN (no passwd entry)" in ghost["cause"]


def test_a_job_that_ran_has_no_cause_to_give(findings):
    ran = [
        f for f in findings if f["host"] == "rejects" and (f["job"] or {}).get("user") == "alice"
    ]
    assert not ran


def test_a_failed_runs_output_comes_from_the_mail_cron_sent(mailer_audit):
    findings, _, mailbox = mailer_audit
    # the real dma delivered it: cron's subject, and the line mbox quotes
    assert b"Subject: Cron <alice@mailer> " in mailbox and b"\n>From the job\n" in mailbox
    failed = next(f for f in findings if f["kind"] == "failed")
    printed = failed["evidence"].split("printed (the end of its output, from the mail cron sent): ")
    assert len(printed) == 2
    # exact in JSON: the quoting undone, UTF-8 and the raw byte as they were
    assert printed[1] == "first line\nFrom the job\ncafé \udcff \x1b[2J"


def test_the_output_reaches_the_terminal_escaped(mailer_audit):
    _, table, _ = mailer_audit
    assert "\x1b" not in table
    assert "café \\xff \\x1b[2J" in table
