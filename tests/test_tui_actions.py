"""The action keys in the TUI, on the built-in demo fleet (real scripts through the demo
transport): pause with a reason, edit with the diff, rerun with live output, the audit trail."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from datetime import UTC, datetime

import pytest
from textual.widgets import DataTable, Input, Log, OptionList, Static
from textual.worker import WorkerState

from cronops.demo import build_demo
from cronops.store import Store
from cronops.tui import CronopsApp
from cronops.tui.screens.actions import (
    ChooseRunScreen,
    ConfirmScreen,
    EditScreen,
    EndRerunScreen,
    RerunScreen,
    TrailScreen,
)

NOW = datetime(2026, 11, 20, 9, 41, tzinfo=UTC)


@pytest.fixture
async def demo(tmp_path):
    fleet = build_demo(tmp_path, NOW)
    await fleet.scan(lambda: NOW)
    return fleet


def app_on(demo) -> CronopsApp:
    return CronopsApp.on_demo(demo, lambda: NOW, scan_on_start=False, rescan_every=None)


async def idle(pilot) -> None:
    for _ in range(1000):
        if not any(
            w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in pilot.app.workers
        ):
            break
        await asyncio.sleep(0.01)
    await pilot.pause()


async def choose(pilot, text: str) -> None:
    await idle(pilot)
    await pilot.press("2", "slash", *text, "enter")
    await pilot.pause()


def spool(demo, host: str, user: str) -> str:
    return (demo.world / "hosts" / host / "var/spool/cron/crontabs" / user).read_text()


async def test_pause_with_a_reason_then_resume(demo):
    before = spool(demo, "monitor-01", "root")
    app = app_on(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await choose(pilot, "kpi-report --uptime")
        await pilot.press("p")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(*"db migration", "enter")
        await idle(pilot)
        paused = spool(demo, "monitor-01", "root")
        assert "#cronops:paused" in paused and "reason=db%20migration" in paused
        line = next(line for line in paused.splitlines() if "kpi-report" in line)
        assert line.endswith("30 9 * * 1 /usr/local/bin/kpi-report --uptime")
        await pilot.press("p")  # the same entry, now paused: resume
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")
        await idle(pilot)
    assert spool(demo, "monitor-01", "root").split("\n")[3:] == before.split("\n")[3:]


async def test_edit_checks_as_you_type_and_writes_the_diff_shown(demo):
    app = app_on(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await choose(pilot, "replica-check")
        await pilot.press("e")
        assert isinstance(app.screen, EditScreen)
        schedule = app.screen.query_one("#schedule", Input)
        schedule.value = "61 * * * *"
        await pilot.pause()
        assert "invalid schedule" in str(app.screen.query_one("#problem", Static).render())
        schedule.value = "0 0 31 2 *"
        await pilot.pause()
        assert "this schedule never runs" in str(app.screen.query_one("#problem", Static).render())
        schedule.value = "*/20 * * * *"
        await pilot.pause()
        assert "Every 20 minutes" in str(app.screen.query_one("#words", Static).render())
        await pilot.press("ctrl+s")
        await idle(pilot)
        await pilot.press("l")
        assert isinstance(app.screen, TrailScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1 and "edit" in [str(c) for c in table.get_row_at(0)]
    assert "*/20 * * * * /usr/local/bin/replica-check" in spool(demo, "db-01", "root")


async def test_refusals_in_the_tui_are_in_the_trail(demo):
    app = app_on(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await choose(pilot, "replica-check")
        await pilot.press("u")  # cronops never changed it
        await pilot.press("e")
        app.screen.query_one("#schedule", Input).value = "61 * * * *"
        await pilot.pause()
        await pilot.press("ctrl+s")  # refused: the form stays
        await pilot.pause()
        assert isinstance(app.screen, EditScreen)
        await pilot.press("escape", "l")
        table = app.screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
    assert [(r[4], r[5]) for r in rows] == [("edit", "refused"), ("undo", "refused")]
    assert "invalid schedule" in rows[0][6] and "nothing to undo" in rows[1][6]
    assert rows[0][2] == "db-01"


def outcome(app) -> str:
    return str(app.screen.query_one("#outcome", Static).render())


async def ended(pilot) -> str:
    """The rerun screen's outcome, once the rerun is over."""
    await idle(pilot)
    for _ in range(300):
        if outcome(pilot.app) != "running…":
            break
        await asyncio.sleep(0.02)
    return outcome(pilot.app)


def manual_runs(demo) -> list[dict]:
    store = Store(demo.db_path)
    try:
        return store.rows("select * from runs where trigger = 'manual'")
    finally:
        store.close()


async def rerun_the_hung_export(pilot) -> str:
    """Rerun db-02's warehouse export, which the demo has running for hours: refused."""
    await choose(pilot, "export-warehouse --full")
    await pilot.press("r", "enter")
    assert isinstance(pilot.app.screen, RerunScreen)
    return await ended(pilot)


async def test_rerun_streams_the_output_and_records_a_manual_run(demo):
    app = app_on(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await choose(pilot, "heartbeat --push")
        await pilot.press("r", "enter")
        assert isinstance(app.screen, RerunScreen)
        assert "exited 0" in await ended(pilot)
        assert "pong" in "\n".join(app.screen.query_one(Log).lines)
        assert "f" not in app.screen.active_bindings  # nothing to force
    manual = manual_runs(demo)
    assert len(manual) == 1 and manual[0]["status"] == 0


async def test_rerun_while_the_entry_runs_is_refused_and_offers_to_run_anyway(demo):
    app = app_on(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        said = await rerun_the_hung_export(pilot)
        assert said.startswith("not run: ")
        assert "is running right now on db-02 (pid " in said
        assert said.endswith("\nf run anyway (asks once more)")
        assert "f" in app.screen.active_bindings
    assert manual_runs(demo) == []


async def test_f_then_enter_runs_another_while_one_runs(demo):
    app = app_on(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        refusal = await rerun_the_hung_export(pilot)
        await pilot.press("f")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.title_text.startswith("Run another ")
        assert app.screen.title_text.endswith(" while one runs?")
        assert refusal.startswith(f"not run: {app.screen.body}")
        await pilot.press("enter")
        assert isinstance(app.screen, RerunScreen)
        assert "rerun on db-02: the job exited 0" in await ended(pilot)
        assert "exporting 14 tables" in "\n".join(app.screen.query_one(Log).lines)
        assert "f" not in app.screen.active_bindings
    manual = manual_runs(demo)
    assert len(manual) == 1 and manual[0]["host"] == "db-02" and manual[0]["status"] == 0


async def test_f_then_escape_runs_nothing(demo):
    app = app_on(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        refusal = await rerun_the_hung_export(pilot)
        await pilot.press("f", "escape")
        await idle(pilot)
        assert isinstance(app.screen, RerunScreen)
        assert outcome(app) == refusal
        assert "f" in app.screen.active_bindings
    assert manual_runs(demo) == []


# A job that runs for minutes, added to monitor-01 (@yearly: the demo's cron never starts it).
LONG_JOB = "@yearly echo tick; sleep 602\n"


@pytest.fixture
async def long_job(demo):
    """The demo with LONG_JOB on monitor-01, scanned; no rerun of it is left running after."""
    path = demo.world / "hosts/monitor-01/var/spool/cron/crontabs/root"
    path.write_text(path.read_text() + LONG_JOB)
    await demo.scan(lambda: NOW)
    yield demo
    for run in manual_runs(demo):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run["pid"], signal.SIGKILL)


def alive(pid: int) -> bool:
    """A live process here (the demo's jobs run on this machine); a zombie is not alive."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


async def until(pilot, condition, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.02)
        await pilot.pause()
    pytest.fail(f"{what}: not within 10 s")


async def rerun_the_long_job(pilot) -> RerunScreen:
    await choose(pilot, "sleep 602")
    await pilot.press("r", "enter")
    screen = pilot.app.screen
    assert isinstance(screen, RerunScreen)
    await until(pilot, lambda: "tick" in screen.query_one(Log).lines, "no output")
    return screen


def last_action(demo) -> dict:
    store = Store(demo.db_path)
    try:
        return store.actions(limit=1)[0]
    finally:
        store.close()


async def test_escape_while_a_rerun_runs_asks_and_enter_stops_its_job(long_job):
    app = app_on(long_job)
    async with app.run_test(size=(140, 40)) as pilot:
        await rerun_the_long_job(pilot)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, EndRerunScreen), "no question")
        await pilot.press("enter")
        said = await ended(pilot)
        assert said.startswith("stopped  rerun on monitor-01: stopped by ")
        assert said.endswith("none of it is left")
    (run,) = manual_runs(long_job)
    assert run["signal"] == signal.SIGTERM and run["ended_at"] and not alive(run["pid"])
    action = last_action(long_job)
    assert (action["action"], action["result"], action["login"]) == ("rerun", "ok", "root")


async def test_keep_watching_takes_the_escape_back(long_job):
    app = app_on(long_job)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await rerun_the_long_job(pilot)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, EndRerunScreen), "no question")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "not back to the output")
        assert screen.running and outcome(app) == "running…"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, EndRerunScreen), "no question")
        await pilot.press("s")
        assert (await ended(pilot)).startswith("stopped  ")


@pytest.mark.parametrize("how", ["q", "sigterm"])
async def test_quitting_while_a_rerun_runs_asks_and_may_leave_it_running(long_job, how):
    app = app_on(long_job)
    async with app.run_test(size=(140, 40)) as pilot:
        await rerun_the_long_job(pilot)
        if how == "q":
            await pilot.press("q")
        else:
            os.kill(os.getpid(), signal.SIGTERM)
        await until(pilot, lambda: isinstance(app.screen, EndRerunScreen), "no question")
        await pilot.press("l")
        for _ in range(500):
            if not app.is_running:
                break
            await asyncio.sleep(0.02)
        assert not app.is_running
    (run,) = manual_runs(long_job)
    assert run["ended_at"] is None and alive(run["pid"])
    action = last_action(long_job)
    assert action["result"] == "ok" and action["detail"].startswith("left running detached by ")
    output = action["detail"].rsplit(" ", 1)[-1]
    assert (long_job.world / "hosts/monitor-01" / output.lstrip("/")).read_text() == "tick\n"


def export_ps(demo) -> str:
    """db-02's process table, as its (simulated) cron last drew it."""
    return (demo.world / "hosts/db-02/run/ps").read_text()


async def test_k_shows_the_hung_run_asks_and_kills_it_and_the_judge_follows(demo):
    assert "export-warehouse" in export_ps(demo)
    app = app_on(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await idle(pilot)
        assert ("db-02", "hung") in {(f.host, f.kind) for f in app.problems.rows}
        await choose(pilot, "export-warehouse --full")
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "no question")
        assert app.screen.title_text.startswith("Kill ") and "on db-02" in app.screen.title_text
        body = app.screen.body
        assert body.startswith("/usr/local/bin/export-warehouse --full\npid ")
        assert " as postgres, started " in body and "its process group " in body
        assert body.endswith(", KILL 5 s later if any of it is left")
        await pilot.press("enter")
        await idle(pilot)
        await idle(pilot)
        kinds = {(f.host, f.kind) for f in app.problems.rows}
        notes = [n.message for n in app._notifications]
    assert ("db-02", "hung") not in kinds and ("db-02", "failed") in kinds
    assert any(n.startswith("kill on db-02: TERM to process group ") for n in notes)
    assert "export-warehouse" not in export_ps(demo)
    action = last_action(demo)
    assert (action["action"], action["result"], action["login"]) == ("kill", "ok", "root")
    assert action["detail"].endswith("is recorded as killed by signal 15")
    store = Store(demo.db_path)
    try:
        (run,) = store.rows("select * from runs where host = 'db-02' and signal is not null")
    finally:
        store.close()
    assert run["signal"] == signal.SIGTERM and "export-warehouse" in run["command"]


async def test_with_two_runs_k_asks_which_and_kills_only_that_one(demo):
    """A second run of the export, an hour after the first: put in db-02's simulated cron and
    drawn into its process table as cron would (its own fork of cron, then the job's shell)."""
    state_path = demo.world / "cron/db-02.json"
    state = json.loads(state_path.read_text())
    (first,) = [run for run in state["runs"] if run["end"] is None]
    later = dict(first, start=first["start"] + 3600, parent=90001, pid=90002)
    state["runs"].append(later)
    state_path.write_text(json.dumps(state))
    table = demo.world / "hosts/db-02/run/ps"
    with table.open("a") as rows:
        rows.write(f"90001 {state['daemon_pid']} root {int(later['start'])} /usr/sbin/CRON -f\n")
        rows.write(f"90002 90001 postgres {int(later['start'])} /bin/sh -c {first['command']}\n")
    app = app_on(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await choose(pilot, "export-warehouse --full")
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ChooseRunScreen), "no choice")
        options = app.screen.query_one(OptionList)
        assert [options.get_option_at_index(i).id for i in range(2)] == [str(first["pid"]), "90002"]
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "no question")
        assert "\npid 90002 as postgres, started " in app.screen.body
        await pilot.press("enter")
        await idle(pilot)
    action = last_action(demo)
    assert action["detail"].startswith(
        "TERM to process group 90002 (1 process); none of it is left"
    )
    # The log shows no run started with it: the kill is the only record.
    assert action["detail"].endswith("the kill is recorded here only")
    assert f"{first['pid']} " in export_ps(demo) and "90002" not in export_ps(demo)


async def test_k_on_an_entry_that_is_not_running_is_refused_in_the_trail(demo):
    app = app_on(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await choose(pilot, "replica-check")
        await pilot.press("k")
        await idle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        notes = [n.message for n in app._notifications]
    assert any("is not running on db-01: cron runs no process of it now" in n for n in notes)
    action = last_action(demo)
    assert (action["action"], action["result"]) == ("kill", "refused")
