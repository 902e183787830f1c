"""One job in full: its line as written, its schedule in words and next runs, its run history,
findings and policy. Pushed over the views with Enter; Escape goes back."""

from __future__ import annotations

from datetime import tzinfo
from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static

from cronops.changes import BY_SCAN
from cronops.records import Incident, RunRecord
from cronops.report import folded_text, folded_totals
from cronops.tui.data import CHANGES_WINDOW, JobDetail
from cronops.tui.widgets.format import loud, span, when
from cronops.visible import visible
from cronops.wording import zone_name


class DetailScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, detail: JobDetail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        d = self.detail
        entry = d.entry
        zone = zone_name(d.zone)
        with VerticalScroll(id="detail"):
            # Text, not markup: all but the id comes from the host.
            yield Static(
                Text.assemble(
                    (visible(f"{entry.user}@{entry.host}"), "bold"),
                    f"  {visible(d.source)}  ",
                    (entry.id, "dim"),
                ),
                classes="title",
            )
            line = d.text or f"{entry.schedule} {entry.command}"
            yield Static(Text(visible(line, lines=True)), classes="line")  # tabs as written
            yield Static(
                Text.assemble(
                    ("Schedule", "bold"), f"  {visible(entry.schedule)}: {visible(d.described)}"
                )
            )
            upcoming = ", ".join(when(t, d.zone) for t in d.upcoming) or "none"
            yield Static(f"[b]Next runs[/b] ({zone})  {upcoming}")
            yield Static(self._policy())
            yield Static(self._findings(), classes="findings")
            yield Static(self._changes(), classes="changes")
            output = self._output()
            if output is not None:
                yield output
            durations = self._durations()
            if len(durations) >= 2:
                yield Static("[b]Duration[/b] (oldest to newest)")
                yield Sparkline(durations, summary_function=max, id="durations")
            if d.days:
                yield Static(self._days(), id="days")
            yield Static(f"[b]Runs[/b]  the latest {len(d.runs)} from the logs, newest first")
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        d = self.detail
        table = self.query_one("#runs", DataTable)
        table.add_columns("scheduled", "started", "took", "status", "trigger")
        theme = self.app.current_theme
        for run, scheduled in d.runs:
            table.add_row(
                when(scheduled, d.zone),
                run.started_at.astimezone(d.zone).strftime("%m-%d %H:%M:%S"),
                span(_took(run)),
                loud(d.outcome(run), theme),
                run.trigger or "cron",
            )
        table.focus()

    def _days(self) -> str:
        """The runs older than the retention, counted by day."""
        days = self.detail.days
        longest = max((d.longest for d in days if d.longest), default=None)
        slowest = f", the longest {span(longest.total_seconds())}" if longest else ""
        return f"[b]Earlier[/b]  {folded_text(folded_totals(days))} on {len(days)} days{slowest}"

    def _policy(self) -> str:
        p = self.detail.policy
        limit = span(p.max_duration.total_seconds()) if p.max_duration else "by history"
        runbook = f"  runbook {escape(p.runbook)}" if p.runbook else "  no runbook"
        return (
            f"[b]Policy[/b]  grace {span(p.grace.total_seconds())} · max duration {limit} · "
            f"tier {p.tier}{runbook}"
        )

    def _findings(self) -> str | Text:
        findings = self.detail.findings
        if not findings:
            return "[b]Findings[/b]  none in the last 24 hours"
        # Text, not markup: the detail and evidence quote the host's lines, brackets and all.
        # In full, in the job's zone: the Problems view gives only the essential.
        text = Text()
        text.append("Findings", style="bold")
        for f in findings:
            text.append(
                f"\n  {f.severity} {f.kind} ×{f.count}, last {f.last_at:%m-%d %H:%M %Z}: "
                f"{visible(f.detail)}"
            )
            text.append(f"\n    {visible(f.evidence)}", style="italic")
            acked = self.detail.acknowledged.get(f.kind)
            if acked is not None:
                text.append(f"\n    {_acknowledged(acked, self.detail.zone)}", style="bold")
        return text

    def _changes(self) -> str | Text:
        """The entry's timeline and its file's: when, what, who (as far as the host says)."""
        changes = self.detail.changes
        if not changes:
            return f"[b]What changed[/b]  nothing in the last {CHANGES_WINDOW.days} days"
        text = Text()
        text.append("What changed", style="bold")
        for change in changes:
            before = "before " if change.known_by == BY_SCAN else ""
            who = f"{change.who} ({change.via})" if change.who else "who: not logged"
            at = change.at.astimezone(self.detail.zone)
            text.append(f"\n  {before}{at:%m-%d %H:%M}  {change.kind}  {visible(who)}")
            if change.before is not None:
                text.append(f"\n    - {visible(change.before)}", style="red")
            if change.after is not None:
                text.append(f"\n    + {visible(change.after)}", style="green")
        return text

    def _output(self) -> Static | None:
        """What the latest run whose output was seen printed (the mail cron sent, a rerun)."""
        d = self.detail
        run = next((run for run, _ in d.runs if run.output is not None), None)
        if run is None or run.output is None:
            return None
        started = run.started_at.astimezone(d.zone).strftime("%m-%d %H:%M:%S")
        text = Text()
        text.append("Output", style="bold")
        text.append(f"  of the run started {started}, its end {run.output_source}\n")
        text.append(visible(run.output, lines=True))  # Text: the host's bytes, escaped
        return Static(text, classes="output")

    def _durations(self) -> list[float]:
        took = (_took(run) for run, _ in reversed(self.detail.runs))
        return [seconds for seconds in took if seconds is not None]


def _acknowledged(incident: Incident, zone: tzinfo) -> str:
    """'✓ acknowledged by alice@ops at 11-28 14:05 until 11-28 18:05: disk ordered'."""
    until = f" until {when(incident.ack_until, zone)}" if incident.ack_until else ""
    note = f": {incident.ack_note}" if incident.ack_note else ""
    said = f"✓ acknowledged by {incident.ack_by} at {when(incident.ack_at, zone)}{until}{note}"
    return visible(said)


def _took(run: RunRecord) -> float | None:
    return None if run.ended_at is None else (run.ended_at - run.started_at).total_seconds()
