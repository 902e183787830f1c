"""Pilot tests for the TUI: each view and key path over a small history written through Store.

No SSH and no wall clock: scanning is off (or fed by a fake connector) and `now` is pinned."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from textual.widgets import DataTable, Input, Static
from textual.worker import WorkerState

from cronops import cli
from cronops import store as store_module
from cronops.actions import actor as cli_actor
from cronops.inventory import Host, Inventory
from cronops.policy import PolicyBook
from cronops.retention import prune
from cronops.store import History, Store, iso
from cronops.transport.base import HostStatus, Reply
from cronops.tui import CronopsApp
from cronops.tui.screens.detail import DetailScreen
from cronops.tui.screens.help import HelpScreen
from cronops.tui.widgets.format import span, when
from cronops.tui.widgets.progress import ScanProgress
from cronops.tui.widgets.rowtable import RowTable
from cronops.tui.widgets.table import TableView
from tests.history import judge_stored

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HOSTS = [
    Host("alpha", "10.0.0.1", tags=("web", "prod")),
    Host("bravo", "10.0.0.2", tags=("db",)),
    Host("charlie", "10.0.0.3", tags=("batch",), timezone="Europe/Berlin"),
]
POLICY = PolicyBook.from_tables(
    defaults={"grace": "5m"},
    jobs=[
        {"command": "backup", "max_duration": "30m", "runbook": "https://wiki/backup"},
        {"command": "rsync", "tier": "critical"},  # its failures wake someone
    ],
)


def _entry(host: str, line: int, user: str, schedule: str, command: str) -> dict:
    return {
        "id": f"{host[0]}{line:03d}",
        "host": host,
        "source": f"/var/spool/cron/crontabs/{user}",
        "user": user,
        "schedule": schedule,
        "command": command,
        "env": {},
        "line": line,
        "text": f"{schedule} {command}",
        "disabled": 0,
        "paused": None,
        "log_off": 0,
    }


def _run(entry: dict, start: datetime, took: float | None, status: int | None) -> dict:
    started = iso(start)
    return {
        "host": entry["host"],
        "entry_id": entry["id"],
        "user": entry["user"],
        "command": entry["command"],
        "started_at": started,
        "ended_at": iso(start + timedelta(seconds=took)) if took is not None else None,
        "status": status,
        "signal": None,
        "pid": 100,
        "source": "/var/log/syslog",
        "dialect": "cronie",
        "trigger": "cron",
        "output_tail": None,
    }


def build_history(path: Path, now: datetime = NOW) -> tuple[Path, Inventory]:
    """alpha: a healthy hourly backup, a sync failing for 25 hours, a daily report that never ran.
    bravo: timed out on its last scan. charlie (Berlin): a clean daily job."""
    store = Store(path)
    seen = iso(now - timedelta(days=3))
    backup = _entry("alpha", 1, "root", "0 * * * *", "/usr/local/bin/backup --all")
    sync = _entry("alpha", 2, "deploy", "*/15 * * * *", "rsync -a /srv/ mirror:/srv/")
    report = _entry(
        "alpha", 3, "root", "30 2 * * *", "/usr/local/share/acme/reports/bin/nightly-report --all"
    )
    cleanup = _entry("charlie", 1, "app", "0 3 * * *", "find /tmp -mtime +7 -delete")
    vacuum = _entry("bravo", 1, "postgres", "0 4 * * 0", "vacuumdb --all")
    runs = []
    for hour in range(1, 48):
        runs.append(_run(backup, now - timedelta(hours=hour), 60 + hour * 7, 0))
    for quarter in range(1, 4 * 24 * 3):
        failed = quarter <= 100  # since 11-21 11:00: a streak reaching before the window
        runs.append(_run(sync, now - timedelta(minutes=15 * quarter), 20, 1 if failed else 0))
    for day in range(3):
        start = datetime(2026, 11, 22 - day, 2, 0, tzinfo=UTC)  # 03:00 in Berlin
        runs.append(_run(cleanup, start, 5, 0))
    ok = {
        "status": "ok",
        "error": None,
        "cron_running": 1,
        "scanned_at": iso(now),
        "ok_at": iso(now),
    }
    common = {"coverage_start": seen, "logs": "/var/log/syslog", "ends_logged": 1}
    with store.transaction() as db:
        for host, extra in (
            ("alpha", ok | {"zone": "UTC", "clock_skew_s": 0.4}),
            ("charlie", ok | {"zone": "Europe/Berlin", "clock_skew_s": -1.0}),
            (
                "bravo",
                {
                    "status": "timeout",
                    "error": "connection timed out after 10s",
                    "zone": "UTC",
                    "scanned_at": iso(now),
                    "ok_at": iso(now - timedelta(days=1)),
                },
            ),
        ):
            address = next(h.address for h in HOSTS if h.name == host)
            row = {"name": host, "address": address, "failures_logged": 1} | common | extra
            store.write_host_state(db, row)
        store.write_entries(db, "alpha", [backup, sync, report], seen)
        store.write_entries(db, "charlie", [cleanup], seen)
        store.write_entries(db, "bravo", [vacuum], seen)
        store.write_problems(
            db,
            "alpha",
            [
                {
                    "host": "alpha",
                    "source": "/etc/cron.d/broken",
                    "line": 4,
                    "text": "* * * bad",
                    "message": "too few fields",
                }
            ],
        )
        store.write_runs(db, runs)
    store.close()
    judge_stored(path, HOSTS, POLICY, now)
    return path, Inventory(Path("hosts.toml"), list(HOSTS), policy=POLICY)


def build_big_history(path: Path, entries: int) -> tuple[Path, Inventory]:
    """alpha alone, with more entries than any screen holds: yearly jobs, so judging is quick."""
    store = Store(path)
    seen = iso(NOW - timedelta(days=3))
    many = [
        _entry("alpha", n, "root", "0 4 1 1 *", f"/usr/bin/job --n {n}") for n in range(entries)
    ]
    with store.transaction() as db:
        row = {"name": "alpha", "address": "10.0.0.1", "status": "ok", "zone": "UTC"}
        row |= {"ok_at": iso(NOW), "scanned_at": iso(NOW), "cron_running": 1}
        row |= {"coverage_start": seen, "logs": "/var/log/syslog"}
        store.write_host_state(db, row)
        store.write_entries(db, "alpha", many, seen)
    store.close()
    return path, Inventory(Path("hosts.toml"), [HOSTS[0]], policy=POLICY)


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, Inventory]:
    return build_history(tmp_path / "history.db")


def app_for(history, **kwargs):
    path, inventory = history
    options = {"scan_on_start": False, "rescan_every": None, "now": lambda: NOW} | kwargs
    app = CronopsApp(path, inventory, inventory.hosts, **options)
    app.animation_level = "none"  # tab underlines and scrolls would only slow the tests
    return app


async def settle(pilot, seconds: float = 10.0) -> None:
    """Until no worker is pending or running (cancelled ones count as done), then one more pause."""
    busy = (WorkerState.PENDING, WorkerState.RUNNING)
    for _ in range(int(seconds / 0.01)):
        if not any(w.state in busy for w in pilot.app.workers):
            break
        await asyncio.sleep(0.01)
    # The tables size their columns on an idle after their rows arrive (DataTable's own flag):
    # a snapshot taken before that shows squeezed columns.
    for _ in range(500):
        await pilot.pause()
        if not any(t._require_update_dimensions for t in pilot.app.query(DataTable)):
            break
    await pilot.pause()


async def wait_until(pilot, condition, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError("still waiting")


def rows(app, view: str) -> list[list[str]]:
    table = app.query_one(f"#{view}-view RowTable", RowTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def note(app, view: str) -> str:
    return str(app.query_one(f"#{view}-view .note", Static).render())


class DownFleet:
    """A connector whose hosts never answer: alpha refuses, the rest time out."""

    def __init__(self) -> None:
        self.closed = False

    async def run(self, host: Host, command: str, stdin: bytes = b"") -> Reply:
        if host.name == "alpha":
            return Reply(host, HostStatus.UNREACHABLE, "connection refused")
        return Reply(host, HostStatus.TIMEOUT, "timed out after 10s")

    async def close(self) -> None:
        self.closed = True


class HeldFleet(DownFleet):
    """alpha refuses at once; the other hosts wait for `answer` to be set, then time out."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = asyncio.Event()

    async def run(self, host: Host, command: str, stdin: bytes = b"") -> Reply:
        if host.name != "alpha":
            await self.answer.wait()
        return await super().run(host, command, stdin)


# -- Problems -------------------------------------------------------------------------------------


async def test_opens_on_problems_hosts_first_then_worst_first(history):
    app = app_for(history)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        found = rows(app, "problems")
        # The hosts' own findings first (they explain their jobs'), each part worst first.
        assert [(r[0], r[3]) for r in found] == [
            ("critical", "unreachable"),
            ("warning", "crontab_errors"),
            ("critical", "failed"),  # the sync's tier is critical
            ("warning", "never_ran"),  # the report's is normal
        ]
        kinds = {(r[1], r[3]) for r in found}
        assert {("bravo", "unreachable"), ("alpha", "failed"), ("alpha", "never_ran")} <= kinds
        assert ("alpha", "crontab_errors") in kinds
        failed = next(r for r in found if r[3] == "failed")
        assert failed[2] == "deploy: rsync -a /srv/ mirror:/srv/"
        # Not the whole evidence: its streak. Stored findings are judged over the scan's
        # window (8 days), so its count is all 100 failures of this episode.
        assert failed[5] == "100" and failed[7] == "failed ×100 since 11-21 (exit status 1)"
        # A long path loses its middle directories, never the script's name.
        never = next(r for r in found if r[3] == "never_ran")
        assert never[2] == "root: /usr/local/…/nightly-report --all"
        assert failed[6] == "15m ago"  # the last failure, relative to the audit's now
        assert next(r for r in found if r[3] == "unreachable")[6] == "just now"
        assert {r[4] for r in found} == {""}  # nobody acknowledged any
        assert note(app, "problems") == f"{len(found)} problems"


async def test_healthy_fleet_says_so(history):
    path, inventory = history
    charlie = [h for h in inventory.hosts if h.name == "charlie"]
    app = CronopsApp(
        path, inventory, charlie, scan_on_start=False, rescan_every=None, now=lambda: NOW
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert rows(app, "problems") == []
        text = note(app, "problems")
        assert "healthy since 11-21 12:00" in text
        assert "1 hosts, 1 entries, 1 runs checked" in text


def build_stopped_history(path: Path) -> tuple[Path, Inventory]:
    """alpha, whose cron daemon stopped 6 hours ago: its hourly backup and its sync ran until
    then."""
    store = Store(path)
    seen = iso(NOW - timedelta(days=3))
    backup = _entry("alpha", 1, "root", "0 * * * *", "/usr/local/bin/backup --all")
    sync = _entry("alpha", 2, "deploy", "*/15 * * * *", "rsync -a /srv/ mirror:/srv/")
    # As far back as the log goes (3 days): a scan judges its whole window.
    runs = [_run(backup, NOW - timedelta(hours=h), 60, 0) for h in range(6, 72)]
    runs += [_run(sync, NOW - timedelta(minutes=15 * q), 20, 0) for q in range(24, 288)]
    with store.transaction() as db:
        row = {"name": "alpha", "address": "10.0.0.1", "status": "ok", "zone": "UTC"}
        row |= {"ok_at": iso(NOW), "scanned_at": iso(NOW), "cron_running": 0}
        row |= {"coverage_start": seen, "logs": "/var/log/syslog", "ends_logged": 1}
        store.write_host_state(db, row | {"failures_logged": 1})
        store.write_entries(db, "alpha", [backup, sync], seen)
        store.write_runs(db, runs)
    store.close()
    judge_stored(path, [HOSTS[0]], POLICY, NOW)
    return path, Inventory(Path("hosts.toml"), [HOSTS[0]], policy=POLICY)


async def test_a_stopped_cron_is_one_problem_whose_jobs_show_under_it(tmp_path):
    app = app_for(build_stopped_history(tmp_path / "history.db"))
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        (stopped,) = rows(app, "problems")
        assert stopped[:4] == ["critical", "alpha", "▸ 2 jobs", "cron_not_running"]
        assert note(app, "problems") == "1 problems"
        await pilot.press("enter")  # shows its jobs under it, worst first
        found = rows(app, "problems")
        assert [r[2] for r in found] == [
            "▾ 2 jobs",
            "↳ deploy: rsync -a /srv/ mirror:/srv/",
            "↳ root: /usr/local/bin/backup --all",
        ]
        assert [r[3] for r in found[1:]] == ["missed", "missed"]
        assert [r[0] + r[1] for r in found[1:]] == ["", ""]
        assert [r[5] for r in found[1:]] == ["23", "5"]
        assert note(app, "problems") == "1 problems"
        await pilot.press("down", "down", "enter")  # a job under it opens as any job does
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.detail.entry.id == "a001"
        assert [f.kind for f in app.screen.detail.findings] == ["missed"]
        await pilot.press("escape", "space")  # space on a job folds its group, cursor on it
        assert [r[2] for r in rows(app, "problems")] == ["▸ 2 jobs"]
        assert app.query_one("#problems-view RowTable", RowTable).cursor_row == 0
        await pilot.press("slash")
        app.query_one("#filter", Input).value = "rsync"  # a job's words find it under its host
        await pilot.pause()
        assert [r[2] for r in rows(app, "problems")] == [
            "▸ 2 jobs",
            "↳ deploy: rsync -a /srv/ mirror:/srv/",
        ]


# -- Jobs -----------------------------------------------------------------------------------------


async def test_jobs_view_shows_state_last_and_next_run_in_host_zone(history):
    app = app_for(history)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        assert app.query_one("TabbedContent").active == "jobs"
        jobs = {r[-1]: r for r in rows(app, "jobs")}
        assert set(jobs) == {"a001", "a002", "a003", "b001", "c001"}
        assert jobs["a001"][:4] == ["ok", "alpha", "root", "0 * * * *"]
        assert jobs["a001"][5:9] == ["11-22 11:00 ok", "1m7s", "11-22 13:00", "Every hour"]
        assert jobs["a002"][0] == "failing" and jobs["a002"][5].endswith("failed")
        assert jobs["a003"][0] == "missed" and jobs["a003"][5] == "never seen"
        # The backup got faster hour by hour: its last durations, oldest first, fall.
        backup_trend = jobs["a001"][-2]
        assert len(backup_trend) == 3 and backup_trend[0] > backup_trend[-1]
        assert jobs["b001"][0] == "unknown"  # its host timed out: nothing is known since
        # charlie is in Berlin: 03:00 there, whatever the UTC time.
        assert jobs["c001"][7] == "11-23 03:00"


INVENTORY_TOML = """
[defaults]
grace = "5m"

[[hosts]]
name = "alpha"
address = "10.0.0.1"
tags = ["web", "prod"]

[[hosts]]
name = "bravo"
address = "10.0.0.2"
tags = ["db"]

[[hosts]]
name = "charlie"
address = "10.0.0.3"
tags = ["batch"]
timezone = "Europe/Berlin"

[[jobs]]
command = "backup"
max_duration = "30m"
runbook = "https://wiki/backup"
"""


async def test_cronops_jobs_json_carries_what_the_jobs_view_shows(
    history, tmp_path, capsys, monkeypatch
):
    path, _ = history
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(INVENTORY_TOML)
    monkeypatch.setattr(cli, "local_now", lambda: NOW)
    assert cli.main(["jobs", "--format", "json", "-i", str(inventory), "--db", str(path)]) == 0
    listed = {job["id"]: job for job in json.loads(capsys.readouterr().out)["jobs"]}

    assert listed["a001"]["state"] == "ok"
    assert listed["a001"]["last_run"] == {
        "started_at": "2026-11-22T11:00:00+00:00",
        "duration_s": 67.0,
        "outcome": "ok",
    }
    assert listed["a001"]["next_run"] == "2026-11-22T13:00:00+00:00"
    assert listed["a002"]["state"] == "failing"
    assert "exit status 1" in listed["a002"]["explanation"]
    assert (listed["a003"]["state"], listed["a003"]["last_run"]) == ("missed", None)
    assert listed["b001"]["state"] == "unknown"
    assert listed["c001"]["zone"] == "Europe/Berlin"
    assert listed["c001"]["next_run"] == "2026-11-23T03:00:00+01:00"

    app = app_for(history)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        shown = {r[-1]: r for r in rows(app, "jobs")}
    assert set(shown) == set(listed)
    for entry_id, job in listed.items():
        state, last, took, upcoming = (shown[entry_id][i] for i in (0, 5, 6, 7))
        zone = ZoneInfo(job["zone"])
        assert job["state"] == state
        if job["last_run"] is None:
            assert last == "never seen"
        else:
            started = datetime.fromisoformat(job["last_run"]["started_at"])
            assert last == f"{when(started, zone)} {job['last_run']['outcome']}"
            assert took == span(job["last_run"]["duration_s"])
        next_run = datetime.fromisoformat(job["next_run"]) if job["next_run"] else None
        assert upcoming == when(next_run, zone)


async def test_sort_keys_cycle_and_reverse(history):
    app = app_for(history)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        assert rows(app, "jobs")[0][1] == "alpha"  # by host
        await pilot.press("O")
        assert rows(app, "jobs")[0][1] == "charlie"
        await pilot.press("o")  # by user
        assert [r[2] for r in rows(app, "jobs")] == sorted(r[2] for r in rows(app, "jobs"))
        view = app.query_one("#jobs-view")
        view.sort_by(0)  # what a header click does: by state, the worst first
        assert rows(app, "jobs")[0][0] == "missed"


async def test_filter_matches_host_tag_user_command_and_escape_clears(history):
    app = app_for(history)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2", "slash")
        assert app.query_one("#filter", Input).has_focus
        for query, expected in (
            ("charlie", {"c001"}),
            ("batch", {"c001"}),  # a tag
            ("deploy", {"a002"}),  # a user
            ("backup", {"a001"}),  # command text
            ("alpha root", {"a001", "a003"}),  # every word must match
            ("failing", {"a002"}),  # a state
        ):
            app.query_one("#filter", Input).value = query
            await pilot.pause()
            assert {r[-1] for r in rows(app, "jobs")} == expected, query
        assert note(app, "jobs") == "1 of 5 entries match 'failing'"
        await pilot.press("escape")
        assert len(rows(app, "jobs")) == 5
        assert not app.query_one("#filter", Input).display


async def test_filter_matches_kind_on_problems(history):
    app = app_for(history)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", "n")  # typing works; the rest is set at once, to stay fast
        app.query_one("#filter", Input).value = "never_ran"
        await pilot.press("enter")
        assert [r[3] for r in rows(app, "problems")] == ["never_ran"]
        assert app.query_one("#problems-view RowTable").has_focus
        app.query_one("#filter", Input).value = "a002"  # the entry's id, as `cronops jobs` gives
        await pilot.pause()
        assert [r[3] for r in rows(app, "problems")] == ["failed"]


async def test_typing_on_narrows_and_deleting_widens_again(history):
    # A keystroke filters the last matches only: deleting one must look at every row again.
    app = app_for(history)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2", "slash", "a", "l")
        assert {r[-1] for r in rows(app, "jobs")} == {"a001", "a002", "a003", "b001"}  # --all
        await pilot.press("p")
        assert {r[-1] for r in rows(app, "jobs")} == {"a001", "a002", "a003"}
        await pilot.press("backspace", "backspace")
        assert len(rows(app, "jobs")) == 5


async def test_every_row_of_a_big_fleet_is_reachable_and_opens(tmp_path):
    # The table draws a screenful at a time, but holds all 10,000 rows: the cursor reaches the
    # last one, the table scrolls to it, and Enter opens that row's job.
    app = app_for(build_big_history(tmp_path / "history.db", 10_000))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, seconds=60)
        await pilot.press("2")
        table = app.query_one("#jobs-view RowTable", RowTable)
        assert table.row_count == 10_000
        sight = table.scrollable_content_region.height - 1  # rows under the header
        await pilot.press("pagedown")
        assert table.cursor_row == sight and table.scroll_y == sight
        await pilot.press("ctrl+end")
        last = table.row_count - 1
        assert table.cursor_row == last
        assert table.scroll_y == table.max_scroll_y == last - sight + 1
        shown = "".join(s.text for s in table.render_line(sight))  # the bottom line
        assert "/usr/bin/job --n" in shown
        for index in range(round(table.scroll_y), last + 1):  # columns widened to what is in sight
            cells = table.get_row_at(index)
            assert all(c.cell_len <= w for c, w in zip(cells, table.widths, strict=True))
        entry = str(table.get_row_at(last)[-1])
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.detail.entry.id == entry


async def test_a_big_fleet_shows_a_screenful_first_and_a_reload_never_shrinks_it(
    tmp_path, monkeypatch
):
    # The first reading shows a screenful before the rest; a reload (each second of a scan)
    # replaces the rows shown with the whole fleet's, never with a screenful again.
    monkeypatch.setattr("cronops.tui.data.FIRST_ROWS", 5)
    app = app_for(build_big_history(tmp_path / "history.db", 40))
    shown: list[int] = []
    show_fleet = app.show_fleet
    monkeypatch.setattr(
        app, "show_fleet", lambda fleet: (shown.append(len(fleet.jobs)), show_fleet(fleet))
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert shown[:2] == [5, 40]
        del shown[:]
        app.load()
        await settle(pilot)
        assert shown and set(shown) == {40}
        assert app.query_one("#jobs-view RowTable", RowTable).row_count == 40


async def test_a_history_that_cannot_be_read_says_so(history, monkeypatch):
    def broken(reader):
        raise OSError("disk on fire")

    monkeypatch.setattr("cronops.tui.data.FleetReader.facts", broken)
    app = app_for(history)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert app.is_running
        status = str(app.query_one("#status", Static).render())
        assert status == "could not read the history: disk on fire"


async def test_problems_count_the_runs_checked_only_for_a_healthy_fleet(history, monkeypatch):
    # Counting 5,000 hosts' day of runs takes longer than reading their findings: a fleet with
    # findings is shown without it (the note says how many problems, not how much was checked).
    counted = []
    run_count = History.run_count
    monkeypatch.setattr(History, "run_count", lambda *a: counted.append(a) or run_count(*a))
    app = app_for(history)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert rows(app, "problems") and not counted
        assert app.problems is not None and app.problems.runs_checked == 0


async def test_the_cursor_stays_on_its_row_when_the_history_is_read_again(history):
    app = app_for(history)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2", "down", "down", "down")
        view = app.query_one("#jobs-view", TableView)
        chosen = view.current_key()
        assert chosen == rows(app, "jobs")[3][-1]
        app.load()  # what a scan does as hosts answer
        await settle(pilot)
        assert view.current_key() == chosen and view.table.cursor_row == 3


async def test_clicks_sort_by_a_header_and_open_a_row_clicked_twice(history):
    app = app_for(history)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        table = app.query_one("#jobs-view RowTable", RowTable)
        await pilot.click(table, offset=(2, 0))  # the state column's label
        assert [r[0] for r in rows(app, "jobs")][:2] == ["missed", "failing"]
        third = rows(app, "jobs")[2][-1]
        await pilot.click(table, offset=(2, 3))
        assert table.cursor_row == 2 and not isinstance(app.screen, DetailScreen)
        await pilot.click(table, offset=(2, 3))
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.detail.entry.id == third


# -- Detail ---------------------------------------------------------------------------------------


async def test_enter_on_a_job_opens_its_detail_and_escape_goes_back(history):
    app = app_for(history)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", "enter")  # sorted by host: a001, the backup, is first
        assert isinstance(app.screen, DetailScreen)
        detail = app.screen.detail
        assert detail.entry.id == "a001"
        assert detail.text == "0 * * * * /usr/local/bin/backup --all"
        assert detail.described == "Every hour"
        assert [t.strftime("%H:%M") for t in detail.upcoming] == [
            "13:00",
            "14:00",
            "15:00",
            "16:00",
            "17:00",
        ]
        assert detail.policy.runbook == "https://wiki/backup"
        assert str(detail.policy.max_duration) == "0:30:00"
        runs = app.screen.query_one("#runs", DataTable)
        assert runs.row_count == 47
        assert [str(c) for c in runs.get_row_at(0)][:4] == [
            "11-22 11:00",
            "11-22 11:00:00",
            "1m7s",
            "ok",
        ]
        assert app.screen.query("#durations")
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


async def test_a_acknowledges_the_problem_at_the_cursor_with_a_note(history):
    from cronops.tui.screens.actions import ConfirmScreen

    path, _ = history
    app = app_for(history)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        app.query_one("#filter", Input).value = "rsync"
        await pilot.press("enter", "a")
        assert isinstance(app.screen, ConfirmScreen)
        said = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "Acknowledge finding" in said
        assert "critical failed on alpha: failed ×100 since 11-21" in said
        await pilot.press(*"mirror disk full", "enter")
        await settle(pilot)
        assert any("acknowledged finding" in n.message for n in app._notifications)
    history_read = History.open(path)
    try:
        (acked,) = history_read.incidents(["acknowledged"], now=NOW)
        assert (acked.entry_id, acked.kind, acked.ack_note) == (
            "a002",
            "failed",
            "mirror disk full",
        )
        assert acked.ack_by == cli_actor()
        (trail,) = history_read.actions()
        assert (trail["action"], trail["entry_id"], trail["result"]) == ("ack", "a002", "ok")
    finally:
        history_read.close()


async def test_a_on_a_job_under_a_stopped_cron_acknowledges_the_host_problem(tmp_path):
    path, inventory = build_stopped_history(tmp_path / "history.db")
    app = app_for((path, inventory))
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "down", "a")
        await pilot.press("enter")  # no note
        await settle(pilot)
    history_read = History.open(path)
    try:
        (acked,) = history_read.incidents(["acknowledged"], now=NOW)
        assert (acked.kind, acked.jobs, acked.ack_note) == (
            "cron_not_running",
            ("a002", "a001"),
            None,
        )
    finally:
        history_read.close()


async def test_enter_on_a_problem_opens_the_job_with_its_findings(history):
    app = app_for(history)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        app.query_one("#filter", Input).value = "rsync"
        await pilot.press("enter", "enter")
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.detail.entry.id == "a002"
        assert {f.kind for f in app.screen.detail.findings} == {"failed"}
        # The Problems view says the essential; the detail says it all, times in the job's zone.
        shown = str(app.screen.query_one(".findings", Static).render())
        # (×100: stored findings are judged over the scan's window, 8 days.)
        assert "critical failed ×100, last 11-22 11:45 UTC: 'rsync -a" in shown
        assert "It has failed 100 times in a row since 2026-11-21 11:00 UTC." in shown
        assert "The run records (cron's log or a wrapper) show: failed with exit status 1" in shown


def acknowledge_sync(path: Path) -> None:
    """alice is on the sync's failures until 16:00."""
    store = Store(path)
    try:
        (sync,) = [i for i in store.incidents(now=NOW) if i.entry_id == "a002"]
        store.acknowledge(sync.id, "alice@ops", "mirror disk full", NOW + timedelta(hours=4), NOW)
    finally:
        store.close()


async def test_an_acknowledged_problem_says_who_and_until_when_and_its_detail_the_note(history):
    acknowledge_sync(history[0])
    app = app_for(history)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        acks = {(r[1], r[3]): r[4] for r in rows(app, "problems")}
        assert acks.pop(("alpha", "failed")) == "✓ alice@ops until 11-22 16:00"
        assert set(acks.values()) == {""}
        await pilot.press("slash")
        app.query_one("#filter", Input).value = "rsync"
        await pilot.press("enter", "enter")
        assert isinstance(app.screen, DetailScreen)
        shown = str(app.screen.query_one(".findings", Static).render())
        assert (
            "✓ acknowledged by alice@ops at 11-22 12:00 until 11-22 16:00: mirror disk full"
            in shown
        )


async def test_enter_on_a_host_problem_shows_the_host(history):
    app = app_for(history)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # bravo unreachable: a host's problem, no job to open
        assert not isinstance(app.screen, DetailScreen)
        assert app.query_one("TabbedContent").active == "hosts"
        assert [r[0] for r in rows(app, "hosts")] == ["bravo"]


# -- Hosts ----------------------------------------------------------------------------------------


async def test_hosts_view_and_enter_lists_that_hosts_jobs(history):
    app = app_for(history)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        hosts = {r[0]: r for r in rows(app, "hosts")}
        assert hosts["alpha"][1:6] == ["ok", "ok", "+0s", "3", "3"]
        assert hosts["bravo"][1] == "timeout"
        assert hosts["bravo"][-1] == "connection timed out after 10s"
        assert hosts["charlie"][3] == "-1s"
        await pilot.press("down", "enter")  # bravo
        assert app.query_one("TabbedContent").active == "jobs"
        assert [r[-1] for r in rows(app, "jobs")] == ["b001"]


# -- Help and palette -----------------------------------------------------------------------------


async def test_help_lists_every_key_and_any_key_closes_it(history):
    app = app_for(history)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(str(s.render()) for s in app.screen.query(Static))
        for key in ("1", "2", "3", "/", "s", "o", "?", "q", "enter", "escape", "ctrl+p"):
            assert key in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_offers_every_action(history):
    app = app_for(history)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for title in ("Show problems", "Show jobs", "Show hosts", "Filter", "Scan now", "Keys"):
            assert title in titles
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Show hosts")
        command.callback()
        await pilot.pause()
        assert app.query_one("TabbedContent").active == "hosts"


async def test_the_action_keys_are_bound_to_the_actions(history):
    app = app_for(history)
    actions = {b.key: b.action for b in app.BINDINGS}
    assert {k: actions.get(k) for k in "rpeul"} == {
        "r": "rerun",
        "p": "pause",
        "e": "edit",
        "u": "undo",
        "l": "trail",
    }


# -- Scanning -------------------------------------------------------------------------------------


async def test_scan_shows_progress_and_host_errors_without_crashing(history):
    fleet = DownFleet()
    app = app_for(history, connector_factory=lambda: fleet)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await settle(pilot)
        assert fleet.closed
        hosts = {r[0]: r for r in rows(app, "hosts")}
        assert hosts["alpha"][1] == "unreachable" and "refused" in hosts["alpha"][-1]
        assert hosts["charlie"][1] == "timeout"
        notes = [n.message for n in app._notifications]
        assert any("scanned 3 hosts, 3 failed" in m for m in notes)


async def test_scan_progress_line_names_the_host(history):
    app = app_for(history, connector_factory=DownFleet)
    seen: list[str] = []
    async with app.run_test(size=(120, 30)) as pilot:
        original = app.update_status

        def spy() -> None:
            original()
            seen.append(str(app.query_one("#status", Static).render()))

        app.update_status = spy
        app.action_scan()
        await settle(pilot)
    assert any(s.startswith("scanning 1/3 · ") for s in seen)
    assert any("alpha: unreachable (connection refused)" in s for s in seen)


async def test_scan_progress_bar_shows_while_scanning_with_the_hosts_that_failed(history):
    fleet = HeldFleet()
    app = app_for(history, connector_factory=lambda: fleet)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        progress = app.query_one("#scan-progress", ScanProgress)
        assert not progress.display
        await pilot.press("s")
        await wait_until(pilot, lambda: progress.bar.progress == 1)
        await pilot.pause()
        assert progress.display and progress.region.y == 22 and progress.region.width > 10
        assert progress.bar.total == 3
        assert str(progress.query_one(".failed", Static).render()) == "✗ alpha"
        fleet.answer.set()
        await settle(pilot)
        await settle(pilot)
        assert fleet.closed
        assert not progress.display
        assert any("scanned 3 hosts, 3 failed" in n.message for n in app._notifications)


async def test_a_broken_scan_is_reported_not_raised(history):
    def broken():
        raise RuntimeError("no ssh agent")

    app = app_for(history, connector_factory=broken)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        app.action_scan()
        await settle(pilot)
        assert app.is_running
        assert len(rows(app, "jobs")) == 5
        assert not app.query_one("#scan-progress").display


async def test_scan_on_start_runs_once_mounted(history):
    fleet = DownFleet()
    app = app_for(history, scan_on_start=True, connector_factory=lambda: fleet)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await settle(pilot)
        assert fleet.closed


async def test_fits_80x24(history):
    app = app_for(history)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.query_one("#problems-view RowTable", RowTable)
        assert table.region.height >= 10
        assert app.query_one("#status").region.y == 22  # above the footer


async def test_periodic_rescans_never_overlap(history):
    made: list[DownFleet] = []

    def factory() -> DownFleet:
        made.append(DownFleet())
        return made[-1]

    app = app_for(history, rescan_every=0.05, connector_factory=factory)
    async with app.run_test(size=(120, 30)) as pilot:
        # Waited for rather than timed: on a loaded machine one rescan can outlast a fixed pause.
        await wait_until(pilot, lambda: len(made) >= 3, seconds=60)
        assert all(fleet.closed for fleet in made[:-1])  # each finished before the next began


async def test_a_big_fleet_is_judged_in_a_worker_process(history, monkeypatch):
    # The threshold lowered, so this small history takes the path a 10k-entry one takes.
    monkeypatch.setattr("cronops.tui.data.JUDGE_IN_PROCESS_FROM", 1)
    app = app_for(history)
    assert app._pool is not None
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, seconds=30)
        assert len(rows(app, "problems")) == 4
        assert {r[0] for r in rows(app, "jobs")} >= {"ok", "failing", "missed"}


async def test_brackets_in_a_filter_or_an_error_are_text_not_markup(history):
    class Refusing(DownFleet):
        async def run(self, host: Host, command: str, stdin: bytes = b"") -> Reply:
            return Reply(host, HostStatus.UNREACHABLE, "[Errno 111] Connect call failed")

    app = app_for(history, connector_factory=Refusing)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        app.query_one("#filter", Input).value = "[/b"
        await pilot.pause()
        assert "'[/b'" in note(app, "problems")
        await pilot.press("escape")
        app.action_scan()
        await settle(pilot)
        await settle(pilot)
        await pilot.press("3")
        assert "[Errno 111]" in {r[0]: r for r in rows(app, "hosts")}["alpha"][-1]


def _alpha_reader(tmp_path, entries, *, now, covered_from, runs=()):
    """A Jobs-view reader of alpha alone: scanned at `now`, its log read from `covered_from`."""
    from cronops.tui.data import FleetReader

    store = Store(tmp_path / "h.db")
    with store.transaction() as db:
        row = {"name": "alpha", "address": "10.0.0.1", "status": "ok", "zone": "UTC"}
        row |= {"ok_at": iso(now), "scanned_at": iso(now), "cron_running": 1}
        row |= {"coverage_start": iso(covered_from), "logs": "/var/log/syslog"}
        store.write_host_state(db, row)
        store.write_entries(db, "alpha", entries, iso(covered_from))
        store.write_runs(db, list(runs))
    store.close()
    inventory = Inventory(path=tmp_path / "hosts.toml", hosts=[HOSTS[0]], policy=POLICY)
    return FleetReader(History.open(tmp_path / "h.db"), inventory, [HOSTS[0]], lambda: now)


def test_a_job_whose_latest_run_is_still_in_grace_is_ok_not_missed(tmp_path):
    # Every minute; the scan came 30 s after the 12:00 run, so 12:00 is not yet due but 11:59 is:
    # its state needs the run before the latest one, not just the latest.
    beat = _entry("alpha", 9, "root", "* * * * *", "/usr/bin/heartbeat")
    runs = [_run(beat, NOW - timedelta(minutes=m) + timedelta(seconds=1), 1, 0) for m in range(30)]
    reader = _alpha_reader(
        tmp_path,
        [beat],
        now=NOW + timedelta(seconds=30),
        covered_from=NOW - timedelta(hours=1),
        runs=[r | {"pid": 100 + i} for i, r in enumerate(runs)],
    )
    fleet = reader.read()
    reader.judge_entries(fleet)
    assert [job.status.state for job in fleet.jobs] == ["ok"]


def test_a_pause_past_its_until_is_a_problem_and_says_so_in_the_jobs_view(tmp_path):
    # The store keeps the pause marker as JSON: the audit and the Jobs view both read it back.
    ended = NOW - timedelta(hours=3)
    pause = {"by": "alice@ops", "at": iso(ended - timedelta(hours=4)), "reason": "disk full"}
    report = _entry("alpha", 3, "root", "30 2 * * *", "/opt/report.sh")
    report |= {"disabled": 1, "paused": json.dumps(pause | {"until": iso(ended)})}
    reader = _alpha_reader(tmp_path, [report], now=NOW, covered_from=NOW - timedelta(days=3))
    fleet = reader.read()
    reader.judge_entries(fleet)
    (job,) = fleet.jobs
    assert job.status.state == "paused"
    assert "until 2026-11-22 09:00 UTC; that was 3h ago" in job.status.explanation
    judge_stored(tmp_path / "h.db", [HOSTS[0]], POLICY, NOW)
    problems = reader.problems(NOW)
    assert [(p.kind, p.entry_id) for p in problems.rows] == [("pause_expired", "a003")]
    detail = reader.job_detail("a003")  # the evidence in full: in the job's detail
    assert detail is not None
    assert "(reason: disk full)" in detail.findings[0].evidence


async def test_a_job_detail_counts_its_runs_older_than_the_retention_by_day(history):
    path, _ = history
    store = Store(path)
    backup = _entry("alpha", 1, "root", "0 * * * *", "/usr/local/bin/backup --all")
    old = datetime(2026, 10, 1, tzinfo=UTC)
    with store.transaction() as db:
        store.write_runs(
            db, [_run(backup, old + timedelta(hours=h), 60, h % 12) for h in range(24)]
        )
    prune(store, NOW)
    store.close()
    app = app_for(history)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", "enter")
        assert app.screen.detail.entry.id == "a001"
        days = app.screen.query_one("#days", Static)
        assert str(days.render()) == (
            "Earlier  24 runs from 2026-10-01 counted by day (22 failed, 0 killed, 0 unknown) "
            "on 1 days, the longest 1m"
        )
        assert app.screen.query_one("#runs", DataTable).row_count == 47  # the raw runs alone


async def test_a_scan_in_the_tui_folds_the_runs_past_the_retention(history, monkeypatch):
    path, _ = history
    store = Store(path)
    backup = _entry("alpha", 1, "root", "0 * * * *", "/usr/local/bin/backup --all")
    old = datetime(2026, 10, 1, tzinfo=UTC)
    with store.transaction() as db:
        store.write_runs(db, [_run(backup, old + timedelta(hours=h), 60, 0) for h in range(5)])
    store.close()
    monkeypatch.setattr("cronops.tui.app.FOLD_EVERY_S", 0.0)  # else 5 minutes after opening
    app = app_for(history, scan_on_start=True, connector_factory=DownFleet)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await wait_until(pilot, lambda: History.open(path).entry_run_days("a001"))
    (day,) = History.open(path).entry_run_days("a001")
    assert (day.runs, day.ok) == (5, 5)


async def test_the_status_line_shows_a_route_that_watch_failed_to_reach(history):
    path, _ = history
    store = Store(path)
    store.intend(
        [
            {
                "route": "notify:1",
                "shown": "json://hook:****@10.0.0.9/alerts",
                "incident_id": 1,
                "episode": "2026-11-21T11:00:00.000000Z",
                "event": "opened",
                "severity": "critical",
                "state": "pending",
                "attempts": 0,
                "decided_at": "2026-11-21T11:00:00.000000Z",
            }
        ]
    )
    (delivery,) = store.undelivered()
    store.delivery_failed([delivery.id], "Connection refused", NOW, attempts=1)
    store.close()
    app = app_for(history)
    async with app.run_test(size=(200, 30)) as pilot:
        await settle(pilot)
        status = str(app.query_one("#status", Static).render())
        assert "notify FAILING: json://hook:****@10.0.0.9/alerts (Connection refused)" in status


async def test_problems_are_shown_without_parsing_any_findings_json_its_detail_does(
    history, monkeypatch
):
    # Parsing each stored finding (evidence and all) was most of the Problems view's reading at
    # 6,000 findings: its rows come from the incidents' columns, the finding in full from the
    # job's detail.
    parsed = []
    finding = store_module._finding
    monkeypatch.setattr(store_module, "_finding", lambda data: parsed.append(data) or finding(data))
    app = app_for(history)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert ("alpha", "failed", "100") in {(r[1], r[3], r[5]) for r in rows(app, "problems")}
        assert parsed == []
        await pilot.press("slash")
        app.query_one("#filter", Input).value = "rsync"
        await pilot.press("enter", "enter")
        assert isinstance(app.screen, DetailScreen)
        assert parsed
        shown = str(app.screen.query_one(".findings", Static).render())
        assert "The run records (cron's log or a wrapper) show: failed with exit status 1" in shown


def test_problem_rows_say_what_the_stored_findings_say(tmp_path):
    # The Problems table's narrow read against the findings in full: the same incidents, and
    # each column the table shows the same, times in the job's zone; an acknowledgement only
    # while it stands (bob's ended at 11:00), a stopped cron's jobs under it.
    path, _ = build_history(tmp_path / "history.db")
    stopped = build_stopped_history(tmp_path / "stopped.db")[0]
    acknowledge_sync(path)
    store = Store(path)
    try:
        report = next(i for i in store.incidents(now=NOW) if i.entry_id == "a003")
        store.acknowledge(report.id, "bob@ops", None, NOW - timedelta(hours=1), NOW)
    finally:
        store.close()
    for db in (path, stopped):
        history_read = History.open(db)
        try:
            names = [h.name for h in HOSTS]
            full = history_read.incident_findings(["open", "acknowledged"], names, NOW)
            narrow = history_read.problem_rows(names, NOW)
        finally:
            history_read.close()
        assert len(narrow) == len(full) > 0
        by_id = {row["incident_id"]: row for row in narrow}
        for incident, finding in full:
            row = by_id[incident.id]
            shown = ("host", "entry_id", "kind", "severity", "count", "summary", "last_at")
            assert [row[k] for k in shown] == [getattr(finding, k) for k in shown]
            assert row["last_at"].tzinfo == finding.last_at.tzinfo
            acked = incident.state == "acknowledged"
            assert (row["ack_by"], row["ack_until"]) == (
                (incident.ack_by, incident.ack_until) if acked else (None, None)
            )
            assert row["jobs"] == finding.jobs
    assert {row["ack_by"] for row in narrow} == {None}  # the stopped cron's: nobody's on it
