"""`cronops audit` on the live fleet: real cron daemons, real rsyslog lines, planted history.

alpha runs Debian cron -L 15 (traditional syslog), bravo -L 1 (RFC 3339), delta's cron is
stopped mid-session, charlie (Europe/Berlin) has 20 days of planted history and no daemon.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import LIVE_POLICY, logged, wait_for

pytestmark = pytest.mark.fleet


@pytest.fixture(scope="module")
def audit(live_fleet, tmp_path_factory):
    """Run the real `cronops audit` command; returns (exit code, stdout)."""
    tmp = tmp_path_factory.mktemp("audit")
    inventory = tmp / "hosts.toml"
    # alpha's `exit 3` is a critical job: its failures wake someone; the rest are normal.
    critical = '\n[[jobs]]\ncommand = "exit 3"\ntier = "critical"\n'
    inventory.write_text(live_fleet.inventory_toml(extra_defaults=LIVE_POLICY) + critical)
    db = tmp / "history.db"

    def run(*args: str) -> tuple[int, str]:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cronops",
                "audit",
                "--inventory",
                str(inventory),
                "--db",
                str(db),
                "--since",
                "8d",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
        return done.returncode, done.stdout

    return run


@pytest.fixture(scope="module")
def findings(audit):
    code, out = audit("--format", "json")
    assert code == 1
    return json.loads(out)


def every(data):
    """Each finding, and the job findings listed under it."""
    return [g for f in data["findings"] for g in (f, *f["jobs"])]


def of(data, host, command=None):
    """(kind, finding) for a host's job (or the host itself when command is None)."""
    return {
        f["kind"]: f
        for f in every(data)
        if f["host"] == host
        and (
            (f["job"] is None) if command is None else (f["job"] and f["job"]["command"] == command)
        )
    }


def test_a_healthy_job_stays_silent(findings):
    assert of(findings, "alpha", "echo tick >> /var/log/tick.out") == {}


def test_a_job_that_exits_non_zero_is_failed(findings):
    failed = of(findings, "alpha", "exit 3")["failed"]
    assert failed["severity"] == "critical" and failed["count"] >= 1  # its tier is critical
    assert of(findings, "alpha", "sleep 75")["overlap"]["severity"] == "info"  # a normal job's
    assert "exit status 3" in failed["detail"] + failed["evidence"]


def test_a_failing_job_shows_its_streak_back_before_the_window(audit, findings, live_fleet):
    whole = of(findings, "alpha", "exit 3")["failed"]
    assert whole["streak"] == whole["count"]  # every run of it failed: all in a row
    wait_for(lambda: logged(live_fleet.hosts["alpha"], "CMD", "exit 3") >= 3, 90, "3 runs")
    recent = of(json.loads(audit("--since", "70s", "--format", "json")[1]), "alpha", "exit 3")
    failed = recent["failed"]
    # The window holds the last run or two; the streak goes back to its first run.
    assert failed["count"] <= 2 < failed["streak"]
    assert failed["streak_since"] == whole["streak_since"] == whole["first_at"]
    assert failed["summary"].startswith(f"failed ×{failed['streak']} since ")


def test_a_job_longer_than_its_interval_overlaps(findings):
    assert "overlap" in of(findings, "alpha", "sleep 75")


def test_a_job_that_never_ends_is_hung(findings):
    assert "hung" in of(findings, "alpha", "flock -n /run/hang.lock sleep 100000 || true")


def test_start_lines_only_give_no_failed(findings):
    bravo = [f for f in findings["findings"] if f["host"] == "bravo"]
    assert not [f for f in bravo if f["kind"] in ("failed", "slow")]


def test_a_stopped_cron_daemon_is_one_finding_with_its_jobs_missed_runs_under_it(findings):
    stopped = of(findings, "delta")["cron_not_running"]
    missed = of(findings, "delta", "echo delta")["missed"]
    assert missed["severity"] == "warning"  # a normal job's
    assert stopped["severity"] == "critical"  # a host's own: no tier lowers it
    assert stopped["jobs"] == [missed]
    delta = [f for f in findings["findings"] if f["host"] == "delta"]
    assert [f["kind"] for f in delta] == ["cron_not_running"]  # not a row per job


def test_a_host_is_judged_in_its_own_zone(findings):
    certbot = of(findings, "charlie", "/usr/bin/certbot renew")
    # Planted: day 4 did not run, day 3 exited 1; every other 03:00 (Berlin) run was on time.
    assert set(certbot) == {"missed", "failed"}
    assert certbot["missed"]["count"] == 1
    assert "T03:00:00+01:00" in certbot["missed"]["first_at"]
    assert of(findings, "charlie", "/home/alice/rotate-photos") == {}
    assert {"cron_not_running", "crontab_errors"} <= set(of(findings, "charlie"))


def test_json_contract(findings):
    assert set(findings) == {"generated_at", "since", "until", "hosts", "findings", "folded_days"}
    assert {h["name"]: h["status"] for h in findings["hosts"]} == {
        "alpha": "ok",
        "bravo": "ok",
        "charlie": "ok",
        "delta": "ok",
    }
    # Nothing older than the retention yet: the days folded in the window count nothing.
    assert findings["folded_days"] == {"from": None} | dict.fromkeys(
        ("runs", "ok", "failed", "killed", "unknown", "manual"), 0
    )
    for finding in findings["findings"]:
        assert {
            "host",
            "kind",
            "severity",
            "count",
            "first_at",
            "last_at",
            "evidence",
            "detail",
            "job",
            "jobs",
        } <= set(finding)
        assert finding["first_at"][-6] in "+-"  # ISO 8601 with an offset


def test_fail_on_and_exit_codes(audit, findings):
    from cronops.kinds import KINDS

    found = {f["kind"] for f in every(findings)}
    absent = sorted(set(KINDS) - found)
    assert audit("--no-scan", "--fail-on", "info")[0] == 1
    assert audit("--no-scan", "--fail-on", ",".join(absent))[0] == 0
    assert audit("--no-scan", "--fail-on", "hung")[0] == 1


def test_markdown_and_table(audit, findings):
    text = audit("--no-scan", "--format", "markdown")[1]
    assert text.startswith("# cronops audit") and "| alpha |" in text
    table = audit("--no-scan")[1]
    assert "crit" in table and "\x1b[" not in table
    # One line a finding: delta's stopped cron is one line, its job listed beneath it.
    lines = table.splitlines()
    stopped = next(line for line in lines if "cron_not_running" in line and "delta" in line)
    below = lines[lines.index(stopped) + 1]
    assert stopped.split()[:2] == ["crit", "delta"] and below.split()[:2] == ["↳", "missed"]
    assert "no start line" not in table.lower()  # the evidence is --verbose's
    verbose = " ".join(audit("--no-scan", "--verbose")[1].split())  # as one line, unwrapped
    assert "The process list of the last scan shows no cron daemon" in verbose
