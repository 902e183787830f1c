"""Incremental log reading on the host: only new bytes, whole lines, rotation and truncation caught.

The real probe script runs through the local transport against real files in a temporary /var/log.
"""

import gzip
import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from cronops import probe
from cronops.inventory import Host
from cronops.scan import probe_host
from cronops.transport import HostStatus, connector

HOST = Host(name="here", address="localhost", transport="local")
CMD = "Nov 22 10:17:01 h CRON[{n}]: (root) CMD (job {n})\n"
NOISE = "Nov 22 10:17:02 h sshd[99]: Accepted publickey for root\n"
SINCE = datetime.now(UTC) - timedelta(days=8)


async def read(path, cursors=None, since=SINCE):
    request = probe.LogRequest(since=since, files=(str(path),), cursors=cursors or {})
    report = await probe_host(HOST, connector(), crontabs=False, logs=request)
    assert report.status is HostStatus.OK, report.error
    return report.result


def lines_of(result, mode="current"):
    return b"".join(c.lines for c in result.logs if c.mode == mode).decode().splitlines()


def cursors_of(result):
    return {c.path: c.cursor for c in result.logs if c.mode == "current"}


@pytest.fixture
def syslog(tmp_path):
    return tmp_path / "syslog"


async def test_only_cron_lines_travel_and_a_rescan_reads_only_new_bytes(syslog):
    syslog.write_text(CMD.format(n=1) + NOISE + CMD.format(n=2))
    first = await read(syslog)
    assert lines_of(first) == [CMD.format(n=1).strip(), CMD.format(n=2).strip()]
    cursor = cursors_of(first)[str(syslog)]
    assert cursor.offset == syslog.stat().st_size

    again = await read(syslog, cursors_of(first))
    assert lines_of(again) == []

    with syslog.open("a") as f:
        f.write(NOISE + CMD.format(n=3))
    third = await read(syslog, cursors_of(again))
    assert lines_of(third) == [CMD.format(n=3).strip()]
    assert third.logs[-1].start == cursor.offset


async def test_pam_session_lines_stay_on_the_host(syslog):
    pam = [
        "Nov 22 10:17:01 h CRON[7]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n",
        "Nov 22 10:17:01 h crond[8]: pam_unix(crond:session): session closed for user alice\n",
    ]
    gzip_path = f"{syslog}.1.gz"
    with gzip.open(gzip_path, "wt") as f:
        f.write(pam[0] + CMD.format(n=1))
    syslog.write_text(pam[0] + CMD.format(n=2) + pam[1])
    result = await read(syslog)
    assert lines_of(result, "archive") == [CMD.format(n=1).strip()]
    assert lines_of(result) == [CMD.format(n=2).strip()]
    assert cursors_of(result)[str(syslog)].offset == syslog.stat().st_size


async def test_a_line_still_being_written_waits_for_the_next_scan(syslog):
    syslog.write_text(CMD.format(n=1) + CMD.format(n=2)[:20])
    first = await read(syslog)
    assert lines_of(first) == [CMD.format(n=1).strip()]
    with syslog.open("a") as f:
        f.write(CMD.format(n=2)[20:])
    second = await read(syslog, cursors_of(first))
    assert lines_of(second) == [CMD.format(n=2).strip()]


async def test_rotation_reads_the_rest_of_the_old_file_then_the_new_one(syslog):
    syslog.write_text(CMD.format(n=1))
    first = await read(syslog)
    with syslog.open("a") as f:
        f.write(CMD.format(n=2))  # written after our scan, before rotation
    os.rename(syslog, f"{syslog}.1")
    syslog.write_text(CMD.format(n=3))
    second = await read(syslog, cursors_of(first))
    assert lines_of(second, "rotated") == [CMD.format(n=2).strip()]
    assert lines_of(second) == [CMD.format(n=3).strip()]


async def test_truncation_in_place_is_noticed(syslog):
    syslog.write_text(CMD.format(n=1) + CMD.format(n=2))
    first = await read(syslog)
    syslog.write_text(CMD.format(n=3))  # copytruncate: same inode, shorter file
    second = await read(syslog, cursors_of(first))
    assert lines_of(second) == [CMD.format(n=3).strip()]


async def test_replaced_file_of_the_same_size_is_noticed_by_its_first_bytes(syslog):
    syslog.write_text(CMD.format(n=1))
    first = await read(syslog)
    with syslog.open("r+") as f:  # same inode, same length, other content
        f.write(CMD.format(n=7))
    second = await read(syslog, cursors_of(first))
    assert lines_of(second) == [CMD.format(n=7).strip()]


async def test_first_read_takes_rotated_files_within_the_window_oldest_first(syslog):
    syslog.write_text(CMD.format(n=4))
    (syslog.parent / "syslog.1").write_text(CMD.format(n=3))
    with gzip.open(f"{syslog}.2.gz", "wt") as f:
        f.write(CMD.format(n=2) + NOISE)
    with gzip.open(f"{syslog}.3.gz", "wt") as f:
        f.write(CMD.format(n=1))
    old = time.time() - 20 * 86400
    os.utime(f"{syslog}.3.gz", (old, old))
    result = await read(syslog)
    assert [c.path.rsplit("/", 1)[1] for c in result.logs] == ["syslog.2.gz", "syslog.1", "syslog"]
    assert [line.split("job ")[1] for line in lines_of(result, "archive")] == ["2)", "3)"]


async def test_missing_log_is_reported(tmp_path):
    result = await read(tmp_path / "nope")
    assert result.missing_logs == {str(tmp_path / "nope"): "missing"}
    assert result.logs == []


async def test_processes_are_listed():
    result = await read("/nonexistent")
    assert result.processes and any(p.pid == os.getpid() for p in result.processes)


JOURNAL_LINE = (
    '{"__CURSOR":"s=abc;i=%d","__REALTIME_TIMESTAMP":"1763800000000000","SYSLOG_IDENTIFIER":"CRON",'
    '"SYSLOG_PID":"%d","MESSAGE":"(root) CMD (job %d)"}'
)


async def test_journal_is_read_from_the_window_then_after_the_cursor(tmp_path, monkeypatch):
    # The machines we test on run no journald; a stand-in journalctl records how it was asked.
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "journalctl"
    fake.parent.mkdir()
    fake.write_text(
        f'#!/bin/sh\necho "$*" >> {calls}\n'
        f"echo '{JOURNAL_LINE % (1, 11, 1)}'\necho '{JOURNAL_LINE % (2, 12, 2)}'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")

    first = await read("journal")
    assert first.journal.decode().splitlines()[1].startswith('{"__CURSOR":"s=abc;i=2"')
    request = probe.LogRequest(since=SINCE, files=("journal",), journal_cursor="s=abc;i=2")
    report = await probe_host(HOST, connector(), crontabs=False, logs=request)
    assert report.result.journal is not None
    first_call, second_call = calls.read_text().splitlines()
    assert f"--since @{int(SINCE.timestamp())}" in first_call
    assert "--after-cursor=s=abc;i=2" in second_call
    assert "-u cron" in first_call and "-o json" in first_call


async def test_a_run_of_nul_bytes_after_a_crash_neither_stops_nor_shifts_the_reading(syslog):
    # An unclean shutdown leaves NUL padding in syslog; the lines after it must still arrive,
    # and the next scan must start exactly at the end of the file.
    syslog.write_bytes(CMD.format(n=1).encode() + b"\0" * 4096 + b"\n" + CMD.format(n=2).encode())
    result = await read(syslog)
    assert lines_of(result) == [CMD.format(n=1).strip(), CMD.format(n=2).strip()]
    assert cursors_of(result)[str(syslog)].offset == syslog.stat().st_size
