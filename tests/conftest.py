"""Shared fixtures: the real test fleet (sshd + cron + rsyslog hosts on 127.0.0.1), started once.

Tests marked `fleet` use it; they skip with the reason when this machine cannot run it.
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.fleet import (
    DEBIAN_SYSTEM_CRONTAB,
    Fleet,
    FleetHost,
    HostSpec,
    require_fleet_tools,
)

ALPHA_ROOT = """\
# alpha: root's own jobs
MAILTO=""
*/5 * * * * /usr/local/bin/healthcheck --quiet
30 2 * * * /usr/local/bin/backup --full > /var/log/backup.log 2>&1
* * * * * echo tick >> /var/log/tick.out
* * * * * exit 3
* * * * * sleep 75
* * * * * flock -n /run/hang.lock sleep 100000 || true
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
"""

CHARLIE_ALICE = """\
@daily /home/alice/rotate-photos
"""

CHARLIE_BROKEN = """\
# a typo Debian cron rejects, and with it this whole file
61 * * * * root /usr/local/bin/never
"""

DELTA_ROOT = """\
* * * * * echo delta
"""

DELTA_SYSTEM_CRONTAB = "".join(
    line for line in DEBIAN_SYSTEM_CRONTAB.splitlines(keepends=True) if "run-parts" not in line
)

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
        cron_d={"broken": CHARLIE_BROKEN},
    ),
    # delta's cron is stopped once it has run its job: its next runs are missed. Its /etc/crontab
    # has no run-parts lines: the hourly one (:17, 47 past the hour UTC) would be missed too
    # whenever the stop spans it, and join the one job the tests expect under the stopped cron.
    HostSpec(
        name="delta",
        timezone="Asia/Kolkata",
        crontabs={"root": DELTA_ROOT},
        system_crontab=DELTA_SYSTEM_CRONTAB,
        cron=True,
        cron_level=15,
        syslog="rfc3339",
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


# charlie's planted history: day -> (exit status, or None for a day cron did not run it)
CERTBOT_DAYS = {4: None, 3: 1}
# Which rotated file holds the lines of a day (days ago): logrotate's daily files.
ROTATED = (("syslog.3.gz", 15), ("syslog.2.gz", 6), ("syslog.1", 2), ("syslog", 0))


def planted_history(now: datetime) -> dict[str, list[tuple[datetime, str]]]:
    """charlie's logs of the last 20 days as rsyslog wrote them with Debian's cron -L 15: certbot
    at 03:00 and alice's @daily at midnight, in the host's zone; day 4 certbot did not run, day 3
    it exited 1. Lines per rotated file, with their times."""
    files: dict[str, list[tuple[datetime, str]]] = {name: [] for name, _ in ROTATED}
    pid = 1000
    for days in range(20, -1, -1):
        midnight = datetime.combine(now.date() - timedelta(days=days), datetime.min.time())
        midnight = midnight.replace(tzinfo=now.tzinfo)
        file = next(name for name, oldest in ROTATED if days >= oldest)
        for user, command, at, status in (
            ("alice", "/home/alice/rotate-photos", midnight, 0),
            (
                "root",
                "/usr/bin/certbot renew",
                midnight + timedelta(hours=3),
                CERTBOT_DAYS.get(days, 0),
            ),
        ):
            if at + timedelta(minutes=1) > now or (status is None):
                continue
            pid += 10
            files[file] += _debian_run(at + timedelta(seconds=1), pid, user, command, status)
    files["syslog.1"].append(
        (now - timedelta(days=1), "charlie sshd[77]: Accepted publickey for root")
    )
    files["syslog"].append((now - timedelta(hours=2), "charlie CRON[9]: (root) MYSTERY (x)"))
    return files


def _debian_run(start: datetime, pid: int, user: str, command: str, status: int):
    end = start + timedelta(seconds=42)
    lines = [(start, f"charlie CRON[{pid}]: ({user}) CMD ([{pid + 1}] {command})")]
    if status:
        lines.append(
            (
                end,
                f"charlie CRON[{pid}]: (CRON) error (grandchild #{pid + 1} failed with exit status {status})",
            )
        )
    lines.append((end, f"charlie CRON[{pid}]: ({user}) END ([{pid + 1}] {command})"))
    return lines


@pytest.fixture(scope="session")
def fleet(tmp_path_factory) -> Fleet:
    if reason := require_fleet_tools():
        pytest.skip(reason)
    running = Fleet(tmp_path_factory.mktemp("fleet"))
    running.start(SPECS)
    plant_history(running.hosts["charlie"])
    yield running
    running.stop()


def own_fleet(tmp_path_factory, name: str, *specs: HostSpec) -> Iterator[Fleet]:
    """For a module fixture: a fleet of the module's own (its hosts are changed there), skipped
    where this machine cannot run one, stopped at the end."""
    if reason := require_fleet_tools():
        pytest.skip(reason)
    fleet = Fleet(tmp_path_factory.mktemp(name))
    fleet.start(specs)
    yield fleet
    fleet.stop()


def plant_history(host: FleetHost) -> None:
    """Write the planted logs (and a garbage line) with the mtimes logrotate would have left,
    and date the crontabs back, as if they had been in place all along."""
    now = datetime.now(ZoneInfo(host.spec.timezone))  # rsyslog writes the host's local time
    for name, lines in planted_history(now).items():
        text = "".join(f"{syslog_day(at)} {line}\n" for at, line in sorted(lines))
        if name == "syslog":
            text += "garbage that is not a log line\n"
        path = host.path(f"/var/log/{name}")
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
        stamp = max(at for at, _ in lines).timestamp()
        os.utime(path, (stamp, stamp))
    month_ago = (now - timedelta(days=30)).timestamp()
    for path in (
        "/var/spool/cron/crontabs/root",
        "/var/spool/cron/crontabs/alice",
        "/etc/cron.d/broken",
    ):
        os.utime(host.path(path), (month_ago, month_ago))


@pytest.fixture
def inventory(fleet: Fleet, tmp_path: Path):
    """Write a hosts.toml for the fleet (plus extra hosts) and return its path."""

    def write(hosts: list[FleetHost | str] | None = None, **kwargs) -> Path:
        path = tmp_path / "hosts.toml"
        path.write_text(fleet.inventory_toml(hosts, **kwargs))
        return path

    return write


LIVE = ("live_logs", "live_fleet", "logged_fleet")

# On workers (scripts/test runs pytest-xdist), the modules that take longest go out first, so
# their waits for cron's minute boundaries overlap the rest of the suite instead of ending it.
# Seconds each took in one process on the loaded 2-core machine (2026-12-04), most of it waiting.
# xdist gives a worker with 2 tests or fewer to go its next module at once: incidents (2 tests)
# is followed by audit, which then finds the session fleet's live minutes (live_fleet) that
# incidents' second test waited for already there, on the same worker.
LONGEST_FIRST = (
    "test_watch_fleet.py",  # 248
    "test_tui_actions.py",  # 168, CPU: a demo fleet scanned per test
    "test_causes_fleet.py",  # 124
    "test_incidents_fleet.py",  # 154
    "test_audit_fleet.py",  # 72, of which 68 waiting for live_fleet
    "test_kill_fleet.py",  # 122
    "test_tui.py",  # 63
    "test_fleet.py",  # 62
    "test_logged_commands_fleet.py",  # 36
    "test_rerun_fleet.py",  # 25
)


def pytest_collection_modifyitems(config, items):
    """Tests that need minutes of the session fleet's live cron go last, so the rest runs while
    cron works; on xdist workers, whole modules go longest first (LONGEST_FIRST)."""

    def live(item) -> bool:
        return any(name in item.fixturenames for name in LIVE)

    if hasattr(config, "workerinput"):
        rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: (rank.get(item.path.name, len(rank)), live(item)))
    else:
        items.sort(key=live)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With pytest-xdist (-n N), each module runs whole on one worker, whatever --dist says: its
    module fleet starts once and its tests keep their order. Modules go out in the order
    collected (LONGEST_FIRST), not xdist's default of the modules with most tests first."""
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False
    return LoadFileScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def start_fleet_early(request):
    """Live cron acts on minute boundaries: start the fleet before the first test, when a
    collected test will use it, so its minutes pass while the unit tests run. Each xdist worker
    collects every test and cannot know which modules it will be given: each starts its own."""
    wanted = any("fleet" in item.fixturenames for item in request.session.items)
    if wanted and require_fleet_tools() is None:
        request.getfixturevalue("fleet")


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {seconds:.0f} s")
        time.sleep(1)


def logged(host: FleetHost, *words: str) -> int:
    """How many lines of the host's syslog contain all these words."""
    syslog = host.path("/var/log/syslog")
    if not syslog.exists():
        return 0
    lines = syslog.read_text(errors="replace").splitlines()
    return sum(1 for line in lines if all(word in line for word in words))


@pytest.fixture(scope="session")
def live_logs(fleet: Fleet) -> Fleet:
    """Wait (once per session) until alpha's and bravo's cron daemons have run and logged jobs."""
    alpha, bravo = fleet.hosts["alpha"], fleet.hosts["bravo"]
    # -L 15 logs ends; -L 1 only starts
    wait_for(lambda: logged(alpha, ") END (") and logged(bravo, ") CMD ("), 150, "no live runs")
    return fleet


# Findings need little patience in tests: a run is missed 20 s after its minute.
LIVE_POLICY = {"grace": "20s"}


@pytest.fixture(scope="session")
def live_fleet(live_logs: Fleet) -> Fleet:
    """Minutes of real cron for the audit: alpha's `sleep 75` started twice (an overlap) and its
    never-ending job ran past its interval (hung); delta ran its job, then its cron was stopped
    and the next minute went by without it (missed)."""
    alpha, delta = live_logs.hosts["alpha"], live_logs.hosts["delta"]
    wait_for(lambda: logged(delta, ") CMD ("), 90, "delta's cron ran nothing")
    delta.stop_cron()
    stopped = time.time()
    next_minute = stopped - stopped % 60 + 60
    wait_for(lambda: logged(alpha, ") CMD (", "sleep 75") >= 2, 150, "no second sleep 75")
    wait_for(lambda: time.time() > next_minute + 25, 90, "the clock stopped")
    return live_logs
