"""Fleet drift is judged across the whole fleet, whatever hosts are judged at once.

A scan judges the hosts it stored together (at most scan.GROUP_HOSTS of them), an action rescans
one host, `cronops audit --host` judges a few: drift still compares each with every host scanned
lately. The history here is filled the way scans fill it (tests/history.py), each host stored
and judged alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cronops.analysis import CrontabEvidence, Peers, judge
from cronops.audit import PEERS_ANSWERED, run_audit
from cronops.inventory import Host
from cronops.policy import PolicyBook
from cronops.records import FleetEntry
from cronops.scan import GROUP_HOSTS
from cronops.store import Store
from tests import history
from tests.test_analysis import host, on

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ROOT = "/var/spool/cron/crontabs/root"
BACKUP = "0 3 * * * /usr/local/bin/backup --all\n"
NAMES = [f"web-{n:02}" for n in range(1, 31)]  # more hosts than a scan judges at once
ODD, MISSING = "web-07", "web-13"


def crontab(name: str) -> str:
    if name == ODD:
        return BACKUP.replace("0 3", "30 4")
    if name == MISSING:
        return "0 5 * * * /usr/local/bin/rotate\n"
    return BACKUP


def scan_each_alone(db: Path, at: datetime, names=NAMES) -> None:
    for name in names:
        history.scan(db, name, {ROOT: crontab(name)}, at, policy=PolicyBook(), tags=("web",))


def open_drift(db: Path) -> dict[str, list[str]]:
    store = Store(db)
    try:
        incidents = store.incidents(["open"], now=NOW)
    finally:
        store.close()
    found: dict[str, list[str]] = {}
    for incident in incidents:
        if incident.kind == "drift":
            found.setdefault(incident.host, []).append(incident.detail)
    return found


def test_drift_is_found_across_more_hosts_than_are_judged_at_once(tmp_path):
    assert len(NAMES) > GROUP_HOSTS
    db = tmp_path / "history.db"
    scan_each_alone(db, NOW - timedelta(hours=1))
    scan_each_alone(db, NOW)  # each host judged alone, with the whole fleet stored
    drift = open_drift(db)
    assert sorted(drift) == [ODD, MISSING]
    assert "'0 3 * * *' on 28 other hosts (web-01, web-02, web-03, ..." in drift[ODD][0]
    assert "on 29 of 30 hosts tagged web" in drift[MISSING][0]


def test_an_audit_of_one_host_compares_it_with_the_fleet(tmp_path):
    db = tmp_path / "history.db"
    scan_each_alone(db, NOW)
    store = Store(db)
    try:
        chosen = [Host(name=name, address="127.0.0.1", tags=("web",)) for name in (ODD, MISSING)]
        audit = run_audit(store, PolicyBook(), chosen, NOW - timedelta(days=1), NOW)
    finally:
        store.close()
    drift = {f.host: f for f in audit.findings if f.kind == "drift"}
    assert sorted(drift) == [ODD, MISSING]
    assert "on 28 other hosts" in drift[ODD].detail


def test_a_host_silent_for_longer_than_peers_answered_is_not_compared_with(tmp_path):
    db = tmp_path / "history.db"
    long_ago = NOW - PEERS_ANSWERED - timedelta(hours=1)
    scan_each_alone(db, long_ago, [n for n in NAMES if n != ODD][:3])
    scan_each_alone(db, NOW, [ODD])
    assert open_drift(db) == {}


def test_peers_give_the_fleet_and_findings_are_only_the_judged_hosts():
    # web-02 to web-30 are only peers: their crontabs count, they get no findings.
    peers = Peers(
        {name: ("web",) for name in NAMES},
        [FleetEntry.of(on(name)) for name in NAMES],
    )
    judged = [host(name="web-01", tags=("web",))]
    mine = [on("web-01", "0 4 * * *")]  # as the judge is given it, not as the peers have it
    evidence = CrontabEvidence(peers=peers)
    found = judge(judged, mine, [], [], PolicyBook(), NOW, NOW - timedelta(days=1), evidence)
    (drift,) = [f for f in found if f.kind == "drift"]
    assert (drift.host, drift.entry_id) == ("web-01", "backup-web-01")
    assert "'0 3 * * *' on 29 other hosts" in drift.detail
