"""Stored findings on real hosts: each `cronops scan` judges the hosts it scanned, and their
incidents open, stay, and resolve as real cron runs, fails, is fixed, paused or stopped.

The host `foxtrot` (own fleet, cron -L 15, a minute schedule) is changed here; the session's
live fleet is only read (alpha's failing `exit 3`, delta's stopped cron).
"""

from __future__ import annotations

import json

import pytest

from cronops.cli import main
from tests.conftest import LIVE_POLICY, logged, own_fleet, wait_for
from tests.fleet import HostSpec
from tests.test_rerun_fleet import job_id

pytestmark = pytest.mark.fleet

FOXTROT_ROOT = (
    "* * * * * test -e /root/fixed\n"  # fails until someone fixes it on the host
    "* * * * * exit 4\n"  # fails until paused
)


@pytest.fixture(scope="module")
def foxtrot_fleet(tmp_path_factory):
    spec = HostSpec(
        name="foxtrot",
        crontabs={"root": FOXTROT_ROOT},
        cron=True,
        cron_level=15,
        syslog="traditional",
    )
    yield from own_fleet(tmp_path_factory, "incidents-fleet", spec)


def runner(fleet, tmp_path, capsys):
    """`cronops ARGS` on this fleet with its own history; returns (exit code, parsed JSON)."""
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(fleet.inventory_toml(extra_defaults=LIVE_POLICY))
    db = tmp_path / "history.db"

    def cronops(*args: str) -> tuple[int, object]:
        capsys.readouterr()
        code = main([args[0], "--inventory", str(inventory), "--db", str(db), *args[1:]])
        out = capsys.readouterr().out
        return code, json.loads(out) if "json" in args and out.strip() else out

    cronops.db = db
    return cronops


def findings(cronops, *states: str) -> list[dict]:
    args = [arg for state in states for arg in ("--state", state)]
    code, data = cronops("findings", "--format", "json", *args)
    assert code == 0
    return data["findings"]


def of(found: list[dict], kind: str, entry_id: str | None, host: str | None = None) -> dict:
    (one,) = [
        f
        for f in found
        if f["kind"] == kind and f["entry_id"] == entry_id and host in (None, f["host"])
    ]
    return one


def test_failing_jobs_open_then_a_fix_on_the_host_and_a_pause_resolve_them(
    foxtrot_fleet, tmp_path, capsys
):
    host = foxtrot_fleet.hosts["foxtrot"]
    cronops = runner(foxtrot_fleet, tmp_path, capsys)
    wait_for(lambda: logged(host, ") END (", "test -e") >= 2, 150, "two failed runs")
    wait_for(lambda: logged(host, ") END (", "exit 4") >= 2, 60, "two failed runs of exit 4")
    assert cronops("scan", "--format", "json")[0] == 0
    test_e, exit_4 = job_id(cronops.db, "test -e"), job_id(cronops.db, "exit 4")

    failing = of(findings(cronops), "failed", test_e)
    assert (failing["host"], failing["state"], failing["severity"]) == (
        "foxtrot",
        "open",
        "warning",
    )
    assert failing["streak"] >= 2 and failing["count"] >= 2
    assert failing["first_seen"] == failing["opened_at"] == failing["last_seen"]
    assert failing["summary"].startswith(f"failed ×{failing['streak']} since ")
    assert cronops("findings")[0] == 0  # the table (its words: tests/test_incidents.py)

    # A rescan after the next failed run: the same rows, seen again. (With nothing new, a
    # rescan leaves them unjudged: test_a_rescan_with_nothing_new_leaves_the_findings_unjudged.)
    failed_runs = logged(host, ") END (", "test -e")
    wait_for(lambda: logged(host, ") END (", "test -e") > failed_runs, 90, "the next failed run")
    assert cronops("scan", "--format", "json")[0] == 0
    again = findings(cronops, "open", "acknowledged", "resolved")
    assert {(f["id"], f["kind"], f["entry_id"]) for f in again} == {
        (f["id"], f["kind"], f["entry_id"]) for f in findings(cronops)
    }
    seen_again = of(again, "failed", test_e)
    assert seen_again["id"] == failing["id"] and seen_again["first_seen"] == failing["first_seen"]
    assert seen_again["last_seen"] > failing["last_seen"]

    # Fixed on the host: its next run succeeds. Paused with cronops: resolved by its rescan.
    host.path("/root/fixed").write_text("")
    ended = logged(host, ") END (", "test -e")
    assert cronops("pause", exit_4, "--yes")[0] == 0
    paused = of(findings(cronops, "resolved"), "failed", exit_4)
    assert paused["resolved_why"] == "the entry was paused"
    wait_for(lambda: logged(host, ") END (", "test -e") > ended, 90, "a run after the fix")
    assert cronops("scan", "--format", "json")[0] == 0
    fixed = of(findings(cronops, "resolved"), "failed", test_e)
    assert (fixed["id"], fixed["resolved_why"]) == (failing["id"], "a later run succeeded")
    # The scan that resolved it still reports it, over (a later run succeeded): last seen then,
    # and so `audit --no-scan` lists it as judging that window does.
    assert seen_again["last_seen"] < fixed["last_seen"] == fixed["resolved_at"]
    assert [f for f in findings(cronops) if f["kind"] == "failed"] == []


# golf: no cron daemon runs (cron_not_running) and its crontab has a line cron rejects
# (crontab_errors); nothing new comes into its log between scans.
GOLF_ROOT = "0 3 * * * /usr/local/bin/backup\nnot a cron line\n"


@pytest.fixture(scope="module")
def golf_fleet(tmp_path_factory):
    spec = HostSpec(name="golf", crontabs={"root": GOLF_ROOT}, syslog="traditional")
    yield from own_fleet(tmp_path_factory, "judged-fleet", spec)


def test_a_rescan_with_nothing_new_leaves_the_findings_unjudged_and_an_edit_judges_them(
    golf_fleet, tmp_path, capsys, monkeypatch
):
    from cronops import analysis, audit

    host = golf_fleet.hosts["golf"]
    cronops = runner(golf_fleet, tmp_path, capsys)
    assert cronops("scan", "--format", "json")[0] == 0
    before = findings(cronops, "open", "acknowledged", "resolved")
    assert {f["kind"] for f in before} == {"cron_not_running", "crontab_errors"}
    judged: list[str] = []  # what the judge was asked to judge: a host's window, or drift
    for module, name in ((audit, "run_audit"), (analysis, "drift")):
        judge = getattr(module, name)
        monkeypatch.setattr(
            module,
            name,
            lambda *args, judge=judge, name=name, **kwargs: (
                judged.append(name) or judge(*args, **kwargs)
            ),
        )

    assert cronops("scan", "--format", "json")[0] == 0
    assert judged == []
    assert findings(cronops, "open", "acknowledged", "resolved") == before  # last_seen too

    # The rejected line removed on the host: judged again, its finding resolved (its entries
    # are as they were: drift, which compares only those, is not judged again).
    host.path("/var/spool/cron/crontabs/root").write_text("0 3 * * * /usr/local/bin/backup\n")
    assert cronops("scan", "--format", "json")[0] == 0
    assert judged == ["run_audit"]
    errors = of(findings(cronops, "resolved"), "crontab_errors", None)
    assert errors["id"] == of(before, "crontab_errors", None)["id"]


def test_a_critical_failure_and_a_stopped_cron_on_the_live_fleet(live_fleet, tmp_path, capsys):
    cronops = runner(live_fleet, tmp_path, capsys)
    cronops("scan", "--format", "json")
    found = findings(cronops)
    exit_3 = of(found, "failed", job_id(cronops.db, "exit 3"))
    assert exit_3["host"] == "alpha" and exit_3["streak"] >= 1
    # One incident for delta's stopped cron, carrying the job it stopped, and none for the job.
    delta_job = job_id(cronops.db, "echo delta")
    stopped = of(found, "cron_not_running", None, "delta")
    assert (stopped["host"], stopped["severity"], stopped["jobs"]) == (
        "delta",
        "critical",
        [delta_job],
    )
    assert [f for f in found if f["entry_id"] == delta_job] == []

    # Acknowledged, with a note and an end: in the trail, and `audit --no-scan` still shows it.
    code, out = cronops("ack", str(stopped["id"]), "--note", "on it", "--until", "4h")
    assert code == 0 and f"acknowledged finding {stopped['id']} " in out and "on it" in out
    acked = of(findings(cronops, "acknowledged"), "cron_not_running", None, "delta")
    assert acked["ack_note"] == "on it" and acked["ack_until"] is not None
    code, trail = cronops("log", "--format", "json")
    assert trail["actions"][0]["action"] == "ack"
    code, audit = cronops("audit", "--no-scan", "--since", "8d", "--format", "json")
    assert {(f["host"], f["kind"]) for f in audit["findings"]} >= {
        ("delta", "cron_not_running"),
        ("alpha", "failed"),
    }
    assert cronops("ack", "999999")[0] == 2
