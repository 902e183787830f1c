"""Durations against the job's own history, and drift across hosts, on real hosts over SSH.

tango1's syslog holds a planted day of an hourly backup as Debian's cron -L 15 logs it: runs of
5 minutes, one of 1 second (too_fast) and one of 40 minutes (slow). The same backup is on
tango1 and tango2 at minute 0 and on tango3 at minute 30 (drift on tango3).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cronops.cli import main
from tests.conftest import own_fleet, syslog_day
from tests.fleet import HostSpec

pytestmark = pytest.mark.fleet

BACKUP = "/usr/local/bin/nightly-backup --all"
NOW = datetime.now(ZoneInfo("UTC"))
FAST_AGO, SLOW_AGO = 14, 6  # hours ago: the runs that stand out


def planted_log() -> str:
    """20 hourly runs of the backup, ended, as rsyslog's traditional format writes them."""
    lines = []
    top = NOW.replace(minute=0, second=1, microsecond=0)
    for back in range(20, 0, -1):
        start = top - timedelta(hours=back)
        took = {FAST_AGO: 1, SLOW_AGO: 40 * 60}.get(back, 5 * 60)
        pid = 1000 + back * 2
        lines.append(f"{syslog_day(start)} tango1 CRON[{pid}]: (root) CMD ([{pid + 1}] {BACKUP})")
        end = start + timedelta(seconds=took)
        lines.append(f"{syslog_day(end)} tango1 CRON[{pid}]: (root) END ([{pid + 1}] {BACKUP})")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def tango(tmp_path_factory):
    specs = [
        HostSpec(
            name=name,
            crontabs={"root": f"{minute} * * * * {BACKUP}\n"},
            log_files={"syslog": planted_log()} if name == "tango1" else {},
        )
        for name, minute in (("tango1", 0), ("tango2", 0), ("tango3", 30))
    ]
    yield from own_fleet(tmp_path_factory, "baselines-fleet", *specs)


@pytest.fixture(scope="module")
def findings(tango, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("baselines")
    inventory = tmp / "hosts.toml"
    inventory.write_text(tango.inventory_toml())
    db = str(tmp / "history.db")
    args = ["audit", "--inventory", str(inventory), "--db", db, "--since", "1d"]
    assert main([*args, "--format", "json"]) in (0, 1)
    return args


def audit(capsys, args) -> list[dict]:
    capsys.readouterr()
    assert main([*args, "--no-scan", "--format", "json"]) in (0, 1)
    return json.loads(capsys.readouterr().out)["findings"]


def test_a_too_fast_and_a_slow_run_stand_out_among_normal_ones(findings, capsys):
    found = {(f["host"], f["kind"]): f for f in audit(capsys, findings)}
    fast, slow = found[("tango1", "too_fast")], found[("tango1", "slow")]
    assert fast["count"] == 1 and slow["count"] == 1
    assert "ran 1s" in fast["detail"] and "runs around it is 5m" in fast["detail"]
    assert "ran 40m" in slow["detail"] and "runs around it is 5m" in slow["detail"]
    assert fast["severity"] == "warning" and slow["severity"] == "info"


def test_one_host_of_three_with_another_schedule_is_drift(findings, capsys):
    drift = [f for f in audit(capsys, findings) if f["kind"] == "drift"]
    assert [(f["host"], f["job"]["command"]) for f in drift] == [("tango3", BACKUP)]
    assert "'30 * * * *' here, '0 * * * *' on 2 other hosts (tango1, tango2)" in drift[0]["detail"]


def test_the_stored_findings_list_what_judging_the_window_lists(findings, capsys):
    """`audit --no-scan` reads what the scans stored instead of judging the history again, and
    lists the same findings as judging the same window: the past too_fast and slow runs,
    though normal runs came after them (over), besides what still stands (drift)."""
    scanned = [*findings, "--window", "1d", "--format", "json"]
    capsys.readouterr()
    assert main(scanned) in (0, 1)  # a scan over the day, then that day judged
    judged = json.loads(capsys.readouterr().out)["findings"]
    stored = audit(capsys, findings)

    def listed(found: list[dict]) -> list[tuple]:
        keys = ("host", "kind", "severity", "count", "summary", "detail", "evidence")
        return sorted(
            (*(f[key] for key in keys), (f["job"] or {}).get("id"), len(f["jobs"])) for f in found
        )

    assert {"too_fast", "slow", "drift"} <= {f["kind"] for f in stored}
    assert listed(stored) == listed(judged)
