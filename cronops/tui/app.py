"""The cronops app: three views over the fleet (Problems, Jobs, Hosts), a filter, job details,
and scans in the background that refresh the views as each host answers.

`CronopsApp` is the one way in, for the CLI and the tests alike: the data source, the clock and
the connector are passed in, so tests pin the clock and never touch SSH."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from multiprocessing import resource_tracker
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    Static,
    TabbedContent,
    TabPane,
)
from textual.worker import Worker, WorkerState, get_current_worker

from cronops.audit import AuditResult
from cronops.inventory import Host, Inventory
from cronops.scan import HostScan, scan_fleet
from cronops.store import Store
from cronops.transport import Connector, connector
from cronops.tui import data
from cronops.tui.data import Fleet, FleetReader, ReadStore, problems_by_host
from cronops.tui.screens.detail import DetailScreen
from cronops.tui.screens.help import HelpScreen
from cronops.tui.screens.hosts import HostsView
from cronops.tui.screens.jobs import JobsView
from cronops.tui.screens.problems import ProblemsView
from cronops.tui.widgets.format import when
from cronops.tui.widgets.table import TableView

DEFAULT_RESCAN_S = 300.0
RELOAD_S = 1.0
VIEWS = ("problems", "jobs", "hosts")


class CronopsApp(App[None]):
    CSS_PATH = "cronops.tcss"
    TITLE = "cronops"
    # The tooltip is the help screen's line for the key: say what it is for, in a few words.
    BINDINGS: ClassVar[list[Binding]] = [
        Binding(
            "1", "show('problems')", "Problems", tooltip="findings across the fleet, worst first"
        ),
        Binding("2", "show('jobs')", "Jobs", tooltip="each entry with its last and next run"),
        Binding("3", "show('hosts')", "Hosts", tooltip="reachability, cron daemon, clock skew"),
        Binding(
            "slash",
            "filter",
            "Filter",
            key_display="/",
            tooltip="filter by host, tag, user, command or kind",
        ),
        Binding("s", "scan", "Scan now", tooltip="scan every host now, in the background"),
        Binding("o", "sort", "Sort", tooltip="sort by the next column"),
        Binding("O", "reverse", "Reverse", show=False, tooltip="reverse the sort"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        store_path: Path,
        inventory: Inventory,
        hosts: Sequence[Host],
        *,
        scan_on_start: bool = True,
        rescan_every: float | None = DEFAULT_RESCAN_S,
        now: Callable[[], datetime] | None = None,
        connector_factory: Callable[[], Connector] | None = None,
    ) -> None:
        super().__init__()
        self.store_path = store_path
        self.inventory = inventory
        self.hosts = list(hosts)
        self.scan_on_start = scan_on_start
        self.rescan_every = rescan_every
        self.now = now or (lambda: datetime.now().astimezone())
        self.connector_factory = connector_factory or connector
        self.store = Store(store_path)
        self.reader = FleetReader(self.store, inventory, self.hosts, self.now)
        self.fleet: Fleet | None = None
        self.audit: AuditResult | None = None
        self._pool = _judging_pool(self.store)
        self.scan_line = ""
        self.sub_title = f"{len(self.hosts)} hosts"

    # -- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="problems"):
            with TabPane("1 Problems", id="problems"):
                yield ProblemsView(id="problems-view")
            with TabPane("2 Jobs", id="jobs"):
                yield JobsView(id="jobs-view")
            with TabPane("3 Hosts", id="hosts"):
                yield HostsView(id="hosts-view")
        yield Input(placeholder="filter: host, tag, user, command, kind", id="filter")
        yield Static("reading the history…", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.load()
        if self.scan_on_start:
            self.scan()
        if self.rescan_every:
            self.set_interval(self.rescan_every, self.rescan)

    def rescan(self) -> None:
        # A scan of a big fleet may outlast the period: let it finish rather than restart it.
        if not self.scanning:
            self.scan()

    @property
    def scanning(self) -> bool:
        return any(w.group == "scan" and not w.is_finished for w in self.workers)

    def on_unmount(self) -> None:
        self.store.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def view(self, name: str | None = None) -> TableView:
        name = name or self.query_one(TabbedContent).active or "problems"
        return self.query_one(f"#{name}-view", TableView)

    def views(self) -> Iterable[TableView]:
        return (self.view(name) for name in VIEWS)

    # -- reading the history -------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def load(self) -> None:
        """Read in three steps, each shown as soon as it is ready: hosts and entries (a few index
        lookups), then entry states, then the audit, a batch of hosts at a time."""
        worker = get_current_worker()
        store = ReadStore(self.store_path)
        try:
            reader = FleetReader(store, self.inventory, self.hosts, self.now)
            fleet = reader.read()
            if worker.is_cancelled:
                return
            self.call_from_thread(self.show_fleet, fleet)
            if self._pool is not None:
                self._judge_elsewhere(self._pool, fleet, worker)
            else:
                self._judge_here(reader, fleet, worker)
        finally:
            store.close()

    def _judge_here(self, reader: FleetReader, fleet: Fleet, worker: Worker) -> None:
        """A small fleet: judged on this thread in a blink."""
        reader.judge_entries(fleet)
        if worker.is_cancelled:
            return
        self.call_from_thread(self.show_fleet, fleet)
        for audit in reader.judge_in_batches(fleet.now):
            if worker.is_cancelled:
                return
            self.call_from_thread(self.show_audit, audit, len(audit.hosts) == len(self.hosts))

    def _judge_elsewhere(self, pool: ProcessPoolExecutor, fleet: Fleet, worker: Worker) -> None:
        """A big fleet: judged in a worker process, so the UI keeps the GIL (and answers keys)."""
        args = (self.store_path, self.inventory)
        states = pool.submit(data.entry_states, *args, self.hosts, fleet.now)
        batches = [
            pool.submit(data.audit_hosts, *args, self.hosts[i : i + data.JUDGE_BATCH], fleet.now)
            for i in range(0, len(self.hosts), data.JUDGE_BATCH)
        ]
        try:
            data.apply_states(fleet, states.result())
            if worker.is_cancelled:
                return
            self.call_from_thread(self.show_fleet, fleet)
            results = []
            for batch in batches:
                results.append(batch.result())
                if worker.is_cancelled:
                    return
                audit = data.merged(results)
                self.call_from_thread(self.show_audit, audit, len(results) == len(batches))
        except (CancelledError, BrokenProcessPool):
            return  # the app is closing: the pool was shut down under us
        finally:
            for future in (states, *batches):
                future.cancel()  # a newer load has begun: its answers are the ones to wait for

    def show_fleet(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.query_one(JobsView).show(fleet.jobs)
        self.query_one(HostsView).show(fleet.hosts)
        self.update_status()

    def show_audit(self, audit: AuditResult, complete: bool = True) -> None:
        self.audit = audit
        tags = {h.name: " ".join(h.tags) for h in self.hosts}
        self.query_one(ProblemsView).show_audit(audit, tags, len(self.hosts), complete)
        hosts = self.query_one(HostsView)
        hosts.problems = problems_by_host(audit.findings)
        hosts.refill()

    def update_status(self) -> None:
        fleet = self.fleet
        if self.scan_line:
            text = self.scan_line
        elif fleet is None:
            text = "reading the history…"
        else:
            scanned = [h.scanned_at for h in fleet.hosts if h.scanned_at]
            last = when(max(scanned)) if scanned else "never"
            down = sum(1 for h in fleet.hosts if h.facts.status != "ok")
            text = f"{len(fleet.hosts)} hosts ({down} not ok) · {len(fleet.jobs)} entries"
            text += f" · last scan {last}"
        self.query_one("#status", Static).update(Text(text))  # host errors hold [brackets]

    # -- scanning ------------------------------------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="scan")
    async def scan(self) -> None:
        """Scan the fleet; each host that answers is stored, then the views are read again."""
        total = len(self.hosts)
        if not total:
            return
        self.scan_line = f"scanning 0/{total}"
        self.update_status()
        # A connection of its own: the scan writes on a worker thread while the views read.
        store = Store(self.store_path)
        fleet = self.connector_factory()
        done, shown_at = 0, 0.0
        failed: list[str] = []
        try:
            async for outcome in scan_fleet(self.hosts, store, fleet, self.inventory.concurrency):
                done += 1
                self.scan_line = f"scanning {done}/{total} · {_outcome(outcome)}"
                if not outcome.ok:
                    failed.append(outcome.host.name)
                self.update_status()
                # Read the history again as hosts answer, at most once a second (and at the end).
                if time.monotonic() - shown_at > RELOAD_S or done == total:
                    shown_at = time.monotonic()
                    self.load()
        finally:
            await fleet.close()
            store.close()
        failures = f", {len(failed)} failed ({', '.join(failed[:3])})" if failed else ""
        self.notify(
            f"scanned {done} hosts{failures}", severity="warning" if failed else "information"
        )
        self.scan_line = ""
        self.update_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A scan that breaks says so on the status line; the views keep the history they have.
        if event.state != WorkerState.ERROR or not self.is_running:
            return  # (a reader cut short by quitting is no news)
        if event.worker.group == "scan":
            self.scan_line = f"scan failed: {_why(event.worker.error)}"
            self.update_status()
            self.scan_line = ""
        elif event.worker.group == "load":
            self.query_one("#status", Static).update(
                Text(f"could not read the history: {_why(event.worker.error)}")
            )

    # -- keys and actions ----------------------------------------------------------------------

    def action_show(self, name: str) -> None:
        self.query_one(TabbedContent).active = name
        self.view(name).table.focus()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.view().table.focus()

    def action_scan(self) -> None:
        if self.scanning:
            self.notify("a scan is already running", timeout=2)
        else:
            self.scan()

    def action_sort(self) -> None:
        self.view().next_sort()

    def action_reverse(self) -> None:
        view = self.view()
        view.sort_by(view.sort_column)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS))  # type: ignore[arg-type]

    def action_open(self) -> None:
        """Enter: a job's detail, from Jobs or Problems; on a host (or a host's problem), the
        host's jobs (or the host)."""
        view = self.view()
        row = view.current()
        if row is None:
            return
        if isinstance(view, HostsView):
            self.show_filtered("jobs", row.host.name)
            return
        entry_id = row.entry.id if isinstance(view, JobsView) else row.entry_id
        if entry_id is None:  # a host's own problem: show the host
            self.show_filtered("hosts", row.host)
            return
        detail = self.reader.job_detail(entry_id, self.audit.findings if self.audit else [])
        if detail is None:
            self.notify("that entry is no longer in the history", severity="warning")
            return
        self.push_screen(DetailScreen(detail))

    def show_filtered(self, name: str, query: str) -> None:
        self.action_show(name)
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = query

    @on(DataTable.RowSelected)
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        if isinstance(self.screen, DetailScreen):
            return
        event.stop()
        self.action_open()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        # Only the view in sight is filled per keystroke; the others when their tab opens.
        active = self.view()
        for view in self.views():
            view.set_query(event.value, refill=view is active)

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.view().table.focus()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        view = self.view()
        if view.stale:
            view.refill()
        view.table.focus()

    def on_key(self, event) -> None:
        # Escape clears the filter wherever the focus is (a binding would lose to the Input).
        if event.key == "escape" and self.screen is self.screen_stack[0]:
            box = self.query_one("#filter", Input)
            if box.display or box.value:
                event.stop()
                self.action_clear_filter()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette offers every action by name, besides Textual's own (theme, quit...)."""
        yield from super().get_system_commands(screen)
        for name, what in (
            ("problems", "findings, worst first"),
            ("jobs", "every entry"),
            ("hosts", "reachability and daemon"),
        ):
            yield SystemCommand(f"Show {name}", what, lambda n=name: self.action_show(n))
        yield SystemCommand(
            "Filter", "filter by host, tag, user, command or kind", self.action_filter
        )
        yield SystemCommand("Clear filter", "show every row again", self.action_clear_filter)
        yield SystemCommand("Scan now", "scan every host in the background", self.action_scan)
        yield SystemCommand("Sort by the next column", "in the current view", self.action_sort)
        yield SystemCommand("Reverse the sort", "in the current view", self.action_reverse)
        yield SystemCommand("Open", "the job under the cursor", self.action_open)
        yield SystemCommand("Keys", "every key cronops answers to", self.action_help)

    def watch_theme(self) -> None:
        # Cell colours are taken from the theme when rows are drawn: draw them again.
        if self.fleet is not None:
            for view in self.views():
                view.refill()


def _why(error: BaseException | None) -> str:
    return str(error) or type(error).__name__


def _judging_pool(store: Store) -> ProcessPoolExecutor | None:
    """A worker process for judging, when the history is big enough to be worth one.

    Made before the app runs: multiprocessing's resource tracker is started with our real
    stderr, which Textual replaces while it runs (spawning later fails on its file number)."""
    present = store.rows("select count(*) as n from entries where present = 1")[0]["n"]
    if present < data.JUDGE_IN_PROCESS_FROM:
        return None
    resource_tracker.ensure_running()
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


def _outcome(outcome: HostScan) -> str:
    if outcome.ok:
        return f"{outcome.host.name}: ok, {outcome.entries} entries, {outcome.new_runs} new runs"
    return f"{outcome.host.name}: {outcome.status}" + (
        f" ({outcome.error})" if outcome.error else ""
    )
