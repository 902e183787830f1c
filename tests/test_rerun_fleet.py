"""A rerun interrupted, timed out or left running, on a real host: `cronops rerun` is run as its
own process (signals and a terminal are real), and the host's process table is the judge.

The host `golf` has its own small fleet: its jobs sleep for minutes, and each test ends them.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cronops.cli import main
from cronops.store import Store
from tests.fleet import Fleet, HostSpec, require_fleet_tools

pytestmark = pytest.mark.fleet

# Each job prints a line, then sleeps for a number of seconds no other job on the host uses, so
# `pgrep -f '^sleep 6NN'` finds exactly its sleep.
ALICE = """\
@daily echo started; sleep 601; echo never
@weekly trap '' TERM; echo stubborn; sleep 602
@monthly echo detach me; while :; do echo beat; sleep 1; done; sleep 603
"""


@pytest.fixture(scope="module")
def golf_fleet(tmp_path_factory):
    if reason := require_fleet_tools():
        pytest.skip(reason)
    fleet = Fleet(tmp_path_factory.mktemp("rerun-fleet"))
    fleet.start([HostSpec(name="golf", crontabs={"alice": ALICE})])
    yield fleet
    fleet.stop()


@pytest.fixture
def golf(golf_fleet, tmp_path):
    """A fresh history of golf, scanned; its `cronops` command line; no job left behind after."""
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(golf_fleet.inventory_toml())
    db = tmp_path / "history.db"
    common = ["--inventory", str(inventory), "--db", str(db)]
    assert main(["scan", *common, "--format", "json"]) == 0
    host = golf_fleet.hosts["golf"]
    yield host, db, common
    host.run("pkill -KILL -f 'sleep 60[0-9]|echo beat'", check=False)


def job_id(db: Path, fragment: str) -> str:
    store = Store(db)
    try:
        (found,) = [e.id for e in store.entries() if fragment in e.command]
    finally:
        store.close()
    return found


def pids(host, pattern: str) -> list[int]:
    """The live (not zombie) processes on the host whose command line matches."""
    found = host.run(["pgrep", "-f", pattern], check=False).stdout.split()
    return [int(p) for p in found if alive(host, int(p))]


def alive(host, pid: int) -> bool:
    state = host.run(["ps", "-o", "stat=", "-p", str(pid)], check=False).stdout.strip()
    return bool(state) and not state.startswith("Z")


def start(common: list[str], *args: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cronops", "rerun", *args, *common],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parent.parent,
    )


def read_until(stream, text: bytes, seconds: float = 20) -> bytes:
    """What the stream said up to and including `text` (fails after `seconds`)."""
    seen = b""
    deadline = time.monotonic() + seconds
    while text not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            pytest.fail(f"no {text!r} within {seconds} s; got {seen!r}")
        piece = os.read(stream.fileno(), 65536)
        if not piece:
            pytest.fail(f"the stream ended before {text!r}; got {seen!r}")
        seen += piece
    return seen


def trail(common: list[str], capsys) -> dict:
    """The newest row of the audit trail."""
    capsys.readouterr()
    assert main(["log", *common, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["actions"][0]


def manual_run(db: Path) -> dict:
    store = Store(db)
    try:
        (run,) = store.rows("select * from runs where trigger = 'manual'")
    finally:
        store.close()
    return run


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_off_a_terminal_stops_the_job_and_records_it(golf, capsys, signum):
    host, db, common = golf
    rerun = start(common, job_id(db, "sleep 601"), "--yes")
    read_until(rerun.stdout, b"started\n")
    assert len(pids(host, "^sleep 601")) == 1
    rerun.send_signal(signum)
    assert rerun.wait(30) == 128 + signum
    assert "stopped by" in rerun.stderr.read().decode()
    assert pids(host, "^sleep 601") == []

    action = trail(common, capsys)
    assert (action["action"], action["result"]) == ("rerun", "ok")
    assert action["detail"].startswith("stopped by ")
    assert "TERM to pid " in action["detail"] and "none of it is left" in action["detail"]
    run = manual_run(db)
    assert (run["signal"], run["status"]) == (signal.SIGTERM, None)
    assert run["pid"] and run["ended_at"] and run["output_tail"] == "started"
    assert str(run["pid"]) in action["detail"]


def test_a_job_that_ignores_term_is_killed_after_the_grace(golf, capsys):
    host, db, common = golf
    rerun = start(common, job_id(db, "sleep 602"), "--yes")
    read_until(rerun.stdout, b"stubborn\n")
    rerun.send_signal(signal.SIGINT)
    assert rerun.wait(30) == 130
    assert pids(host, "^sleep 602") == []
    detail = trail(common, capsys)["detail"]
    assert "TERM, then KILL after 5 s" in detail and "none of it is left" in detail
    assert manual_run(db)["signal"] == signal.SIGKILL


def test_ctrl_c_on_a_terminal_asks_and_the_job_can_be_left_running(golf, capsys):
    host, db, common = golf
    terminal, tty = pty.openpty()
    try:
        rerun = start(common, job_id(db, "echo beat"), stdin=tty)
        read_until(rerun.stderr, b"sleep 603\n?\n")
        os.write(terminal, b"y\n")
        read_until(rerun.stdout, b"beat\n")
        rerun.send_signal(signal.SIGINT)
        read_until(rerun.stderr, b"[S/l/w] ")
        os.write(terminal, b"l\n")
        assert rerun.wait(30) == 130
    finally:
        os.close(terminal)
        os.close(tty)
    said = rerun.stderr.read().decode()
    assert "left running" in said

    action = trail(common, capsys)
    assert action["result"] == "ok" and action["detail"].startswith("left running detached by ")
    run = manual_run(db)
    assert run["ended_at"] is None and run["status"] is None and run["signal"] is None
    # The job outlived cronops and its SSH channel, in its own process group, still writing.
    assert alive(host, run["pid"])
    group = host.run(["ps", "-o", "pgid=", "-p", str(run["pid"])]).stdout.strip()
    assert group == str(run["pid"])
    output = action["detail"].rsplit(" ", 1)[-1]
    assert output.endswith("/output") and output in said
    size = len(host.path(output).read_bytes())
    time.sleep(2.5)
    assert len(host.path(output).read_bytes()) > size
    assert host.path(output).read_text().startswith("detach me\nbeat\n")
    # ...and nothing else cronops started there is left once its channel is gone.
    assert pids(host, "cronops-watch") == []
    # Running, if not under cron: another rerun is refused as while cron runs it.
    assert main(["rerun", job_id(db, "echo beat"), "--yes", *common]) == 1
    assert f"a rerun left running (pid {run['pid']}, its output in {output})" in (
        capsys.readouterr().err
    )


def test_a_rerun_past_its_time_limit_is_stopped_and_recorded(golf, capsys):
    host, db, common = golf
    started = time.monotonic()
    rerun = start(common, job_id(db, "sleep 601"), "--yes", "--timeout", "3s")
    assert rerun.wait(30) == 1
    assert time.monotonic() - started < 20
    assert pids(host, "^sleep 601") == []
    action = trail(common, capsys)
    assert action["result"] == "failed"
    assert action["detail"].startswith("time limit of 3 s reached: TERM to pid ")
    assert manual_run(db)["signal"] == signal.SIGTERM
