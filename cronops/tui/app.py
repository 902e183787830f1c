"""The cronops app: three views over the fleet (Problems, Jobs, Hosts), a filter, job details,
and scans in the background that refresh the views as each host answers.

`CronopsApp` is the one way in, for the CLI and the tests alike: the data source, the clock and
the connector are passed in, so tests pin the clock and never touch SSH."""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from multiprocessing import resource_tracker
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import (
    Footer,
    Header,
    Input,
    Static,
    TabbedContent,
    TabPane,
)
from textual.worker import Worker, WorkerState, get_current_worker

from cronops import collector
from cronops.actions import (
    ActionError,
    Change,
    Decide,
    Done,
    Ending,
    Kill,
    LiveRun,
    Target,
    actor,
    apply,
    find_target,
    kill_run,
    plan_kill,
    plan_pause,
    plan_resume,
    plan_undo,
    record_refusal,
    rerun,
)
from cronops.inventory import Host, Inventory
from cronops.report import acknowledged
from cronops.retention import AFTER_SCAN_S, prune
from cronops.scan import DEFAULT_WINDOW, HostScan, scan_fleet
from cronops.store import History, Store
from cronops.transport import Connector, OutputSink, connector
from cronops.tui import data
from cronops.tui.data import Fleet, FleetReader, Problems, problems_by_host
from cronops.tui.screens.actions import (
    ChooseRunScreen,
    ConfirmScreen,
    EditScreen,
    RerunScreen,
    TrailScreen,
)
from cronops.tui.screens.detail import DetailScreen
from cronops.tui.screens.help import HelpScreen
from cronops.tui.screens.hosts import HostsView
from cronops.tui.screens.jobs import JobsView
from cronops.tui.screens.problems import ProblemsView
from cronops.tui.widgets.format import when
from cronops.tui.widgets.progress import ScanProgress
from cronops.tui.widgets.rowtable import RowTable
from cronops.tui.widgets.table import TableView
from cronops.visible import visible

if TYPE_CHECKING:  # the demo's catalog is imported only by those who open it
    from cronops.demo import DemoFleet

DEFAULT_RESCAN_S = 300.0
RELOAD_S = 1.0
# The history's folding after a scan, at most this often: the first time this long after the app
# opened, so that opening it (and its first scan) is never slowed by it.
FOLD_EVERY_S = 300.0
VIEWS = ("problems", "jobs", "hosts")


class CronopsApp(App[None]):
    CSS_PATH = "cronops.tcss"
    TITLE = "cronops"
    # The tooltip is the help screen's line for the key: say what it is for, in a few words.
    BINDINGS: ClassVar[list[BindingType]] = [
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
        Binding(
            "space",
            "expand",
            "Expand",
            show=False,
            tooltip="show or hide the jobs under a ▸ problem",
        ),
        Binding("s", "scan", "Scan now", tooltip="scan every host now, in the background"),
        Binding("o", "sort", "Sort", tooltip="sort by the next column"),
        Binding("O", "reverse", "Reverse", show=False, tooltip="reverse the sort"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("r", "rerun", "Rerun", tooltip="run the entry now, as its user (asks first)"),
        Binding(
            "k",
            "kill",
            "Kill",
            show=False,
            tooltip="stop its run still running (asks first)",
        ),
        Binding(
            "p", "pause", "Pause/resume", tooltip="pause the entry with a reason, or resume it"
        ),
        Binding("e", "edit", "Edit", tooltip="change its schedule or command (shows the diff)"),
        Binding(
            "a",
            "ack",
            "Ack",
            show=False,
            tooltip="acknowledge the problem: someone is on it (asks a note)",
        ),
        Binding("u", "undo", "Undo", show=False, tooltip="undo cronops' last change to the entry"),
        Binding("l", "trail", "Log", show=False, tooltip="the audit trail of every action"),
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
        window: timedelta = DEFAULT_WINDOW,
        demo: bool = False,
    ) -> None:
        super().__init__()
        self.window = window
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
        self.problems: Problems | None = None
        self._pool = _judging_pool(self.store)
        self.scan_line = ""
        self.quitting = False  # asked to quit while a rerun ran: quit once it has ended
        self.folded_at = time.monotonic()
        self.sub_title = f"{len(self.hosts)} hosts"
        if demo:
            self.title = "cronops DEMO"
            self.sub_title += " · a made-up fleet in a temporary directory"

    @classmethod
    def on_demo(
        cls, demo: DemoFleet, clock: Callable[[], datetime] | None = None, **options
    ) -> CronopsApp:
        """The app on the built-in demo fleet: its hosts, scan window and transport, labelled
        DEMO, at the time `clock` says (the wall clock by default)."""
        return cls(
            demo.db_path,
            demo.inventory,
            demo.inventory.hosts,
            now=clock,
            connector_factory=lambda: demo.connector(clock),
            window=demo.window,
            demo=True,
            **options,
        )

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
        with Horizontal(id="statusbar"):
            yield ScanProgress(id="scan-progress")
            yield Static("reading the history…", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.load()
        if self.scan_on_start:
            self.scan()
        if self.rescan_every:
            self.set_interval(self.rescan_every, self.rescan)
        # SIGTERM quits as q does (Textual leaves it to Python, which would end the process
        # on the spot, the terminal in raw mode and a rerun's job unrecorded).
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.action_quit)

    def rescan(self) -> None:
        # A scan of a big fleet may outlast the period: let it finish rather than restart it.
        if not self.scanning:
            self.scan()

    @property
    def scanning(self) -> bool:
        return any(w.group == "scan" and not w.is_finished for w in self.workers)

    def on_unmount(self) -> None:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
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
        """Read in steps, each shown as soon as it is ready: the findings the scans stored
        (Problems, where the app opens: one query), then the hosts' facts, hosts and entries
        with their last runs (a few index lookups each; the first time, a screenful of them
        first), then entry states (judged)."""
        worker = get_current_worker()
        history = History.open(self.store_path)
        try:
            reader = FleetReader(history, self.inventory, self.hosts, self.now)
            # a million objects that all live on: the collector's passes would free nothing
            with collector.paused():  # until show_fleet has moved the reading out of its way
                self.call_from_thread(self.show_problems, reader.problems(self.now()))
                if _cancelled(worker):
                    return
                facts = reader.facts()
                # A screenful first, the first time; later readings replace the rows shown.
                fleet = reader.read(data.FIRST_ROWS if self.fleet is None else -1, facts)
                if _cancelled(worker):
                    return
                self.call_from_thread(self.show_fleet, fleet)
                if not fleet.whole:
                    fleet = reader.read(facts=facts)
                    if _cancelled(worker):
                        return
                    self.call_from_thread(self.show_fleet, fleet)
            if self._pool is not None:
                self._judge_elsewhere(self._pool, fleet, worker)
            else:
                self._judge_here(reader, fleet, worker)
        finally:
            history.close()

    def _judge_here(self, reader: FleetReader, fleet: Fleet, worker: Worker) -> None:
        """A small fleet: judged on this thread in a blink."""
        reader.judge_entries(fleet)
        if _cancelled(worker):
            return
        self.call_from_thread(self.show_fleet, fleet)

    def _judge_elsewhere(self, pool: ProcessPoolExecutor, fleet: Fleet, worker: Worker) -> None:
        """A big fleet: judged in a worker process, so the UI keeps the GIL (and answers keys)."""
        states = pool.submit(
            data.entry_states, self.store_path, self.inventory, self.hosts, fleet.now
        )
        try:
            data.apply_states(fleet, states.result())
            if _cancelled(worker):
                return
            self.call_from_thread(self.show_fleet, fleet)
        except (CancelledError, BrokenProcessPool):
            return  # the app is closing: the pool was shut down under us
        finally:
            states.cancel()  # a newer load has begun: its answer is the one to wait for

    def show_fleet(self, fleet: Fleet) -> None:
        # The first reading (a screenful, then the whole) is all alive: no full pass for it.
        fresh = self.fleet is None or not self.fleet.whole
        self.fleet = fleet
        self.query_one(JobsView).show(fleet.jobs)
        self.query_one(HostsView).show(fleet.hosts)
        self.update_status()
        collector.freeze(clean=not fresh)  # full collections stop walking it (~120 ms each)

    def show_problems(self, problems: Problems) -> None:
        # Not frozen here (counting the frozen objects, ~40 ms at 10x, would delay their paint):
        # the reading's show_fleet freezes them with the fleet, the collector paused till then.
        self.problems = problems
        tags = {h.name: " ".join(h.tags) for h in self.hosts}
        self.query_one(ProblemsView).show_problems(problems, tags)
        hosts = self.query_one(HostsView)
        hosts.problems = problems_by_host(problems.rows)
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
            entries = f"{len(fleet.jobs)} entries" if fleet.whole else "reading the entries…"
            text = f"{len(fleet.hosts)} hosts ({down} not ok) · {entries}"
            text += f" · last scan {last}"
            if fleet.failing_routes:
                text += f" · notify FAILING: {'; '.join(fleet.failing_routes)}"
        # Text, not markup: host errors hold [brackets] (and, made visible, escape sequences).
        self.query_one("#status", Static).update(Text(visible(text)))

    # -- scanning ------------------------------------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="scan")
    async def scan(self) -> None:
        """Scan the fleet; each host that answers is stored, then the views are read again."""
        total = len(self.hosts)
        if not total:
            return
        self.scan_line = f"scanning 0/{total}"
        self.update_status()
        progress = self.query_one(ScanProgress)
        progress.start(total)
        # A connection of its own: the scan writes on a worker thread while the views read.
        store = Store(self.store_path)
        done, shown_at = 0, 0.0
        failed: list[str] = []
        try:
            fleet = self.connector_factory()
            try:
                # A run older than the retention may be folded: read again, it would count twice.
                window = min(self.window, self.inventory.retention)
                hosts = scan_fleet(
                    self.hosts,
                    store,
                    fleet,
                    self.inventory.concurrency,
                    window,
                    self.now,
                    self.inventory.policy,
                )
                async for outcome in hosts:
                    done += 1
                    self.scan_line = f"scanning {done}/{total} · {_outcome(outcome)}"
                    if not outcome.ok:
                        failed.append(outcome.host.name)
                    progress.advance(outcome.host.name, outcome.ok)
                    self.update_status()
                    # Read the history again as hosts answer, at most once a second (and at the end).
                    if time.monotonic() - shown_at > RELOAD_S or done == total:
                        shown_at = time.monotonic()
                        self.load()
            finally:
                await fleet.close()
        finally:
            store.close()
            progress.finish()
        if time.monotonic() - self.folded_at >= FOLD_EVERY_S:
            self.folded_at = time.monotonic()
            self.fold_old_runs()
        failures = f", {len(failed)} failed ({', '.join(failed[:3])})" if failed else ""
        self.notify(
            f"scanned {done} hosts{failures}", severity="warning" if failed else "information"
        )
        self.scan_line = ""
        self.update_status()

    @work(thread=True, exclusive=True, exit_on_error=False, group="prune")
    def fold_old_runs(self) -> None:
        """A little of the history's folding after each scan, on a connection of its own: the
        next scan need not wait for it, and the views read on meanwhile (WAL)."""
        store = Store(self.store_path)
        try:
            kept = (self.inventory.retention, self.inventory.rollup_retention)
            prune(store, self.now(), *kept, time_limit=AFTER_SCAN_S)
        finally:
            store.close()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A scan that breaks says so on the status line; the views keep the history they have.
        if event.state != WorkerState.ERROR or not self.is_running:
            return  # (a reader cut short by quitting is no news)
        if event.worker.group == "scan":
            self.scan_line = f"scan failed: {_why(event.worker.error)}"
            self.update_status()
            self.scan_line = ""
        elif event.worker.group == "prune":
            why = _why(event.worker.error)
            self.notify(f"could not fold old runs: {why}", severity="warning")
        elif event.worker.group == "load":
            self.query_one("#status", Static).update(
                Text(visible(f"could not read the history: {_why(event.worker.error)}"))
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
        # Every key here is a Binding; the list is typed as textual types any BINDINGS.
        self.push_screen(HelpScreen([b for b in self.BINDINGS if isinstance(b, Binding)]))

    def action_expand(self) -> None:
        view = self.view()
        if isinstance(view, ProblemsView):
            view.toggle()

    def action_open(self) -> None:
        """Enter: a job's detail, from Jobs or Problems; on a host (or a host's problem), the
        host's jobs (or the host); on a host's problem with jobs under it, those jobs."""
        view = self.view()
        row = view.current()
        if row is None:
            return
        if isinstance(view, ProblemsView) and row.jobs:
            view.toggle()
            return
        if isinstance(view, HostsView):
            self.show_filtered("jobs", row.host.name)
            return
        entry_id = row.entry.id if isinstance(view, JobsView) else row.entry_id
        if entry_id is None:  # a host's own problem: show the host
            self.show_filtered("hosts", row.host)
            return
        detail = self.reader.job_detail(entry_id)
        if detail is None:
            self.notify("that entry is no longer in the history", severity="warning")
            return
        self.push_screen(DetailScreen(detail))

    def show_filtered(self, name: str, query: str) -> None:
        self.action_show(name)
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = query

    @on(EditScreen.Refused)
    def _edit_refused(self, event: EditScreen.Refused) -> None:
        self.refused("edit", event.entry_id, event.error)

    @on(RowTable.RowSelected)
    def _row_chosen(self, event: RowTable.RowSelected) -> None:
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

    # -- acting on an entry: rerun, pause/resume, edit, undo ------------------------------------

    def entry_in_focus(self) -> str | None:
        """The entry the operator is looking at: the detail shown, else the row under the cursor."""
        if isinstance(self.screen, DetailScreen):
            return self.screen.detail.entry.id
        view = self.view()
        row = view.current()
        if isinstance(view, JobsView) and row is not None:
            return row.entry.id
        if isinstance(view, ProblemsView) and row is not None:
            return row.entry_id
        return None

    def target(self, action: str) -> Target | None:
        entry_id = self.entry_in_focus()
        if entry_id is None:
            self.notify("no entry here: choose one in Jobs or Problems", severity="warning")
            return None
        try:
            return find_target(self.store, self.hosts, entry_id)
        except ActionError as exc:
            self.refused(action, entry_id, exc)
            return None

    def refused(self, action: str, entry_id: str, exc: ActionError) -> None:
        """An action refused before reaching the host: in the audit trail, as the CLI's are."""
        record_refusal(self.store, actor(), action, entry_id, exc, self.now)
        self.notify(str(exc), severity="error")

    def action_rerun(self) -> None:
        if (target := self.target("rerun")) is None:
            return
        entry = target.entry
        question = f"on {target.host.name} as {entry.user}, now:\n{entry.command}"

        def go(answer: str | None) -> None:
            if answer is not None:
                self.push_screen(RerunScreen(target, partial(self.rerun_now, target)))

        self.push_screen(ConfirmScreen(f"Rerun {entry.id}?", question), go)

    async def rerun_now(
        self,
        target: Target,
        sink: OutputSink,
        force: bool,
        interrupted: asyncio.Event,
        decide: Decide,
    ) -> Done:
        async def decide_or_stay() -> Ending | None:
            answer = await decide()
            if answer is None:
                self.quitting = False  # "keep watching" also takes back a quit
            return answer

        store, fleet = Store(self.store_path), self.connector_factory()
        try:
            return await rerun(
                target,
                fleet,
                store,
                actor(),
                force=force,
                on_output=sink,
                clock=self.now,
                interrupted=interrupted,
                decide=decide_or_stay,
            )
        finally:
            await fleet.close()
            store.close()
            self.load()

    def reruns_running(self) -> list[RerunScreen]:
        return [s for s in self.screen_stack if isinstance(s, RerunScreen) and s.running]

    def action_quit(self) -> None:  # type: ignore[override]  # Textual's is a coroutine
        """Quit; while a rerun runs, first ask whether to stop its job or leave it running."""
        running = self.reruns_running()
        if not running:
            self.exit()
            return
        self.quitting = True
        for screen in running:
            screen.interrupted.set()

    def on_rerun_screen_ended(self) -> None:
        if self.quitting and not self.reruns_running():
            self.exit()

    def action_kill(self) -> None:
        if (target := self.target("kill")) is None:
            return
        self.find_runs(target)

    @work(exit_on_error=False, group="action")
    async def find_runs(self, target: Target) -> None:
        """The entry's runs on its host now; then which to kill, when several run."""
        fleet = self.connector_factory()
        try:
            kill = await plan_kill(target, fleet)
        except ActionError as exc:
            self.refused("kill", target.entry.id, exc)
            return
        finally:
            await fleet.close()
        if len(kill.runs) == 1:
            self.ask_kill(kill, kill.runs[0])
        else:

            def chosen(run: LiveRun | None) -> None:
                if run:
                    self.ask_kill(kill, run)

            self.push_screen(ChooseRunScreen(kill), chosen)

    def ask_kill(self, kill: Kill, run: LiveRun) -> None:
        title = f"Kill {kill.target.entry.id} on {kill.target.host.name}?"
        self.push_screen(
            ConfirmScreen(title, kill.question(run)), _on_yes(lambda: self.kill_now(kill, run))
        )

    @work(exit_on_error=False, group="action")
    async def kill_now(self, kill: Kill, run: LiveRun) -> None:
        store, fleet = Store(self.store_path), self.connector_factory()
        try:
            policy = self.inventory.policy
            done = await kill_run(kill, run, fleet, store, actor(), clock=self.now, policy=policy)
        finally:
            await fleet.close()
            store.close()
        self.notify(done.message, severity="information" if done.result == "ok" else "error")
        self.load()

    def action_pause(self) -> None:
        if (target := self.target("pause")) is None:
            return
        entry, who = target.entry, actor()
        action = "resume" if entry.paused else "pause"
        try:
            if entry.paused:
                change = plan_resume(target)
                self.ask(change, f"Resume {entry.id}?", "the line as it was before the pause")
                return
            preview = plan_pause(target, who, self.now())
        except ActionError as exc:
            self.refused(action, entry.id, exc)
            return

        def go(reason: str | None) -> None:
            if reason is not None:
                self.write_change(plan_pause(target, who, self.now(), reason))

        body = "cron will not run it until it is resumed (p again)"
        self.push_screen(
            ConfirmScreen(f"Pause {entry.id}?", body, diff=preview.diff(), ask_reason=True), go
        )

    def action_ack(self) -> None:
        """Acknowledge the stored finding at the cursor in Problems (a job under a host's
        finding: that host's), with an optional note."""
        view = self.view()
        problems = view if isinstance(view, ProblemsView) else None
        row = problems.current() if problems is not None else None
        if problems is None or row is None:
            self.notify("no problem here: choose one in Problems", severity="warning")
            return
        row = problems.groups.get(problems.key(row), row)
        incident_id = row.incident_id
        if incident_id is None:
            self.notify("this problem is not stored yet: scan first", severity="warning")
            return
        body = f"{row.severity} {row.kind} on {row.host}: {row.summary}"

        def go(note: str | None) -> None:
            if note is not None:
                self.acknowledge(incident_id, note.strip() or None)

        title = f"Acknowledge finding {incident_id}?"
        self.push_screen(ConfirmScreen(title, body, ask_reason=True, reason="note"), go)

    @work(thread=True, exit_on_error=False, group="action")
    def acknowledge(self, incident_id: int, note: str | None) -> None:
        """On a thread, with a connection of its own: a scan may hold the write lock a while."""
        store = Store(self.store_path)
        try:
            incident = store.acknowledge(incident_id, actor(), note, None, self.now())
        except (LookupError, ValueError) as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        finally:
            store.close()
        self.call_from_thread(self.notify, visible(acknowledged(incident)))
        self.call_from_thread(self.load)

    def action_edit(self) -> None:
        if (target := self.target("edit")) is None:
            return
        entry = target.entry
        written = f"{entry.schedule} {entry.command}"
        if visible(written, lines=True) != written:
            # An input box would send them to the terminal raw (and show no trace of them).
            self.notify(
                f"{entry.id} holds control characters, which cannot be edited here: "
                f"use `cronops edit {entry.id}`",
                severity="warning",
                timeout=15,
            )
            return
        zone = self.host_zone(target)

        def edited(change: Change | None) -> None:
            if change:
                self.write_change(change)

        self.push_screen(EditScreen(target, zone, self.now()), edited)

    def action_undo(self) -> None:
        entry_id = self.entry_in_focus()
        if entry_id is None:
            return
        try:
            change = plan_undo(self.store, self.hosts, entry_id)
        except ActionError as exc:
            self.refused("undo", entry_id, exc)
            return
        self.ask(change, f"Undo {change.undoes}?", f"{entry_id}: the crontab as before it")

    def ask(self, change: Change, title: str, body: str) -> None:
        self.push_screen(
            ConfirmScreen(title, body, diff=change.diff()),
            _on_yes(lambda: self.write_change(change)),
        )

    def host_zone(self, target: Target) -> tzinfo:
        if zone := target.entry.cron_tz:
            return ZoneInfo(zone)
        hosts = self.fleet.hosts if self.fleet is not None else []  # none read yet: UTC
        row = next((h for h in hosts if h.host.name == target.host.name), None)
        return row.facts.zone if row else UTC

    @work(exit_on_error=False, group="action")
    async def write_change(self, change: Change) -> None:
        store, fleet = Store(self.store_path), self.connector_factory()
        try:
            done = await apply(change, fleet, store, actor(), self.now, self.inventory.policy)
        except ActionError as exc:
            self.notify(f"{exc}\n{exc.detail}".strip(), severity="error", timeout=15)
            return
        finally:
            await fleet.close()
            store.close()
        self.notify(done.message)
        if isinstance(self.screen, DetailScreen):
            self.pop_screen()
        self.load()

    def action_trail(self) -> None:
        self.push_screen(TrailScreen(self.store.actions()))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification (the screens' too) as plain text, whatever `markup` says: they quote
        hosts (errors, names, commands), whose brackets are not markup and whose control
        characters show as escapes."""
        message = visible(message, lines=True)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

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
        yield SystemCommand("Rerun", "run the entry now, as its user", self.action_rerun)
        yield SystemCommand("Kill", "stop the entry's run that still runs", self.action_kill)
        yield SystemCommand("Pause or resume", "the entry under the cursor", self.action_pause)
        yield SystemCommand("Edit", "the entry's schedule or command", self.action_edit)
        yield SystemCommand("Undo", "cronops' last change to the entry", self.action_undo)
        yield SystemCommand("Audit trail", "every action taken or refused", self.action_trail)
        yield SystemCommand("Keys", "every key cronops answers to", self.action_help)

    def watch_theme(self) -> None:
        # Cell colours are taken from the theme when rows are drawn: draw them again.
        if self.fleet is not None:
            for view in self.views():
                view.refill()


def _cancelled(worker: Worker) -> bool:
    """Read afresh each time: the UI thread may cancel the worker between two reads (checked in
    place, the type checker would take a second read after a False one to be False too)."""
    return worker.is_cancelled


def _on_yes(then: Callable[[], object]) -> Callable[[str | None], None]:
    """A confirmation's callback: `then` runs when the operator said yes (any answer but None)."""

    def answered(answer: str | None) -> None:
        if answer is not None:
            then()

    return answered


def _why(error: BaseException | None) -> str:
    return str(error) or type(error).__name__


def _judging_pool(history: History) -> ProcessPoolExecutor | None:
    """A worker process for judging, when the history is big enough to be worth one.

    Made before the app runs: multiprocessing's resource tracker is started with our real
    stderr, which Textual replaces while it runs (spawning later fails on its file number)."""
    if history.entry_count(up_to=data.JUDGE_IN_PROCESS_FROM) < data.JUDGE_IN_PROCESS_FROM:
        return None
    resource_tracker.ensure_running()
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


def _outcome(outcome: HostScan) -> str:
    if outcome.ok:
        return f"{outcome.host.name}: ok, {outcome.entries} entries, {outcome.new_runs} new runs"
    return f"{outcome.host.name}: {outcome.status}" + (
        f" ({outcome.error})" if outcome.error else ""
    )
