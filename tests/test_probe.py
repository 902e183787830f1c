"""The probe's output format: sections behind a random marker, file bytes kept exactly, facts parsed.

Runs the real probe script through the local transport (the same script SSH hosts run) where it can.
"""

import os
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cronops import probe
from cronops.inventory import Host
from cronops.scan import probe_host
from cronops.transport import HostStatus, Reply, connector

MARKER = "0123456789abcdef"
HOST = Host(name="h", address="localhost", transport="local")


def reply(stdout: bytes, sent_at: float = 1_700_000_000.0, received_at: float = 1_700_000_000.5):
    return Reply(
        HOST, HostStatus.OK, stdout=stdout, exit_status=0, sent_at=sent_at, received_at=received_at
    )


def section(header: str, body: bytes = b"") -> bytes:
    """One section as the probe prints it: header, body, and an end line with the body's length."""
    return f"@@{MARKER}@@ {header}\n".encode() + body + f"\n@@{MARKER}@@ end {len(body)}\n".encode()


def answer(*sections: bytes) -> bytes:
    """A whole answer: the sections, then the line that says how many there were."""
    return b"".join(sections) + f"@@{MARKER}@@ done {len(sections)}\n".encode()


def meta(epoch: int = 1_700_000_000, zone: str = "Europe/Berlin") -> bytes:
    return section(
        "meta",
        f"hostname=web-1\nepoch={epoch}\noffset=+0100\nzone={zone}\nuid=0\nuser=root\n".encode(),
    )


def file_section(path: str, content: bytes, kind="system", owner="-", mtime="1699999000") -> bytes:
    return section(f"file {kind} {owner} {mtime} {path}", content)


def test_file_bytes_pass_through_exactly():
    ugly = b"# no final newline\r\n0 3 * * *\troot  echo 'a #b' \\% \xff\n\n\n*/5 * * * * root true"
    out = b"Welcome to the motd\n" + answer(meta(), file_section("/etc/cron.d/my file", ugly))
    result = probe.parse_output(reply(out), MARKER)
    (crontab,) = result.crontabs
    assert crontab.path == "/etc/cron.d/my file"
    assert crontab.text.encode("utf-8", errors="surrogateescape") == ugly
    assert crontab.mtime is not None and crontab.mtime.tzinfo is UTC


def test_facts_are_parsed_in_the_host_zone():
    facts = probe.parse_output(reply(answer(meta())), MARKER).facts
    assert (facts.hostname, facts.user, facts.uid, facts.zone_name) == (
        "web-1",
        "root",
        0,
        "Europe/Berlin",
    )
    assert facts.clock.tzinfo == ZoneInfo("Europe/Berlin")
    assert facts.clock.utcoffset() == timedelta(hours=1)
    assert facts.skew == timedelta(0)


def test_inventory_zone_overrides_the_host_and_offsets_stand_in_for_unknown_zones():
    assert (
        probe.parse_output(reply(answer(meta())), MARKER, "Asia/Tokyo").facts.zone_name
        == "Asia/Tokyo"
    )
    facts = probe.parse_output(reply(answer(meta(zone="CET-1CEST"))), MARKER).facts
    assert facts.zone == timezone(timedelta(hours=1))


def test_clock_skew_counts_only_beyond_the_round_trip():
    assert probe.clock_skew(1000, 1000.4, 1002.0) == timedelta(0)
    assert probe.clock_skew(1120, 1000.0, 1002.0) == timedelta(seconds=118)
    assert probe.clock_skew(900, 1000.0, 1002.0) == timedelta(seconds=-99)


def test_output_without_facts_is_an_error_that_says_why():
    broken = Reply(
        HOST, HostStatus.OK, stdout=b"", stderr=b"sh: 1: stat: not found", exit_status=127
    )
    with pytest.raises(probe.ProbeError, match=r"exit 127.*stat: not found"):
        probe.parse_output(broken, MARKER)


def test_unreadable_files_are_listed():
    out = answer(meta(), section("unreadable user alice - /var/spool/cron/crontabs/alice"))
    assert probe.parse_output(reply(out), MARKER).unreadable == ["/var/spool/cron/crontabs/alice"]


async def whole_answer(tmp_path) -> tuple[Reply, str]:
    """A real answer of the probe (crontabs and a log) from the local transport."""
    log = tmp_path / "syslog"
    log.write_text("Nov 22 10:17:01 h CRON[7]: (root) CMD (job 7)\n")
    marker = probe.new_marker()
    request = probe.LogRequest(since=datetime.now(UTC) - timedelta(days=8), files=(str(log),))
    script = probe.build_script(marker, logs=request)
    answer = await connector().run(HOST, probe.PROBE_COMMAND, script.encode())
    assert answer.status is HostStatus.OK
    return answer, marker


async def test_an_answer_cut_short_anywhere_is_refused(tmp_path):
    answer, marker = await whole_answer(tmp_path)
    assert probe.parse_output(answer, marker).logs  # whole, it is read
    stdout = answer.stdout
    for size in [*range(0, 3000), *range(3000, len(stdout), 7)]:
        with pytest.raises(probe.ProbeError, match=r"cut short after \d+ bytes|printed no facts"):
            probe.parse_output(replace(answer, stdout=stdout[:size]), marker)


async def test_an_answer_that_lost_bytes_or_a_section_is_refused(tmp_path):
    answer, marker = await whole_answer(tmp_path)
    stdout = answer.stdout
    start = stdout.index(f"@@{marker}@@ file ".encode())
    body = stdout.index(b"\n", start) + 1
    lost_byte = stdout[:body] + stdout[body + 1 :]
    with pytest.raises(probe.ProbeError, match=r"incomplete: a file section has \d+ bytes"):
        probe.parse_output(replace(answer, stdout=lost_byte), marker)
    end = stdout.index(f"@@{marker}@@ end".encode(), start)
    next_section = stdout.index(b"\n", end) + 1
    lost_section = stdout[:start] + stdout[next_section:]
    with pytest.raises(probe.ProbeError, match=r"has \d+ of its \d+ sections"):
        probe.parse_output(replace(answer, stdout=lost_section), marker)


async def test_probe_runs_locally_through_sh():
    report = await probe_host(HOST, connector())
    assert report.status is HostStatus.OK, report.error
    facts = report.result.facts
    assert facts.hostname and facts.uid >= 0
    if Path("/etc/crontab").exists():
        assert any(c.path == "/etc/crontab" for c in report.result.crontabs)


async def test_the_watchdog_never_holds_the_answer_open():
    # Were the probe to end without stopping its watchdog (a race, a shell killed midway), the
    # answer must still end with the probe, not at the time limit.
    marker = probe.new_marker()
    script = probe.build_script(marker, crontabs=False, time_limit=20).replace('kill "$W"', "")
    started = time.monotonic()
    answer = await connector().run(HOST, probe.PROBE_COMMAND, script.encode())
    assert time.monotonic() - started < 10
    assert probe.parse_output(answer, marker).facts.hostname


async def test_local_command_timeout_is_a_timeout_status():
    slow = Host(name="slow", address="localhost", transport="local", command_timeout=0.2)
    answer = await connector().run(slow, "sleep 5")
    assert answer.status is HostStatus.TIMEOUT
    assert "0.2s" in answer.error


def test_markers_are_never_the_same_not_even_in_a_forked_child():
    markers = [probe.new_marker() for _ in range(3 * probe.MARKERS_DRAWN + 1)]
    assert len(set(markers)) == len(markers)
    assert all(len(m) == 2 * probe.MARKER_BYTES and int(m, 16) >= 0 for m in markers)
    read, write = os.pipe()
    if (child := os.fork()) == 0:  # the child's next marker, drawn after the fork
        os.write(write, probe.new_marker().encode())
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 64).decode() != probe.new_marker()


def test_cron_processes_find_the_daemon_and_its_jobs():
    ps = [
        probe.Process(1, 0, "root", 900, "/sbin/init"),
        probe.Process(50, 1, "root", 800, "/usr/sbin/cron -f -L 15"),
        probe.Process(70, 50, "root", 30, "/usr/sbin/CRON -f -L 15"),
        probe.Process(71, 70, "alice", 30, "/bin/sh -c /opt/sync.sh --all -c x"),
        probe.Process(72, 71, "alice", 29, "/bin/bash /opt/sync.sh --all -c x"),
        probe.Process(90, 1, "root", 10, "sshd: root@notty"),
    ]
    daemon, jobs = probe.cron_processes(ps)
    assert daemon.pid == 50 and probe.debian_log_level(daemon) == 15
    assert [(j.pid, j.user, j.elapsed_s, j.command) for j in jobs] == [
        (71, "alice", 30, "/opt/sync.sh --all -c x")
    ]
    # The daemon gone, its orphaned per-job fork is no daemon, and the job still runs.
    daemon, jobs = probe.cron_processes([p for p in ps if p.pid != 50])
    assert daemon is None and [j.pid for j in jobs] == [71]


# A host's process list as `ps -eo pid=,ppid=,user:32=,etimes=,args=` prints it.
LISTING = """\
      1       0 root                                900 /sbin/init
     50       1 root                                800 /usr/sbin/cron -f -L 15
     70      50 root                                 30 /usr/sbin/CRON -f -L 15
     71      70 alice                                30 /bin/sh -c /opt/sync.sh --all -c x
     72      71 alice                                29 /bin/bash /opt/sync.sh --all -c x
     80       1 root                                700 /usr/sbin/crond -n
     81      80 bob                                  5 /bin/sh -c backup
     90       1 root                                 10 sshd: root@notty
     91      90 root                                  9 vim /etc/crontab
     92      91 root                                  9 sh -c make
"""


async def test_the_host_sends_only_crons_processes_and_their_children():
    """The probe's own filter (awk, on the host) keeps what cron_processes finds: the same
    daemon and jobs as from the whole list, without the processes cron did not start."""
    marker = probe.new_marker()
    script = probe.build_script(marker, crontabs=False, processes=True)
    fake_ps = f"ps() {{ printf '%s' '{LISTING}'; }}\n"
    answer = await connector().run(HOST, probe.PROBE_COMMAND, (fake_ps + script).encode())
    sent = probe.parse_output(answer, marker).processes
    assert [p.pid for p in sent] == [50, 70, 71, 80, 81, 91, 92]  # each says cron, or is a child
    whole = probe._processes(LISTING.encode())
    assert len(whole) == 10 and probe.cron_processes(sent) == probe.cron_processes(whole)
    daemon, jobs = probe.cron_processes(sent)
    assert daemon.pid == 50 and [(j.pid, j.command) for j in jobs] == [
        (71, "/opt/sync.sh --all -c x"),
        (81, "backup"),
    ]


def test_debian_log_level_is_read_from_the_daemons_command_line():
    def level(args):
        return probe.debian_log_level(probe.Process(1, 0, "root", 1, args))

    assert level("/usr/sbin/cron -f") == 1  # Debian's default
    assert level("/usr/sbin/cron -f -L15") == 15
    assert level("cron -L 2") == 2
    assert level("/usr/sbin/crond -n") is None  # cronie: no such level
