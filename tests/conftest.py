"""Shared fixtures: the real test fleet (sshd + cron + rsyslog hosts on 127.0.0.1), started once.

Tests marked `fleet` use it; they skip with the reason when this machine cannot run it.
"""

from __future__ import annotations

import gzip
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.fleet import Fleet, FleetHost, HostSpec, require_fleet_tools

ALPHA_ROOT = """\
# alpha: root's own jobs
MAILTO=""
*/5 * * * * /usr/local/bin/healthcheck --quiet
30 2 * * * /usr/local/bin/backup --full > /var/log/backup.log 2>&1
* * * * * echo tick >> /var/log/tick.out
* * * * * exit 3
"""

ALPHA_ALICE = """\
SHELL=/bin/bash
0 * * * * echo "alice's hourly #1" \\% done
#15 4 * * 1 /home/alice/weekly-report.sh
"""

BRAVO_ROOT = """\
TZ=America/New_York
0 9 * * 1-5 /opt/billing/invoice --send
* * * * * exit 1
"""

BRAVO_CRON_D = """\
# /etc/cron.d/sync: system format, with a user field
PATH=/usr/local/bin:/usr/bin:/bin
*/10 * * * * bob /opt/sync/run.sh
"""

CHARLIE_ROOT = """\
0 3 * * * /usr/bin/certbot renew
61 * * * * this line is broken
"""

CHARLIE_ALICE = """\
@daily /home/alice/rotate-photos
"""

SPECS = [
    HostSpec(
        name="alpha",
        crontabs={"root": ALPHA_ROOT, "alice": ALPHA_ALICE},
        cron=True,
        cron_level=15,
        syslog="traditional",
    ),
    HostSpec(
        name="bravo",
        timezone="America/New_York",
        crontabs={"root": BRAVO_ROOT},
        cron_d={"sync": BRAVO_CRON_D, "sync.dpkg-old": "* * * * * root /bin/false\n"},
        cron=True,
        cron_level=1,
        syslog="rfc3339",
    ),
    HostSpec(
        name="charlie",
        timezone="Europe/Berlin",
        crontabs={"root": CHARLIE_ROOT, "alice": CHARLIE_ALICE},
    ),
]


@pytest.fixture(autouse=True)
def private_locations(tmp_path, monkeypatch):
    """No test reads or writes the real user's inventory, history or known_hosts."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("CRONOPS_DB", str(tmp_path / "history.db"))
    monkeypatch.delenv("CRONOPS_INVENTORY", raising=False)


def syslog_day(moment: datetime) -> str:
    """rsyslog's traditional timestamp: no year, no zone, the day padded with a space."""
    return moment.strftime("%b ") + f"{moment.day:>2}" + moment.strftime(" %H:%M:%S")


def planted_history(now: datetime) -> dict[str, bytes]:
    """charlie's older logs (Debian -L 15 lines, as its rsyslog would have written them)."""

    def run(days: float, pid: int, user: str, command: str, status: int | None) -> str:
        start = now - timedelta(days=days)
        lines = f"{syslog_day(start)} charlie CRON[{pid}]: ({user}) CMD ([{pid + 1}] {command})\n"
        end = syslog_day(start + timedelta(seconds=42))
        if status:
            lines += (
                f"{end} charlie CRON[{pid}]: (CRON) error (grandchild #{pid + 1} failed with "
                f"exit status {status})\n"
            )
        lines += f"{end} charlie CRON[{pid}]: ({user}) END ([{pid + 1}] {command})\n"
        return lines

    noise = f"{syslog_day(now - timedelta(days=1))} charlie sshd[77]: Accepted publickey for root\n"
    return {
        "syslog.3.gz": gzip.compress(run(20, 100, "root", "/usr/bin/certbot renew", None).encode()),
        "syslog.2.gz": gzip.compress(run(3, 200, "root", "/usr/bin/certbot renew", 1).encode()),
        "syslog.1": (run(2, 300, "root", "/usr/bin/certbot renew", None) + noise).encode(),
        "syslog": (
            run(1, 400, "root", "/usr/bin/certbot renew", None)
            + run(0.9, 500, "alice", "/home/alice/rotate-photos", None)
            + "garbage that is not a log line\n"
            + f"{syslog_day(now - timedelta(hours=2))} charlie CRON[9]: (root) MYSTERY (x)\n"
        ).encode(),
    }


@pytest.fixture(scope="session")
def fleet(tmp_path_factory) -> Fleet:
    if reason := require_fleet_tools():
        pytest.skip(reason)
    running = Fleet(tmp_path_factory.mktemp("fleet"))
    running.start(SPECS)
    plant_history(running.hosts["charlie"])
    yield running
    running.stop()


def plant_history(host: FleetHost) -> None:
    """Write the planted logs with the mtimes logrotate would have left on them."""
    now = datetime.now(ZoneInfo(host.spec.timezone))  # rsyslog writes the host's local time
    ages = {"syslog.3.gz": 19.5, "syslog.2.gz": 2.5, "syslog.1": 1.5, "syslog": 0}
    for name, data in planted_history(now).items():
        path = host.path(f"/var/log/{name}")
        path.write_bytes(data)
        stamp = (now - timedelta(days=ages[name])).timestamp()
        os.utime(path, (stamp, stamp))


@pytest.fixture
def inventory(fleet: Fleet, tmp_path: Path):
    """Write a hosts.toml for the fleet (plus extra hosts) and return its path."""

    def write(hosts: list[FleetHost | str] | None = None, **kwargs) -> Path:
        path = tmp_path / "hosts.toml"
        path.write_text(fleet.inventory_toml(hosts, **kwargs))
        return path

    return write


@pytest.fixture(scope="session")
def live_logs(fleet: Fleet) -> Fleet:
    """Wait (once per session) until alpha's and bravo's cron daemons have run and logged jobs."""
    deadline = time.monotonic() + 150
    wanted = {"alpha": "END", "bravo": "CMD"}  # -L 15 logs ends; -L 1 only starts

    def logged(name: str, word: str) -> bool:
        syslog = fleet.hosts[name].path("/var/log/syslog")
        return syslog.exists() and f") {word} (" in syslog.read_text(errors="replace")

    while time.monotonic() < deadline:
        if all(logged(name, word) for name, word in wanted.items()):
            return fleet
        time.sleep(1)
    pytest.fail("the live cron daemons logged no runs within 150 s")
