"""Shared fixtures: the real test fleet (sshd + cron + rsyslog hosts on 127.0.0.1), started once.

Tests marked `fleet` use it; they skip with the reason when this machine cannot run it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fleet import Fleet, FleetHost, HostSpec, require_fleet_tools

ALPHA_ROOT = """\
# alpha: root's own jobs
MAILTO=""
*/5 * * * * /usr/local/bin/healthcheck --quiet
30 2 * * * /usr/local/bin/backup --full > /var/log/backup.log 2>&1
"""

ALPHA_ALICE = """\
SHELL=/bin/bash
0 * * * * echo "alice's hourly #1" \\% done
#15 4 * * 1 /home/alice/weekly-report.sh
"""

BRAVO_ROOT = """\
TZ=America/New_York
0 9 * * 1-5 /opt/billing/invoice --send
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


@pytest.fixture(scope="session")
def fleet(tmp_path_factory) -> Fleet:
    if reason := require_fleet_tools():
        pytest.skip(reason)
    running = Fleet(tmp_path_factory.mktemp("fleet"))
    running.start(SPECS)
    yield running
    running.stop()


@pytest.fixture
def inventory(fleet: Fleet, tmp_path: Path):
    """Write a hosts.toml for the fleet (plus extra hosts) and return its path."""

    def write(hosts: list[FleetHost | str] | None = None, **kwargs) -> Path:
        path = tmp_path / "hosts.toml"
        path.write_text(fleet.inventory_toml(hosts, **kwargs))
        return path

    return write
