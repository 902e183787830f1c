"""A job whose output shrinks is too_fast, on a real host: cron's mail through Debian's dma.

On `shrinker`, alice's job prints a report. Its syslog holds six planted runs of it from earlier
in the hour (Debian's cron -L 15 lines), and its mailbox the mail of each, a 14 kB report, sent
through the host's real dma as cron sends it; then real cron runs the job, which now prints one
line, and mails that. The audit flags the run that printed far less than usual, though it took as
long as the others.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest

from cronops.cli import main
from tests.conftest import LIVE_POLICY, own_fleet, syslog_day, wait_for
from tests.fleet import Fleet, HostSpec

pytestmark = pytest.mark.fleet

JOB = "echo nothing to back up"  # what it prints now; its planted runs printed USUAL
USUAL = "".join(f"backed up /srv/data/file-{n:05d}.bin\n" for n in range(400))  # ~14 kB
NOW = datetime.now(ZoneInfo("UTC")).replace(microsecond=0)
PLANTED = [NOW - timedelta(minutes=back) for back in range(30, 24, -1)]


def planted_log() -> str:
    lines = []
    for n, start in enumerate(PLANTED):
        pid = 2000 + n * 2
        for what in ("CMD", "END"):
            at = syslog_day(start + timedelta(seconds=1 if what == "END" else 0))
            lines.append(f"{at} shrinker CRON[{pid}]: (alice) {what} ([{pid + 1}] {JOB})")
    return "\n".join(lines) + "\n"


def cron_mail(start: datetime) -> str:
    """The mail Debian cron sends with a run's output (its headers as cron writes them)."""
    return (
        "From: root (Cron Daemon)\n"
        "To: alice\n"
        f"Subject: Cron <alice@shrinker> {JOB}\n"
        f"Date: {format_datetime(start + timedelta(seconds=1))}\n"
        "X-Cron-Env: <LOGNAME=alice>\n"
        "\n"
        f"{USUAL}"
    )


@pytest.fixture(scope="module")
def shrinker(tmp_path_factory):
    yield from own_fleet(
        tmp_path_factory,
        "output-size-fleet",
        HostSpec(
            name="shrinker",
            cron=True,
            cron_level=15,
            syslog="traditional",
            mta="dma",
            log_files={"syslog": planted_log()},
            crontabs={"alice": f"* * * * * {JOB}\n"},
        ),
    )


@pytest.fixture(scope="module")
def too_fast(shrinker: Fleet, tmp_path_factory):
    host = shrinker.hosts["shrinker"]
    box = host.path("/var/mail/alice")
    for start in PLANTED:
        host.run(["/usr/sbin/sendmail", "-i", "alice"], input=cron_mail(start))
    wait_for(lambda: box.exists() and box.read_bytes().count(b"\nFrom ") >= 5, 30, "dma's mail")
    wait_for(lambda: b"\nnothing to back up" in box.read_bytes(), 75, "cron's mail of a run")
    tmp = tmp_path_factory.mktemp("output-size")
    inventory = tmp / "hosts.toml"
    inventory.write_text(shrinker.inventory_toml(extra_defaults=LIVE_POLICY))
    args = ["audit", "--inventory", str(inventory), "--db", str(tmp / "history.db")]
    return args, box.read_bytes()


def test_a_run_that_printed_far_less_than_usual_is_too_fast(too_fast, capsys):
    args, mailbox = too_fast
    # The shrunk run's mail is real cron's, through dma: cron's environment headers on it.
    assert mailbox.count(b"X-Cron-Env: <SHELL=/bin/sh>") >= 1
    assert main([*args, "--since", "1h", "--format", "json"]) in (0, 1)
    findings = json.loads(capsys.readouterr().out)["findings"]
    found = [g for f in findings for g in (f, *f["jobs"]) if g["kind"] == "too_fast"]
    assert len(found) == 1, findings
    fast = found[0]
    assert fast["host"] == "shrinker" and fast["job"]["user"] == "alice"
    # mail.py reads the output without its last newline: 18 bytes
    assert re.search(
        r"printed 18 B; the median of the [67] runs around it printed 1[45] kB", fast["detail"]
    ), fast["detail"]
    assert re.fullmatch(r"printed 18 B at \S+ \(usually 1[45] kB\)", fast["summary"])
