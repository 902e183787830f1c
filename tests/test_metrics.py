"""`cronops metrics` and /metrics: what a history holds, as Prometheus reads it.

The history is filled the way a scan fills it (tests/history.py): a backup that succeeded three
days ago and failed two days ago, under Debian cron -L 15's lines; a sync that never ran.
"""

from __future__ import annotations

import io
import os
import stat
import urllib.request
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cronops.cli import main
from cronops.metrics import serve
from cronops.policy import PolicyBook
from cronops.retention import prune
from cronops.schedule import next_runs
from cronops.store import Store
from tests import history

ZONE = "Europe/Berlin"
BACKUP = "/usr/local/bin/backup --full"
SYNC = "/usr/local/bin/sync " + "--verbose " * 30  # a long line: its label is cut
SPOOL_ROOT = "/var/spool/cron/crontabs/root"
CRONTAB = f"0 3 * * * {BACKUP}\n*/10 * * * * {SYNC}\n"

# name -> (type, labels): the names, types and labels dashboards and alert rules are built on.
PINNED = {
    "cronops_host_scan_ok": ("gauge", {"host"}),
    "cronops_host_last_scan_timestamp_seconds": ("gauge", {"host"}),
    "cronops_host_last_ok_scan_timestamp_seconds": ("gauge", {"host"}),
    "cronops_host_scan_age_seconds": ("gauge", {"host"}),
    "cronops_job_last_start_timestamp_seconds": ("gauge", {"host", "entry", "user", "command"}),
    "cronops_job_last_success_timestamp_seconds": ("gauge", {"host", "entry", "user", "command"}),
    "cronops_job_last_duration_seconds": ("gauge", {"host", "entry", "user", "command"}),
    "cronops_job_next_run_timestamp_seconds": ("gauge", {"host", "entry", "user", "command"}),
    "cronops_job_interval_seconds": ("gauge", {"host", "entry", "user", "command"}),
    "cronops_incidents_open": ("gauge", {"kind", "severity"}),
    "cronops_incidents_acknowledged": ("gauge", {"kind", "severity"}),
}


def at_three(days_ago: int, now: datetime) -> datetime:
    """03:00:01 in Berlin, `days_ago` days before now."""
    local = now.astimezone(ZoneInfo(ZONE)) - timedelta(days=days_ago)
    return local.replace(hour=3, minute=0, second=1, microsecond=0)


def debian_run(start: datetime, took: int, status: int, pid: int) -> str:
    end = start + timedelta(seconds=took)
    lines = [history.syslog(start, ZONE, "db1", f"CRON[{pid}]: (root) CMD ([{pid + 1}] {BACKUP})")]
    if status:
        failure = f"(CRON) error (grandchild #{pid + 1} failed with exit status {status})"
        lines.append(history.syslog(end, ZONE, "db1", f"CRON[{pid}]: {failure}"))
    lines.append(
        history.syslog(end, ZONE, "db1", f"CRON[{pid}]: (root) END ([{pid + 1}] {BACKUP})")
    )
    return "".join(lines)


@pytest.fixture
def fleet_history(tmp_path):
    """db1 scanned a minute ago; db2 in the inventory, never scanned."""
    now = datetime.now(UTC).replace(microsecond=0)
    scanned = now - timedelta(minutes=1)
    log = debian_run(at_three(3, now), 60, 0, 100) + debian_run(at_three(2, now), 30, 2, 200)
    month_ago = {SPOOL_ROOT: now - timedelta(days=30)}
    db = tmp_path / "history.db"
    history.scan(
        db,
        "db1",
        {SPOOL_ROOT: CRONTAB},
        scanned,
        zone=ZONE,
        log=log,
        mtimes=month_ago,
        policy=PolicyBook(),
    )
    inventory = history.inventory(tmp_path / "hosts.toml", "db1", "db2")
    return db, inventory, now, scanned


def metrics_text(db: Path, inventory: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["metrics", "--inventory", str(inventory), "--db", str(db), *args])
    return code, out.getvalue()


def samples(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_names_types_and_labels_are_pinned(fleet_history, capfdbinary):
    db, inventory, _, _ = fleet_history
    assert main(["metrics", "--inventory", str(inventory), "--db", str(db)]) == 0
    text = capfdbinary.readouterr().out.decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {
        name: (f.type, set(f.samples[0].labels) if f.samples else None)
        for name, f in families.items()
    } == {
        name: (kind, labels if families[name].samples else None)
        for name, (kind, labels) in PINNED.items()
    }
    assert all(f.documentation for f in families.values())


def test_values_follow_the_history(fleet_history, capfdbinary):
    db, inventory, now, scanned = fleet_history
    assert main(["metrics", "--inventory", str(inventory), "--db", str(db)]) == 0
    found = samples(capfdbinary.readouterr().out.decode())

    def one(name: str, **labels) -> float:
        (value,) = [s.value for s in found[name] if labels.items() <= s.labels.items()]
        return value

    # db2 was never scanned: no series says anything about it yet.
    assert {s.labels["host"] for s in found["cronops_host_scan_ok"]} == {"db1"}
    assert one("cronops_host_scan_ok", host="db1") == 1
    assert one("cronops_host_last_ok_scan_timestamp_seconds", host="db1") == scanned.timestamp()
    assert 60 <= one("cronops_host_scan_age_seconds", host="db1") < 120

    backup = {"host": "db1", "user": "root", "command": BACKUP}
    assert one("cronops_job_last_start_timestamp_seconds", **backup) == at_three(2, now).timestamp()
    success = at_three(3, now) + timedelta(seconds=60)  # it ended then, exit status 0
    assert one("cronops_job_last_success_timestamp_seconds", **backup) == success.timestamp()
    assert one("cronops_job_last_duration_seconds", **backup) == 30  # the failed one, two days ago
    assert one("cronops_job_interval_seconds", **backup) == 86400
    upcoming = next_runs("0 3 * * *", ZoneInfo(ZONE), datetime.now(UTC), 1)[0]
    assert one("cronops_job_next_run_timestamp_seconds", **backup) == upcoming.timestamp()

    (sync,) = [
        s.labels
        for s in found["cronops_job_interval_seconds"]
        if s.labels != {**s.labels, **backup}
    ]
    assert len(sync["command"]) == 80 and sync["command"].endswith("…")
    assert one("cronops_job_interval_seconds", command=sync["command"]) == 600
    # It never ran: no last start, success or duration, but a next run.
    assert not [s for s in found["cronops_job_last_start_timestamp_seconds"] if s.labels == sync]

    # The stored incidents: the backup's failure, a warning for a normal job.
    assert one("cronops_incidents_open", kind="failed") == 1
    assert one("cronops_incidents_open", kind="failed", severity="warning") == 1
    assert found["cronops_incidents_acknowledged"] == []


def test_an_acknowledged_incident_is_counted_as_such(fleet_history, capfdbinary):
    db, inventory, now, _ = fleet_history
    store = Store(db)
    try:
        (failed,) = [i for i in store.incidents(("open",)) if i.kind == "failed"]
        store.acknowledge(failed.id, "oncall", "looking", None, now)
    finally:
        store.close()
    assert main(["metrics", "--inventory", str(inventory), "--db", str(db)]) == 0
    found = samples(capfdbinary.readouterr().out.decode())
    assert "failed" not in {s.labels["kind"] for s in found["cronops_incidents_open"]}
    (acked,) = found["cronops_incidents_acknowledged"]
    assert (acked.labels, acked.value) == ({"kind": "failed", "severity": "warning"}, 1)


def test_output_file_is_written_whole_for_the_textfile_collector(fleet_history, tmp_path):
    db, inventory, _, _ = fleet_history
    out = tmp_path / "textfile" / "cronops.prom"
    out.parent.mkdir()
    code, printed = metrics_text(db, inventory, "--output", str(out))
    assert code == 0 and printed == ""
    assert "cronops_job_last_start_timestamp_seconds" in samples(out.read_text())
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # node_exporter's user reads it
    assert os.listdir(out.parent) == ["cronops.prom"]  # no temp file left behind

    missing = tmp_path / "nowhere" / "cronops.prom"
    assert metrics_text(db, inventory, "--output", str(missing))[0] == 2
    assert metrics_text(tmp_path / "none.db", inventory)[0] == 2


def test_served_metrics_are_scraped_over_http(fleet_history):
    db, _, _, _ = fleet_history
    server = serve(0, db)
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    finally:
        server.close()
    found = samples(text)
    # Without an inventory: every host the history holds.
    assert {s.labels["host"] for s in found["cronops_host_scan_ok"]} == {"db1"}
    assert len(found["cronops_job_last_start_timestamp_seconds"]) == 1


def test_a_last_success_and_duration_outlive_the_retention(fleet_history, capfdbinary):
    """A yearly job's latest run failed: its last success, a year before, was folded past the
    retention with the day it ran; the run itself is kept while it is the latest success."""
    db, inventory, now, _ = fleet_history
    store = Store(db)
    try:
        pruned = prune(store, now + timedelta(days=40))
        assert pruned.runs_folded == 2 and pruned.runs_deleted == 0
    finally:
        store.close()
    assert main(["metrics", "--inventory", str(inventory), "--db", str(db)]) == 0
    found = samples(capfdbinary.readouterr().out.decode())

    def one(name: str) -> float:
        (value,) = [s.value for s in found[name] if s.labels["command"] == BACKUP]
        return value

    success = at_three(3, now) + timedelta(seconds=60)
    assert one("cronops_job_last_success_timestamp_seconds") == success.timestamp()
    assert one("cronops_job_last_start_timestamp_seconds") == at_three(2, now).timestamp()
    assert one("cronops_job_last_duration_seconds") == 30
