"""Incremental log reading on the host: only new bytes, whole lines, rotation and truncation caught.

The real probe script runs through the local transport against real files in a temporary /var/log.
"""

import gzip
import os
import signal
import subprocess
import time
from dataclasses import replace
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


async def test_rewritten_in_place_with_the_same_size_and_first_bytes_is_noticed_by_its_last(
    syslog,
):
    head = NOISE * 30  # more than the first KiB the cursor remembers
    syslog.write_text(head + CMD.format(n=1))
    first = await read(syslog)
    with syslog.open("r+") as f:  # same inode, same length, same first KiB, other content
        f.write(head + CMD.format(n=7))
    second = await read(syslog, cursors_of(first))
    assert lines_of(second) == [CMD.format(n=7).strip()]


async def test_a_cursor_without_the_last_bytes_checksum_gets_one_and_reads_nothing_twice(syslog):
    syslog.write_text(CMD.format(n=1))
    first = cursors_of(await read(syslog))[str(syslog)]
    older = replace(first, tail_len=0, tail_hash="")  # as kept before schema version 5
    second = await read(syslog, {str(syslog): older})
    assert lines_of(second) == []
    cursor = cursors_of(second)[str(syslog)]
    assert (cursor.tail_len, cursor.tail_hash) == (first.tail_len, first.tail_hash)
    assert lines_of(await read(syslog, {str(syslog): cursor})) == []


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


async def test_processes_that_say_cron_are_listed_and_no_others():
    # A process whose command line says cron (argv[0]), as a cron daemon's does; and one that
    # does not, below a shell that does not either (pytest's own command line may say cron: a
    # checkout in a directory named cronops, whose children are then listed as cron's may be).
    lookalike = subprocess.Popen(["crond-lookalike", "30"], executable="sleep")
    shell = subprocess.Popen(
        ["sh", "-c", "sleep 30 & echo $!; wait"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert shell.stdout is not None
        plain = int(shell.stdout.readline())
        result = await read("/nonexistent")
    finally:
        lookalike.kill()
        lookalike.wait()
        os.killpg(shell.pid, signal.SIGKILL)
        shell.wait()
    listed = {p.pid for p in result.processes}
    assert lookalike.pid in listed and plain not in listed


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
    assert f"--since=@{int(SINCE.timestamp())}" in first_call
    assert "--cursor=s=abc;i=2" in second_call
    assert "SYSLOG_IDENTIFIER=crontab" in first_call and "-o json" in first_call


async def test_the_journal_sends_no_pam_lines_nor_the_record_at_its_cursor(tmp_path, monkeypatch):
    pam = (
        '{"__CURSOR":"s=abc;i=%d","__REALTIME_TIMESTAMP":"1763800000000000",'
        '"SYSLOG_IDENTIFIER":"CRON","MESSAGE":"pam_unix(cron:session): session %s for user root"}'
    )
    # `--cursor` starts at the record the last scan ended with; two PAM lines per job
    lines = [JOURNAL_LINE % (1, 11, 1), pam % (2, "opened"), JOURNAL_LINE % (3, 12, 3)]
    lines += [pam % (4, "closed"), pam % (5, "opened")]
    fake = tmp_path / "bin" / "journalctl"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n" + "".join(f"echo '{line}'\n" for line in lines))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    request = probe.LogRequest(since=SINCE, files=("journal",), journal_cursor="s=abc;i=1")
    report = await probe_host(HOST, connector(), crontabs=False, logs=request)
    # the last PAM line still travels: the next scan starts after it, not after job 3's CMD
    assert report.result.journal.decode().splitlines() == [lines[2], lines[4]]


async def test_a_run_of_nul_bytes_after_a_crash_neither_stops_nor_shifts_the_reading(syslog):
    # An unclean shutdown leaves NUL padding in syslog; the lines after it must still arrive,
    # and the next scan must start exactly at the end of the file.
    syslog.write_bytes(CMD.format(n=1).encode() + b"\0" * 4096 + b"\n" + CMD.format(n=2).encode())
    result = await read(syslog)
    assert lines_of(result) == [CMD.format(n=1).strip(), CMD.format(n=2).strip()]
    assert cursors_of(result)[str(syslog)].offset == syslog.stat().st_size


async def read_all(path, cursors=None):
    """Read the log as successive scans do, each going on from the cursors the one before left,
    until the host has nothing more to give: the cron lines in the order read, and the reads."""
    cursors, lines, results = dict(cursors or {}), [], []
    while not results or results[-1].more_logs:
        assert len(results) < 200, "the read never ends"
        results.append(await read(path, cursors))
        for chunk in results[-1].logs:
            lines += chunk.lines.decode().splitlines()
            cursors[chunk.log] = chunk.cursor  # the last piece of a log says where to go on
    return lines, results


def cron_lines(first: int, count: int, noise: int = 2) -> tuple[str, list[str]]:
    """`count` cron lines numbered from `first`, `noise` other lines after each; the text and the
    cron lines alone."""
    kept = [CMD.format(n=n) for n in range(first, first + count)]
    return "".join(line + NOISE * noise for line in kept), [line.strip() for line in kept]


async def test_a_log_bigger_than_a_piece_is_read_over_several_scans_each_going_on(
    syslog, monkeypatch
):
    monkeypatch.setattr(probe, "LOG_READ_BYTES", 1000)
    text, expected = cron_lines(1, 100)
    syslog.write_text(text)
    lines, results = await read_all(syslog)
    assert lines == expected
    assert len(results) >= len(text) // 1000
    assert all(c.read <= 1000 for r in results for c in r.logs)
    assert all(r.more_logs == [str(syslog)] for r in results[:-1])
    assert results[-1].logs[-1].cursor.offset == syslog.stat().st_size


async def test_the_cron_lines_one_scan_sends_are_bounded(syslog, monkeypatch):
    monkeypatch.setattr(probe, "LOG_SEND_BYTES", 300)
    text, expected = cron_lines(1, 100, noise=0)
    syslog.write_text(text)
    lines, results = await read_all(syslog)
    assert lines == expected
    line = len(expected[0]) + 1
    assert all(len(c.lines) <= 300 + line for r in results for c in r.logs)


async def test_a_line_longer_than_a_piece_is_skipped_and_the_read_goes_on(syslog, monkeypatch):
    monkeypatch.setattr(probe, "LOG_READ_BYTES", 500)
    syslog.write_text(CMD.format(n=1) + "x" * 2000 + "\n" + CMD.format(n=2))
    lines, _ = await read_all(syslog)
    assert lines == [CMD.format(n=1).strip(), CMD.format(n=2).strip()]


async def test_a_first_read_goes_on_inside_the_rotated_files_oldest_first(syslog, monkeypatch):
    monkeypatch.setattr(probe, "LOG_READ_BYTES", 700)
    old, new = cron_lines(1, 30), cron_lines(31, 30)
    with gzip.open(f"{syslog}.2.gz", "wt") as f:
        f.write(old[0])
    (syslog.parent / "syslog.1").write_text(new[0])
    current = cron_lines(61, 30)
    syslog.write_text(current[0])
    lines, results = await read_all(syslog)
    assert lines == old[1] + new[1] + current[1]
    modes = [c.mode for r in results for c in r.logs]
    assert modes.count("archive") > 4 and modes[-1] == "current"


async def test_a_rotated_file_recompressed_midway_is_found_again_by_its_mtime(syslog, monkeypatch):
    monkeypatch.setattr(probe, "LOG_READ_BYTES", 700)
    rotated, earlier = syslog.parent / "syslog.1", cron_lines(1, 30)
    rotated.write_text(earlier[0])
    syslog.write_text(CMD.format(n=100))
    first = await read(syslog)
    (chunk,) = first.logs
    assert chunk.mode == "archive" and chunk.more
    # logrotate: syslog.1 compressed to syslog.2.gz (a new inode, the same mtime), syslog moved on
    with rotated.open("rb") as plain, gzip.open(f"{syslog}.2.gz", "wb") as packed:
        packed.write(plain.read())
    stat = rotated.stat()
    os.utime(f"{syslog}.2.gz", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.rename(syslog, rotated)
    syslog.write_text(CMD.format(n=101))
    rest, _ = await read_all(syslog, {str(syslog): chunk.cursor})
    lines = chunk.lines.decode().splitlines() + rest
    assert lines == [*earlier[1], CMD.format(n=100).strip(), CMD.format(n=101).strip()]


async def test_a_rotated_file_with_more_than_a_piece_left_is_read_to_its_end_first(
    syslog, monkeypatch
):
    syslog.write_text(CMD.format(n=0))
    first = await read(syslog)
    cursors = {str(syslog): first.logs[-1].cursor}
    monkeypatch.setattr(probe, "LOG_READ_BYTES", 600)
    text, written = cron_lines(1, 40)
    with syslog.open("a") as f:
        f.write(text)  # after our scan, before rotation
    os.rename(syslog, f"{syslog}.1")
    later, after = cron_lines(41, 10)
    syslog.write_text(later)
    lines, results = await read_all(syslog, cursors)
    assert lines == written + after
    assert [c.mode for c in results[0].logs] == ["rotated"]


async def test_a_log_that_is_not_a_regular_file_is_not_read(tmp_path):
    fifo = tmp_path / "cron.fifo"
    os.mkfifo(fifo)
    request = probe.LogRequest(since=SINCE, files=(str(fifo),))
    quick = Host(name="here", address="localhost", transport="local", command_timeout=5)
    report = await probe_host(quick, connector(), crontabs=False, logs=request)
    assert report.status is HostStatus.OK, report.error
    assert report.result.missing_logs == {str(fifo): "not a regular file"}


async def test_the_journal_read_is_bounded_and_goes_on_from_its_cursor(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "journalctl"
    fake.parent.mkdir()
    lines = [JOURNAL_LINE % (n, 10 + n, n) for n in range(1, 4)]
    fake.write_text("#!/bin/sh\n" + "".join(f"echo '{line}'\n" for line in lines))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    monkeypatch.setattr(probe, "LOG_SEND_BYTES", len(lines[0]) + 10)
    result = await read("journal")
    assert result.journal.decode().splitlines() == lines[:1]
    assert result.more_logs == ["journal"]


# -- local mailboxes: read whole, only new bytes ----------------------------------------------

MAIL = (
    "From root@h Fri Dec  4 12:54:01 2026\n"
    "Subject: Cron <root@h> job {n}\n"
    "Date: Fri, 04 Dec 2026 12:54:01 +0000\n"
    "\n"
    "output {n}, not a cron log line\n"
    "\n"
)


async def read_mail(folder, syslog, cursors=None, lookups=()):
    request = probe.LogRequest(
        since=SINCE,
        files=(str(syslog),),
        mail_folder=str(folder),
        mailboxes=cursors or {},
        lookups=lookups,
    )
    report = await probe_host(HOST, connector(), crontabs=False, logs=request)
    assert report.status is HostStatus.OK, report.error
    return report.result


async def test_mailboxes_travel_whole_and_a_rescan_reads_only_new_mail(tmp_path, syslog):
    folder = tmp_path / "mail"
    folder.mkdir()
    box = folder / "root"
    box.write_text(MAIL.format(n=1))
    syslog.write_text(CMD.format(n=1) + NOISE)
    first = await read_mail(folder, syslog)
    # the log still only sends its cron lines; the mailbox every line, as a piece of its own
    assert lines_of(first) == [CMD.format(n=1).strip()]
    assert [c.log for c in first.mail] == [str(box)]
    assert b"".join(c.lines for c in first.mail).decode() == MAIL.format(n=1)

    with box.open("a") as f:
        f.write(MAIL.format(n=2))
    cursors = {c.log: c.cursor for c in first.mail}
    again = await read_mail(folder, syslog, cursors)
    assert b"".join(c.lines for c in again.mail).decode() == MAIL.format(n=2)


async def test_commands_are_looked_up_on_the_path_given(tmp_path, syslog):
    syslog.write_text("")
    lookups = (("/usr/bin:/bin", "ls"), ("/usr/bin:/bin", "no-such-command"), ("/nowhere", "ls"))
    result = await read_mail(tmp_path, syslog, lookups=lookups)
    assert result.on_path == {lookups[0]: True, lookups[1]: False, lookups[2]: False}
