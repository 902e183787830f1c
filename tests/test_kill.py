"""A kill's reading of the host's process list: the entry's runs, their process groups, what left
them, and the choice among several runs (pure: no host)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cronops.actions import ActionError, Kill, Target, host_processes, live_runs
from cronops.crontab import parse_crontab
from cronops.inventory import Host

# `ps -e -o pid=,ppid=,pgid=,sid=,stat=,etimes=,user:32=,lstart=,args=` on a fleet host with live
# Debian cron: two runs of the hang job (the older with a child that left its group by setsid, a
# zombie), another job, and the probe itself.
PS = """\
      1       0       0       0 S         20 root                             Fri Dec  4 10:04:41 2026 sshd: /usr/sbin/sshd -D [listener] 0 of 200-200 startups
     16       1      16      16 Ss        20 root                             Fri Dec  4 10:04:41 2026 /usr/sbin/cron -L 15
     20      16      16      16 S         62 root                             Fri Dec  4 10:04:00 2026 /usr/sbin/CRON -L 15
     22      20      22      22 Ss        62 root                             Fri Dec  4 10:04:00 2026 /bin/sh -c /opt/hang --forever
     24      22      22      22 S         62 root                             Fri Dec  4 10:04:00 2026 sleep 100000
     25      22      25      25 Ss        61 root                             Fri Dec  4 10:04:01 2026 /opt/helper --daemon
     26      22      22      22 Z         61 root                             Fri Dec  4 10:04:01 2026 [true] <defunct>
     30      16      16      16 S          2 root                             Fri Dec  4 10:05:00 2026 /usr/sbin/CRON -L 15
     31      30      31      31 Ss         2 alice                            Fri Dec  4 10:05:00 2026 /bin/sh -c /opt/other
     32      16      16      16 S          2 root                             Fri Dec  4 10:05:00 2026 /usr/sbin/CRON -L 15
     33      32      33      33 Ss         2 root                             Fri Dec  4 10:05:00 2026 /bin/sh -c /opt/hang --forever
     40       0       0       0 R          0 root                             Fri Dec  4 10:05:02 2026 ps -e -o pid=,ppid=,pgid=,sid=,stat=,etimes=,user:32=,lstart=,args=
not a process line
"""
CLOCK = datetime(2026, 12, 4, 10, 5, 2, tzinfo=UTC)


@pytest.fixture
def kill() -> Kill:
    crontab = parse_crontab(
        "* * * * * /opt/hang --forever\n", host="kilo", source="root", kind="user", owner="root"
    )
    (entry,) = crontab.entries
    target = Target(Host(name="kilo", address="127.0.0.1"), entry, crontab)
    runs = live_runs(entry, host_processes(PS.encode()), CLOCK)
    return Kill(target, runs, signal_as="", login="root")


def test_the_list_is_read_with_groups_sessions_and_start_times():
    processes = {p.pid: p for p in host_processes(PS.encode())}
    assert len(processes) == 12  # the line that is not one is skipped
    leader = processes[22]
    assert (leader.ppid, leader.pgid, leader.sid, leader.elapsed_s) == (20, 22, 22, 62)
    assert (leader.user, leader.lstart) == ("root", "Fri Dec 4 10:04:00 2026")
    assert leader.args == "/bin/sh -c /opt/hang --forever"
    assert not processes[26].alive and processes[24].alive


def test_each_run_of_the_entry_has_its_group_and_what_left_it(kill):
    older, newer = kill.runs
    assert [p.pid for p in older.members] == [22, 24]  # not the zombie
    assert [p.pid for p in older.strays] == [25]  # its child, in a session of its own
    assert older.started_at == datetime(2026, 12, 4, 10, 4, tzinfo=UTC)
    assert ([p.pid for p in newer.members], newer.strays) == ([33], [])


def test_the_operator_sees_pid_start_command_children_and_strays(kill):
    said = kill.question(kill.runs[0])
    assert said.splitlines() == [
        "/opt/hang --forever",
        "pid 22 as root, started 2026-12-04 10:04:00 UTC, running for 0:01:02",
        "its process group 22:",
        "       22  /bin/sh -c /opt/hang --forever",
        "       24  sleep 100000",
        "left its process group (a kill does not reach them):",
        "       25  /opt/helper --daemon",
        "TERM to process group 22, KILL 5 s later if any of it is left",
    ]
    assert kill.question(kill.runs[1], grace=0.5).endswith(
        ", KILL 0.5 s later if any of it is left"
    )


def test_several_runs_need_a_pid_and_a_pid_must_be_one_of_them(kill):
    with pytest.raises(ActionError, match=r"^2 runs of .* are running on kilo: choose one") as exc:
        kill.choose(None)
    assert "pid 22 as root" in exc.value.detail and "pid 33 as root" in exc.value.detail
    assert kill.choose(33) is kill.runs[1]
    with pytest.raises(ActionError, match=r"^pid 31 is not a run of "):
        kill.choose(31)  # another entry's run
    kill.runs.pop()
    assert kill.choose(None).pid == 22
