"""The action screens: a confirmation with the diff, the edit form, a rerun's live output, and
the audit trail. They plan with cronops.actions; the app writes, so every path is the CLI's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.markup import escape
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Log, OptionList, Static
from textual.widgets.option_list import Option

from cronops.actions import (
    ActionError,
    Change,
    Decide,
    Done,
    Ending,
    Kill,
    LiveRun,
    StillRunning,
    Target,
    plan_edit,
)
from cronops.schedule import describe, next_runs, validate
from cronops.transport import OutputSink
from cronops.tui.widgets.format import loud, when
from cronops.visible import VisibleStream, visible
from cronops.wording import zone_name


def diff_view(diff: str) -> Syntax:
    # The terminal's own background: readable in light and dark themes alike.
    text = visible(diff, lines=True)
    return Syntax(text, "diff", theme="ansi_dark", background_color="default", word_wrap=True)


class ConfirmScreen(ModalScreen[str | None]):
    """Ask before acting: Enter (or y) goes ahead, Escape (or n) does nothing.

    With `ask_reason`, a line for the reason (or what `reason` names: a note); the screen
    returns its text ("" without one)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "Cancel"),
        Binding("enter,y", "confirm", "Go ahead"),
    ]

    def __init__(
        self,
        title: str,
        body: str,
        *,
        diff: str = "",
        ask_reason: bool = False,
        reason: str = "reason",
    ):
        super().__init__()
        self.title_text, self.body, self.diff, self.ask_reason = title, body, diff, ask_reason
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="dialog"):
            yield Static(f"[b]{escape(self.title_text)}[/b]", classes="title")
            yield Static(Text(visible(self.body, lines=True)))
            if self.diff:
                with VerticalScroll(classes="diff"):
                    yield Static(diff_view(self.diff))
            if self.ask_reason:
                yield Input(placeholder=f"{self.reason} (optional), then Enter", id="reason")
            yield Static("[b]Enter[/b] go ahead   [b]Escape[/b] cancel", classes="keys")

    def on_mount(self) -> None:
        if self.ask_reason:
            self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    def action_confirm(self) -> None:
        self.dismiss(self.query_one("#reason", Input).value if self.ask_reason else "")

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChooseRunScreen(ModalScreen[LiveRun | None]):
    """Several runs of the entry are running: which to kill (Enter), or none (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, kill: Kill):
        super().__init__()
        self.kill = kill

    def compose(self) -> ComposeResult:
        target = self.kill.target
        with Vertical(id="choose-run", classes="dialog"):
            yield Static(
                f"[b]{len(self.kill.runs)} runs of {target.entry.id} are running on "
                f"{escape(visible(target.host.name))}[/b]: which one to kill?",
                classes="title",
            )
            yield OptionList(
                *(
                    Option(Text(visible(run.describe(), lines=True)), id=str(run.pid))
                    for run in self.kill.runs
                )
            )
            yield Static("[b]Enter[/b] this one   [b]Escape[/b] cancel", classes="keys")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.kill.runs[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)


class EditScreen(ModalScreen[Change | None]):
    """The schedule and command of one entry, checked as you type: the schedule in words, its
    next runs in the host's zone, and the diff of the crontab that would be written."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Write it"),
    ]

    def __init__(self, target: Target, zone: tzinfo, now: datetime):
        super().__init__()
        self.target, self.zone, self.now = target, zone, now
        self.change: Change | None = None
        self.problem = ActionError("nothing changed")  # why there is no change to write

    def compose(self) -> ComposeResult:
        entry = self.target.entry
        with Vertical(id="edit", classes="dialog"):
            yield Static(
                f"[b]Edit[/b] {escape(visible(entry.user))}@{escape(visible(entry.host))}  "
                f"{escape(visible(entry.source))}:{entry.line}  [dim]{entry.id}[/dim]",
                classes="title",
            )
            yield Static("Schedule")
            yield Input(entry.schedule, id="schedule")
            yield Static("Command")
            yield Input(entry.command, id="command")
            yield Static(id="words")
            yield Static(id="problem")
            with VerticalScroll(classes="diff"):
                yield Static(id="diff")
            yield Static("[b]Ctrl+S[/b] or Enter write it   [b]Escape[/b] cancel", classes="keys")

    def on_mount(self) -> None:
        self.query_one("#schedule", Input).focus()
        self.check()

    @on(Input.Changed)
    def check(self) -> None:
        entry = self.target.entry
        schedule = self.query_one("#schedule", Input).value.strip()
        command = self.query_one("#command", Input).value
        words, upcoming = "", ""
        if validate(schedule) is None:
            words = describe(schedule)
            if schedule != "@reboot":
                runs = next_runs(schedule, self.zone, self.now, 5)
                upcoming = ", ".join(when(t, self.zone) for t in runs)
        zone = zone_name(self.zone)
        self.query_one("#words", Static).update(
            Text(f"{words}\nnext ({zone}): {upcoming or '-'}") if words else ""
        )
        try:
            self.change = plan_edit(
                self.target,
                schedule if schedule != entry.schedule else None,
                command if command != entry.command else None,
            )
        except ActionError as exc:
            self.change, self.problem = None, exc
            self.query_one("#problem", Static).update(Text(visible(str(exc)), style="bold"))
            self.query_one("#diff", Static).update("")
            return
        self.query_one("#problem", Static).update("")
        self.query_one("#diff", Static).update(diff_view(self.change.diff()))

    class Refused(Message):
        """Written with a problem: refused, which the audit trail records."""

        def __init__(self, entry_id: str, error: ActionError):
            super().__init__()
            self.entry_id, self.error = entry_id, error

    @on(Input.Submitted)
    def action_save(self) -> None:
        if self.change is None:
            self.post_message(self.Refused(self.target.entry.id, self.problem))
            return
        self.dismiss(self.change)

    def action_cancel(self) -> None:
        self.dismiss(None)


# Starts a rerun: (where the output goes, force, the interrupt to watch, who decides then).
Rerun = Callable[[OutputSink, bool, asyncio.Event, Decide], Awaitable[Done]]
# A rerun screen keeps this many lines of output in sight; the history keeps the tail.
OUTPUT_LINES_SHOWN = 10_000


class EndRerunScreen(ModalScreen[Ending | None]):
    """The job still runs: stop it (Enter or s), leave it running on its host (l), or keep
    watching (Escape or w)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,s", "stop", "Stop it"),
        Binding("l", "leave", "Leave it running"),
        Binding("escape,w", "watch", "Keep watching"),
    ]

    def __init__(self, target: Target):
        super().__init__()
        self.target = target

    def compose(self) -> ComposeResult:
        entry, grace = self.target.entry, self.target.host.kill_grace
        with Vertical(id="end-rerun", classes="dialog"):
            yield Static(f"[b]{entry.id} is still running on {escape(visible(entry.host))}[/b]")
            yield Static(
                f"[b]Enter[/b] stop it: TERM to its process group, KILL {grace:g} s later if any "
                "is left\n"
                "[b]l[/b] leave it running, detached; its output stays in a file on the host\n"
                "[b]Escape[/b] keep watching",
                classes="keys",
            )

    def action_stop(self) -> None:
        self.dismiss(Ending.STOPPED)

    def action_leave(self) -> None:
        self.dismiss(Ending.LEFT_RUNNING)

    def action_watch(self) -> None:
        self.dismiss(None)


# How loud each ending of a rerun is, as the tables' words.
_ENDING_LOOKS = {
    Ending.STOPPED: ("stopped", "killed"),
    Ending.LEFT_RUNNING: ("running", "running"),
    Ending.TIMED_OUT: ("timed out", "failed"),
    Ending.LOST: ("lost", "failed"),
}


class RerunScreen(Screen[None]):
    """A rerun's output as it arrives, then how it ended. Escape goes back; while the job runs
    it asks first whether to stop it or leave it running (as quitting the app does).

    Refused because the entry runs right now, `f` asks once more and runs another anyway."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("f", "force", "Run anyway"),
    ]

    def __init__(self, target: Target, start: Rerun):
        super().__init__()
        self.target, self.start = target, start
        self.shown = VisibleStream()
        self.still_running: StillRunning | None = None
        self.interrupted = asyncio.Event()
        self.running = False

    def compose(self) -> ComposeResult:
        entry = self.target.entry
        with Vertical(id="rerun"):
            yield Static(
                f"[b]Rerun[/b] on {escape(visible(entry.host))} as {escape(visible(entry.user))}  "
                f"[dim]{entry.id}[/dim]",
                classes="title",
            )
            yield Static(Text(visible(entry.command)), classes="line")
            yield Log(id="output", highlight=False, max_lines=OUTPUT_LINES_SHOWN)
            yield Static(id="outcome")
        yield Footer()

    def on_mount(self) -> None:
        self.run_it()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool:
        # `f` is offered only while a rerun stands refused because the entry runs now.
        return action != "force" or self.still_running is not None

    def action_back(self) -> None:
        if self.running:
            self.interrupted.set()  # the rerun asks (decide) what becomes of the job
        else:
            self.app.pop_screen()

    @work(exclusive=True, exit_on_error=False)
    async def run_it(self, force: bool = False) -> None:
        outcome = self.query_one("#outcome", Static)
        outcome.update("running…")
        self.running = True
        try:
            done = await self.start(self.output, force, self.interrupted, self.decide)
        except StillRunning as exc:
            self.still_running = exc
            self.refresh_bindings()
            outcome.update(
                Text.assemble(
                    (visible(f"not run: {exc}"), "bold"),
                    "\n",
                    ("f", "bold"),
                    " run anyway (asks once more)",
                )
            )
            return
        except ActionError as exc:
            outcome.update(Text(visible(f"not run: {exc}"), style="bold"))
            return
        finally:
            self.running = False
            self.post_message(self.Ended())
        theme = self.app.current_theme
        if done.ending in _ENDING_LOOKS:
            word, like = _ENDING_LOOKS[Ending(done.ending)]
            status = loud(word, theme, like)
        else:
            status = loud("ok" if done.exit_status == 0 else "failed", theme)
        outcome.update(Text.assemble(status, f"  {visible(done.message)}"))

    async def decide(self) -> Ending | None:
        """Asked (in the rerun's worker) when Escape, or quitting the app, interrupts the job."""
        return await self.app.push_screen_wait(EndRerunScreen(self.target))

    class Ended(Message):
        """The rerun is over, however it ended: an app waiting to quit may now."""

    def action_force(self) -> None:
        def go(answer: str | None) -> None:
            if answer is not None:
                self.still_running = None
                self.refresh_bindings()
                self.run_it(force=True)

        title = f"Run another {self.target.entry.id} while one runs?"
        self.app.push_screen(ConfirmScreen(title, str(self.still_running)), go)

    def output(self, piece: bytes) -> None:
        self.query_one("#output", Log).write(self.shown(piece))


class TrailScreen(Screen[None]):
    """The audit trail: every action taken or refused, newest first. Escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, actions: list[dict]):
        super().__init__()
        self.actions = actions

    def compose(self) -> ComposeResult:
        with Vertical(id="trail"):
            yield Static(
                f"[b]Audit trail[/b]  {len(self.actions)} actions cronops took or refused, "
                "newest first (also: cronops log)",
                classes="title",
            )
            yield DataTable(id="trail-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("when (UTC)", "who", "host", "entry", "action", "result", "change")
        theme = self.app.current_theme
        for a in self.actions:
            entry = a["entry_id"] + (f" → {a['new_entry_id']}" if a["new_entry_id"] else "")
            changed = a["after"] is not None and a["after"] != a["before"]
            detail = (a["detail"] or "").split("\n", 1)[0]
            # Text, not str: DataTable reads a str as markup.
            table.add_row(
                a["at"][:19].replace("T", " "),
                Text(visible(a["actor"])),
                Text(visible(a["host"] or "-")),  # a refused unknown id is on no host
                entry,
                a["action"],
                loud(a["result"], theme),
                Text(visible(f"{a['before']} → {a['after']}" if changed else detail)),
            )
        table.focus()
