"""The probe on a hostile host: an answer cut short, a log that blocks, a probe that hangs, a log too
big for one scan, and a log rewritten in place. Nothing stored may be lost or damaged by any of them.

The host `kilo` has its own fleet: its sshd cuts every answer after 3,000 bytes while /run/cut
exists (as a broken link or a dying connection would), and each test plants its own logs.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from cronops import probe
from cronops.cli import main
from tests.conftest import own_fleet, syslog_day
from tests.fleet import HostSpec
from tests.test_scan_fleet import rows

pytestmark = pytest.mark.fleet

JOBS = 300
ROOT = "".join(f"{n % 60} {n % 24} * * * /usr/local/bin/job-{n:03d} --quiet\n" for n in range(JOBS))
CUT = (
    'ForceCommand if [ -e /run/cut ]; then eval "$SSH_ORIGINAL_COMMAND" | head -c 3000; '
    'else eval "$SSH_ORIGINAL_COMMAND"; fi'
)
NOISE = "kilo sshd[{pid}]: Accepted publickey for deploy from 10.0.{a}.{b} port {port} ssh2"


@pytest.fixture(scope="module")
def kilo_fleet(tmp_path_factory):
    spec = HostSpec(name="kilo", crontabs={"root": ROOT}, sshd_config=(CUT,))
    yield from own_fleet(tmp_path_factory, "limits-fleet", spec)


@pytest.fixture
def kilo(kilo_fleet, tmp_path, capsys):
    """The host with empty logs and whole answers, and a `scan` into a fresh history."""
    host = kilo_fleet.hosts["kilo"]
    host.path("/run/cut").unlink(missing_ok=True)
    host.run("rm -rf /var/log/*")
    db = tmp_path / "history.db"

    def scan(**defaults) -> tuple[int, dict]:
        inventory = tmp_path / "hosts.toml"
        inventory.write_text(kilo_fleet.inventory_toml(extra_defaults=defaults))
        code = main(["scan", "--inventory", str(inventory), "--db", str(db), "--format", "json"])
        (answer,) = json.loads(capsys.readouterr().out)["hosts"]
        return code, answer

    host.scan = scan
    host.db = db
    return host


def planted(start: datetime, runs: int, pid: int, noise: int = 3) -> tuple[str, int]:
    """A Debian `cron -L 15` syslog: `runs` jobs a minute apart (start and end lines, the end
    of one logged after other programs' lines), with `noise` lines of sshd between runs."""
    lines = []
    for n in range(runs):
        at = start + timedelta(minutes=n)
        job = pid + 2 * n
        lines.append(f"{syslog_day(at)} kilo CRON[{job}]: (root) CMD ([{job + 1}] /bin/job {n})")
        for k in range(noise):
            port = 30000 + (n * noise + k) % 30000
            lines.append(f"{syslog_day(at)} " + NOISE.format(pid=job, a=k, b=n % 250, port=port))
        lines.append(f"{syslog_day(at)} kilo CRON[{job}]: (root) END ([{job + 1}] /bin/job {n})")
    return "".join(line + "\n" for line in lines), runs


def plant(host, name: str, text: str, at: datetime) -> None:
    path = host.path(f"/var/log/{name}")
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    os.utime(path, (at.timestamp(), at.timestamp()))


def processes(host) -> list[str]:
    return host.run(["ps", "-eo", "args="]).stdout.splitlines()


def wait_until_gone(host, *words: str, seconds: float = 10) -> list[str]:
    """The host's processes whose command line holds one of `words`, once none is left or
    `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        left = [p for p in processes(host) if any(word in p for word in words)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def test_an_answer_cut_short_is_the_hosts_error_and_the_history_is_kept(kilo):
    now = datetime.now(UTC).replace(microsecond=0)
    text, runs = planted(now - timedelta(hours=5), 40, pid=1000)
    plant(kilo, "syslog", text, now)
    code, answer = kilo.scan()
    assert (code, answer["status"], answer["new_runs"]) == (0, "ok", runs)
    entries = rows(kilo.db, "select id, present, last_seen from entries order by id")
    assert len(entries) == JOBS + 4  # root's jobs and /etc/crontab's
    cursors = rows(kilo.db, "select * from log_cursors")

    more, added = planted(now - timedelta(hours=2), 5, pid=5000)
    with kilo.path("/var/log/syslog").open("a") as f:
        f.write(more)
    kilo.path("/run/cut").write_text("")
    code, answer = kilo.scan(command_timeout=3)

    assert (code, answer["status"]) == (1, "error")
    assert answer["error"].startswith("the probe's answer was cut short after 3000 bytes (exit 0)")
    assert rows(kilo.db, "select id, present, last_seen from entries order by id") == entries
    assert rows(kilo.db, "select count(*) n from runs")[0]["n"] == runs
    assert rows(kilo.db, "select * from log_cursors") == cursors
    assert rows(kilo.db, "select * from crontab_problems") == []
    host = rows(kilo.db, "select status, error from hosts")[0]
    assert host["status"] == "error" and "cut short" in host["error"]

    # The probe's shell died writing to the cut connection: what it started ends at its time limit.
    assert wait_until_gone(kilo, "sh -s", "sleep") == []
    kilo.path("/run/cut").unlink()
    code, answer = kilo.scan()
    assert (code, answer["status"], answer["new_runs"]) == (0, "ok", added)  # nothing was lost


def test_a_log_that_is_a_fifo_is_not_read_and_nothing_is_left_running(kilo):
    kilo.run("mkfifo /var/log/cron.fifo")
    code, answer = kilo.scan(logs=["/var/log/cron.fifo"], command_timeout=5)
    assert (code, answer["status"]) == (0, "ok"), answer["error"]
    assert answer["missing_logs"] == ["/var/log/cron.fifo"]
    assert wait_until_gone(kilo, "cron.fifo", "sh -s", "sleep") == []


def test_a_probe_that_hangs_is_killed_on_the_host_at_the_command_timeout(kilo):
    # A journalctl that never answers (as one stuck on a broken journal file would).
    journalctl = kilo.path("/usr/sbin/journalctl")
    journalctl.write_text("#!/bin/sh\nexec sleep 4242\n")
    journalctl.chmod(0o755)
    try:
        code, answer = kilo.scan(logs=["journal"], command_timeout=2)
        assert (code, answer["status"]) == (1, "timeout")
        assert wait_until_gone(kilo, "sh -s", "sleep") == []
    finally:
        journalctl.unlink()


def test_a_log_bigger_than_a_piece_is_read_whole_over_several_scans(kilo, monkeypatch):
    monkeypatch.setattr(probe, "LOG_READ_BYTES", 16 << 10)
    monkeypatch.setattr(probe, "LOG_SEND_BYTES", 4 << 10)
    now = datetime.now(UTC).replace(microsecond=0)
    expected = size = 0
    # logrotate's files: two rotated (one compressed) within the window, then today's log.
    for name, days, pid in (
        ("syslog.2.gz", 5, 10_000),
        ("syslog.1", 2, 20_000),
        ("syslog", 0, 30_000),
    ):
        start = now - timedelta(days=days, hours=6)
        text, runs = planted(start, 200, pid)
        plant(kilo, name, text, start + timedelta(minutes=200))
        expected += runs
        size += len(text)
    assert size > 12 * (16 << 10)

    answers = []
    while not answers or answers[-1]["more_to_read"]:
        code, answer = kilo.scan()
        assert (code, answer["status"]) == (0, "ok"), answer["error"]
        answers.append(answer)
        assert len(answers) < 100, "the read never ends"
    assert len(answers) > 12
    assert all(a["more_to_read"] == ["/var/log/syslog"] for a in answers[:-1])
    runs = rows(kilo.db, "select * from runs")
    assert sum(a["new_runs"] for a in answers) == len(runs) == expected
    assert len({(r["started_at"], r["pid"]) for r in runs}) == expected
    # Each end was paired with its start, also where a piece ended between the two.
    assert [r["command"] for r in runs if not r["ended_at"]] == []
    code, answer = kilo.scan()
    assert (answer["new_runs"], answer["more_to_read"]) == (0, [])


def test_a_log_rewritten_in_place_with_the_same_size_and_first_bytes_is_read_afresh(kilo):
    now = datetime.now(UTC).replace(microsecond=0)
    head = "".join(
        f"{syslog_day(now - timedelta(hours=9))} "
        + NOISE.format(pid=7, a=1, b=n, port=40000)
        + "\n"
        for n in range(20)
    )
    assert len(head) > 1024
    first, runs = planted(now - timedelta(hours=8), 498, pid=100_000, noise=0)
    plant(kilo, "syslog", head + first, now)
    code, answer = kilo.scan()
    assert answer["new_runs"] == runs

    # Rewritten in place: the same inode, size and first KiB; other runs (their pids differ).
    second, _ = planted(now - timedelta(hours=4), 498, pid=200_000, noise=0)
    assert len(second) == len(first)
    inode = kilo.path("/var/log/syslog").stat().st_ino
    with kilo.path("/var/log/syslog").open("r+") as f:
        f.write(head + second)
    assert kilo.path("/var/log/syslog").stat().st_ino == inode
    code, answer = kilo.scan()
    assert (code, answer["status"], answer["new_runs"]) == (0, "ok", runs)
