"""`cronops metrics` after a real scan over SSH: charlie (Europe/Berlin, 20 days of planted
Debian cron -L 15 history, no daemon) and a host that does not answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cronops.cli import main
from cronops.schedule import next_runs, previous_run
from tests.fleet import free_port

pytestmark = pytest.mark.fleet

BERLIN = ZoneInfo("Europe/Berlin")


def test_metrics_of_a_real_scan(fleet, tmp_path, capfdbinary):
    inventory = tmp_path / "hosts.toml"
    gone = {"name": "gone", "address": "127.0.0.1", "port": free_port()}
    inventory.write_text(fleet.inventory_toml(["charlie"], extra_hosts=[gone]))
    fleet_args = ["--inventory", str(inventory), "--db", str(tmp_path / "history.db")]
    assert main(["scan", *fleet_args]) == 1  # gone did not answer
    capfdbinary.readouterr()
    assert main(["metrics", *fleet_args]) == 0
    now = datetime.now(UTC)
    found = {
        f.name: f.samples
        for f in text_string_to_metric_families(capfdbinary.readouterr().out.decode())
    }

    def one(name: str, **labels) -> float:
        (value,) = [s.value for s in found[name] if labels.items() <= s.labels.items()]
        return value

    assert one("cronops_host_scan_ok", host="charlie") == 1
    assert one("cronops_host_scan_ok", host="gone") == 0
    assert 0 <= now.timestamp() - one("cronops_host_last_scan_timestamp_seconds", host="gone") < 60
    never_read = found["cronops_host_last_ok_scan_timestamp_seconds"]
    assert "gone" not in {s.labels["host"] for s in never_read}
    assert 0 <= one("cronops_host_scan_age_seconds", host="charlie") < 60

    certbot = {"host": "charlie", "user": "root", "command": "/usr/bin/certbot renew"}
    # The planted runs start at 03:00:01 in Berlin and last 42 s; the latest is the last 03:00
    # a minute or more ago.
    latest = previous_run("0 3 * * *", BERLIN, now - timedelta(minutes=1)) + timedelta(seconds=1)
    assert one("cronops_job_last_start_timestamp_seconds", **certbot) == latest.timestamp()
    assert one("cronops_job_last_duration_seconds", **certbot) == 42
    upcoming = next_runs("0 3 * * *", BERLIN, now, 1)[0]
    assert one("cronops_job_next_run_timestamp_seconds", **certbot) == upcoming.timestamp()
    assert one("cronops_job_interval_seconds", **certbot) == 86400
    # -L 15 logs failures: an END without an error line is an exit status 0.
    ended = latest + timedelta(seconds=42)
    assert one("cronops_job_last_success_timestamp_seconds", **certbot) == ended.timestamp()
