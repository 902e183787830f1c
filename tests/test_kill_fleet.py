"""`cronops kill` on real hosts: never-ending jobs that the real cron started, killed over SSH,
and the host's own `ps` as the judge of what is left.

The hosts have a fleet of their own (the session fleet's hung job is other tests' evidence):
kilo runs Debian cron -L 15, lima the default -L 1 (start lines only). Each job holds a lock, so
one run of it lives at a time; once killed, cron starts it again at the next minute.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from cronops.cli import main
from cronops.store import Store
from tests.conftest import own_fleet, wait_for
from tests.fleet import Fleet, HostSpec

pytestmark = pytest.mark.fleet

KILO_ROOT = """\
* * * * * flock -n /run/hang.lock sh -c 'sleep 100000 & sleep 100001' || true
* * * * * trap '' TERM; flock -n /run/stubborn.lock sleep 100002 || true
* * * * * flock -n /run/stray.lock sh -c 'setsid sleep 100003 & sleep 100004' || true
0 0 1 1 * /usr/bin/true
"""
KILO_ALICE = """\
* * * * * flock -n /run/alice/hang.lock sleep 100005 || true
"""
LIMA_ROOT = """\
* * * * * sleep 100006
"""


@pytest.fixture(scope="module")
def kill_fleet(tmp_path_factory):
    kilo = HostSpec(
        name="kilo",
        crontabs={"root": KILO_ROOT, "alice": KILO_ALICE},
        cron=True,
        cron_level=15,
        syslog="traditional",
    )
    lima = HostSpec(name="lima", crontabs={"root": LIMA_ROOT}, cron=True, syslog="rfc3339")
    for fleet in own_fleet(tmp_path_factory, "kill-fleet", kilo, lima):
        fleet.hosts["kilo"].run(["install", "-d", "-o", "alice", "/run/alice"])
        yield fleet


class Cronops:
    """`cronops` on the kill fleet with a history of its own, as root (or another login)."""

    def __init__(self, fleet: Fleet, tmp: Path, login: str = "root", db: Path | None = None):
        self.fleet, self.db = fleet, db or tmp / f"{login}.db"
        inventory = tmp / f"{login}.toml"
        # Every job is hung once it has run 5 s.
        policy = {"user": login, "max_duration": "5s"}
        inventory.write_text(fleet.inventory_toml(extra_defaults=policy))
        self.common = ["--inventory", str(inventory), "--db", str(self.db)]

    def __call__(self, command: str, *args: str) -> int:
        return main([command, *self.common, *args])

    def json(self, capsys, command: str, *args: str) -> dict:
        capsys.readouterr()
        self(command, *args, "--format", "json")
        return json.loads(capsys.readouterr().out)

    def entry(self, fragment: str) -> str:
        store = Store(self.db)
        try:
            (found,) = [e.id for e in store.entries() if fragment in e.command]
        finally:
            store.close()
        return found

    def runs(self, host: str, pid: int) -> list[dict]:
        store = Store(self.db)
        try:
            return store.rows("select * from runs where host = ? and pid = ?", [host, pid])
        finally:
            store.close()


@pytest.fixture
def cronops(kill_fleet, tmp_path) -> Cronops:
    return Cronops(kill_fleet, tmp_path)


def jobs(host, fragment: str, at_least: float = 0) -> list[int]:
    """The live runs cron started whose command holds `fragment`, oldest first: the pids of
    their shells (or of the command the shell became), each the leader of its process group and
    of its session."""
    table = host.run(["ps", "-e", "-o", "pid=,pgid=,sid=,etimes=,stat=,args="]).stdout
    found = []
    for line in table.splitlines():
        pid, pgid, sid, elapsed, state, args = line.split(None, 5)
        alive = not state.startswith("Z") and int(elapsed) >= at_least
        if fragment in args and pid == pgid == sid and alive:
            found.append((-int(elapsed), int(pid)))
    return [pid for _, pid in sorted(found)]


def running(host, fragment: str, count: int = 1, at_least: float = 0) -> list[int]:
    """Wait until cron runs `count` runs of the job (each for `at_least` seconds)."""
    wait_for(lambda: len(jobs(host, fragment, at_least)) >= count, 150, f"no {fragment} run")
    return jobs(host, fragment, at_least)


def exactly(host, args: str) -> list[int]:
    """The pids of the processes on the host whose command line is `args`."""
    return [int(p) for p in host.run(["pgrep", "-x", "-f", args], check=False).stdout.split()]


def group(host, pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group on the host."""
    table = host.run(["ps", "-e", "-o", "pgid=,pid=,stat="]).stdout
    return [
        int(pid)
        for pg, pid, state in (line.split() for line in table.splitlines())
        if int(pg) == pgid and not state.startswith("Z")
    ]


def of_job(findings: dict, command: str) -> dict[str, dict]:
    return {
        f["kind"]: f for f in findings["findings"] if f["job"] and f["job"]["command"] == command
    }


def test_a_hung_run_is_killed_its_group_is_gone_and_the_trail_and_run_say_so(
    kill_fleet, cronops, capsys
):
    kilo = kill_fleet.hosts["kilo"]
    (pid,) = running(kilo, "/run/hang.lock", at_least=8)
    assert len(group(kilo, pid)) >= 4  # sh, flock, sh, two sleeps
    command = KILO_ROOT.splitlines()[0].split(" ", 5)[5]
    assert "hung" in of_job(cronops.json(capsys, "audit"), command)  # (the audit scans)

    assert cronops("kill", cronops.entry("/run/hang.lock"), "--yes") == 0
    assert group(kilo, pid) == []
    said = capsys.readouterr().err
    assert f"kill on kilo: TERM to process group {pid} (" in said

    (action,) = cronops.json(capsys, "log")["actions"]
    assert (action["action"], action["result"], action["login"]) == ("kill", "ok", "root")
    assert action["detail"].startswith(f"TERM to process group {pid} (")
    assert "none of it is left; its run started " in action["detail"]
    assert action["detail"].endswith("is recorded as killed by signal 15")
    (run,) = cronops.runs("kilo", pid)
    assert run["signal"] == signal.SIGTERM and run["ended_at"] and run["trigger"] == "cron"

    # The judge: the run is no longer hung (its process is gone), and it was killed.
    judged = of_job(cronops.json(capsys, "audit", "--no-scan"), command)
    assert "hung" not in judged
    assert "killed by signal 15" in judged["failed"]["detail"]


def test_a_run_that_ignores_term_is_killed_after_the_grace(kill_fleet, cronops, capsys):
    kilo = kill_fleet.hosts["kilo"]
    (pid,) = running(kilo, "/run/stubborn.lock")
    assert cronops("scan") == 0
    started = time.monotonic()
    assert cronops("kill", cronops.entry("/run/stubborn.lock"), "--yes", "--grace", "2s") == 0
    assert time.monotonic() - started >= 2
    assert group(kilo, pid) == []
    (action,) = cronops.json(capsys, "log")["actions"]
    assert action["detail"].startswith(f"TERM, then KILL after 2 s to process group {pid} (")
    assert action["detail"].endswith("is recorded as killed by signal 9")
    assert cronops.runs("kilo", pid)[0]["signal"] == signal.SIGKILL


def test_processes_that_left_the_group_are_named_and_not_signalled(kill_fleet, cronops, capsys):
    kilo = kill_fleet.hosts["kilo"]
    (pid,) = running(kilo, "/run/stray.lock")
    wait_for(lambda: exactly(kilo, "sleep 100003"), 10, "no stray")
    (stray,) = exactly(kilo, "sleep 100003")
    assert cronops("scan") == 0
    try:
        assert cronops("kill", cronops.entry("/run/stray.lock"), "--yes") == 0
        assert group(kilo, pid) == []
        assert group(kilo, stray) == [stray]  # in a session of its own: cronops left it alone
        (action,) = cronops.json(capsys, "log")["actions"]
        assert f"; pids {stray} had left it and were not signalled;" in action["detail"]
    finally:
        kilo.run(["kill", str(stray)], check=False)


def test_nothing_running_is_refused_and_recorded(kill_fleet, cronops, capsys):
    assert cronops("scan") == 0
    assert cronops("kill", cronops.entry("/usr/bin/true"), "--yes") == 1
    assert "is not running on kilo: cron runs no process of it now" in capsys.readouterr().err
    (action,) = cronops.json(capsys, "log")["actions"]
    assert (action["action"], action["result"], action["login"]) == ("kill", "refused", "root")


def test_a_login_kills_its_own_runs_and_is_refused_another_user_s(kill_fleet, tmp_path, capsys):
    kilo = kill_fleet.hosts["kilo"]
    alice = Cronops(kill_fleet, tmp_path, login="alice")
    (pid,) = running(kilo, "/run/alice/hang.lock")
    assert alice("scan") == 0
    assert alice("kill", alice.entry("/run/alice/hang.lock"), "--yes") == 0
    assert group(kilo, pid) == []
    (action,) = alice.json(capsys, "log")["actions"]
    assert (action["result"], action["login"]) == ("ok", "alice")

    # alice reads only her own crontab: root's entry comes from root's history.
    root = Cronops(kill_fleet, tmp_path)
    assert root("scan") == 0
    alice = Cronops(kill_fleet, tmp_path, login="alice", db=root.db)
    capsys.readouterr()
    assert alice("kill", root.entry("/run/hang.lock"), "--yes") == 1
    assert "connected to kilo as alice, who may not run commands as root" in (
        capsys.readouterr().err
    )


def test_several_runs_are_listed_and_pid_chooses_one(kill_fleet, cronops, capsys):
    """lima's cron logs starts only (-L 1): the run killed is the one its start line shows."""
    lima = kill_fleet.hosts["lima"]
    older, newer = running(lima, "sleep 100006", count=2)[:2]
    assert cronops("scan") == 0
    entry = cronops.entry("sleep 100006")
    capsys.readouterr()
    assert cronops("kill", entry, "--yes") == 1
    said = capsys.readouterr().err
    assert f"runs of {entry} are running on lima: choose one by its pid" in said
    assert f"pid {older} as root, started " in said and f"pid {newer} as root" in said

    assert cronops("kill", entry, "--yes", "--pid", str(older)) == 0
    assert group(lima, older) == [] and group(lima, newer)
    (run,) = cronops.runs("lima", older)
    assert run["signal"] == signal.SIGTERM and run["dialect"] == "debian"
    assert cronops("kill", entry, "--yes", "--pid", "1") == 1
    assert "pid 1 is not a run of " in capsys.readouterr().err
