"""What changed, on a real host: crontabs replaced with the real `crontab` between two scans, a
cron.d file edited by hand, a pause by cronops; `cronops changes` says who and when.

The host `mike` runs rsyslog, so the `crontab` program's REPLACE and DELETE lines reach its log.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cronops.actions import actor
from cronops.cli import main
from cronops.store import Store
from tests.conftest import logged, own_fleet, wait_for
from tests.fleet import HostSpec

pytestmark = pytest.mark.fleet

SPOOL = "/var/spool/cron/crontabs"
ALICE = "0 3 * * * /home/alice/backup\n*/5 * * * * /home/alice/poll\n"
BOB = "30 1 * * * /home/bob/report\n"
APP = "*/10 * * * * root /opt/app/sync\n"


@pytest.fixture(scope="module")
def mike(tmp_path_factory):
    spec = HostSpec(
        name="mike",
        crontabs={"alice": ALICE, "bob": BOB},
        cron_d={"app": APP},
        syslog="traditional",
    )
    yield from own_fleet(tmp_path_factory, "changes-fleet", spec)


def changes(cronops, capsys, *args: str) -> list[dict]:
    capsys.readouterr()
    assert cronops("changes", "--format", "json", *args) == 0
    return json.loads(capsys.readouterr().out)["changes"]


def test_crontabs_replaced_between_two_scans_show_who_and_when(mike, tmp_path, capsys):
    host = mike.hosts["mike"]
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(mike.inventory_toml())
    db = str(tmp_path / "history.db")

    def cronops(*args: str) -> int:
        return main([args[0], "--inventory", str(inventory), "--db", db, *args[1:]])

    assert cronops("scan", "--format", "json") == 0
    assert changes(cronops, capsys) == []  # the first scan found what was there

    time.sleep(1.1)  # syslog stamps whole seconds: the edits come after the scan's second
    host.install_crontab("alice", ALICE.replace("0 3", "30 4"))  # root, `crontab -u alice -`
    host.run("echo '45 2 * * * /home/bob/report --weekly' | crontab -", user="bob")
    host.path("/etc/cron.d/app").write_text(APP.replace("*/10", "*/20"))
    wait_for(
        lambda: logged(host, "crontab[", "(bob) REPLACE (bob)"), 10, "bob's REPLACE not logged"
    )
    assert cronops("scan", "--format", "json") == 0

    found = sorted(changes(cronops, capsys), key=lambda c: c["path"])  # all in the same second
    assert [(c["path"], c["kind"], c["who"], c["via"], c["known_by"]) for c in found] == [
        ("/etc/cron.d/app", "schedule changed", None, None, "mtime"),
        (f"{SPOOL}/alice", "schedule changed", "root", "crontab -", "log"),
        (f"{SPOOL}/bob", "command changed", "bob", "crontab -", "log"),
    ]
    app, alice, bob = found
    assert alice["before"] == "0 3 * * * /home/alice/backup"
    assert alice["after"] == "30 4 * * * /home/alice/backup"
    assert bob["after"] == "45 2 * * * /home/bob/report --weekly" and bob["previous_id"]
    assert app["at"] <= app["seen_at"] and app["not_before"] < app["at"]

    # The same edits are `changed` findings (info) of the audit, with who and how.
    edited = audit_changed(cronops, capsys)
    assert edited["/home/bob/report --weekly"]["severity"] == "info"
    assert "by bob (crontab -)" in edited["/home/bob/report --weekly"]["detail"]
    assert "by root (crontab -)" in edited["/home/alice/backup"]["detail"]
    assert "'0 3 * * * /home/alice/backup' -> '30 4" in edited["/home/alice/backup"]["detail"]
    assert "/etc/cron.d/app" in edited["/opt/app/sync"]["detail"]
    # ... and the job's timeline in the TUI's detail.
    timeline = detail_changes(inventory, tmp_path / "history.db", bob["entry_id"])
    assert [(c.kind, c.who, c.via) for c in timeline] == [("command changed", "bob", "crontab -")]

    # cronops' own pause: its actor, and the `crontab -` it ran is not a change of its own
    # The log's whole seconds: a `crontab` line in the second of a scan may be before or after it.
    time.sleep(1.1)
    poll = _entry(tmp_path / "history.db", "/home/alice/poll")
    assert cronops("pause", poll, "--yes", "--reason", "disk full") == 0
    wait_for(lambda: logged(host, "(root) REPLACE (alice)") >= 2, 10, "the pause's REPLACE")
    time.sleep(1.1)
    host.run(["crontab", "-r"], user="bob")
    wait_for(lambda: logged(host, "(bob) DELETE (bob)"), 10, "bob's DELETE not logged")
    assert cronops("scan", "--format", "json") == 0
    latest = [c for c in changes(cronops, capsys) if c not in found]
    assert [(c["path"], c["kind"], c["who"], c["via"]) for c in latest] == [
        (f"{SPOOL}/alice", "paused", actor(), "cronops pause"),
        (f"{SPOOL}/bob", "file removed", "bob", "crontab -r"),
        (f"{SPOOL}/bob", "removed", "bob", "crontab -r"),
    ]
    assert latest[0]["entry_id"] == poll
    # cronops' own pause is in its audit trail, not a `changed` finding.
    assert "/home/alice/poll" not in audit_changed(cronops, capsys)

    # the entry's own timeline, and the table
    assert [c["kind"] for c in changes(cronops, capsys, "--entry", poll)] == ["paused"]
    assert cronops("changes") == 0
    table = capsys.readouterr().out
    assert "bob (crontab -r)" in table and "schedule changed" in table


def detail_changes(inventory: Path, db: Path, entry_id: str) -> list:
    """What the TUI's job detail lists under "What changed"."""
    from datetime import datetime

    from cronops.inventory import load_inventory
    from cronops.store import History
    from cronops.tui.data import FleetReader

    loaded = load_inventory(inventory)
    history = History.open(db)
    try:
        reader = FleetReader(history, loaded, loaded.hosts, now=datetime.now().astimezone)
        detail = reader.job_detail(entry_id)
    finally:
        history.close()
    assert detail is not None
    return detail.changes


def audit_changed(cronops, capsys) -> dict[str, dict]:
    """The audit's `changed` findings by their job's command."""
    capsys.readouterr()
    assert cronops("audit", "--no-scan", "--since", "1h", "--format", "json") in (0, 1)
    findings = json.loads(capsys.readouterr().out)["findings"]
    return {f["job"]["command"]: f for f in findings if f["kind"] == "changed" and f["job"]}


def _entry(db: Path, command: str) -> str:
    store = Store(db)
    try:
        (found,) = [e.id for e in store.entries() if e.command == command]
    finally:
        store.close()
    return found
