"""What the CLI prints for a person at a terminal: rich tables, and the progress bar.

Colours are the terminal's own named colours, so they read in light and dark themes and vanish
when piped.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cronops.changes import BY_SCAN
from cronops.labels import ago, short_command, short_job
from cronops.report import audit_headline, job_label, paused_note, scan_totals, streak_note
from cronops.scan import HostReport, HostScan
from cronops.schedule import describe
from cronops.transport import HostStatus
from cronops.visible import visible

if TYPE_CHECKING:
    from cronops.analysis import Finding
    from cronops.audit import AuditResult
    from cronops.changes import Change
    from cronops.lint import LintNote
    from cronops.records import Incident, JobEntry


JOBS_LISTED = 5  # of the jobs under a host's finding, on the one-line audit (--verbose: all)
WIDE = 120  # columns from which the one-line audit has room for the LAST column
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
STATUS_STYLE = {
    HostStatus.OK: "green",
    HostStatus.TIMEOUT: "yellow",
    HostStatus.UNREACHABLE: "bold red",
    HostStatus.AUTH_FAILED: "bold red",
    HostStatus.HOST_KEY_UNKNOWN: "yellow",
    HostStatus.HOST_KEY_CHANGED: "bold red reverse",
    HostStatus.ERROR: "bold red",
}


def shown(text: str) -> str:
    """Text from a host inside rich markup: its controls as escapes, its brackets not markup."""
    return escape(visible(text))


def console(file: TextIO | None = None) -> Console:
    # highlight=False: rich would otherwise colour numbers and paths in our own sentences.
    return Console(file=file or sys.stdout, highlight=False)


def progress_bar(file: TextIO) -> Progress:
    return Progress(
        TextColumn("{task.description}", markup=False),  # host names are not markup
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(file),
        transient=True,
    )


def hosts_table(reports: Sequence[HostReport]) -> Table:
    failed = sum(1 for r in reports if not r.ok)
    scan_failed = sum(1 for r in reports if r.last_scan_error)
    title = f"{len(reports)} hosts, {len(reports) - failed} ok" + (
        f", {failed} failing" if failed else ""
    )
    if scan_failed:
        title += f", {scan_failed} whose last scan failed"
    table = Table(title=title, title_justify="left", expand=False)
    for column in ("HOST", "TARGET", "STATUS", "LATENCY", "DETAIL"):
        table.add_column(column, no_wrap=column != "DETAIL")
    for report in reports:
        table.add_row(
            shown(report.host.name),
            shown(report.host.target),
            f"[{STATUS_STYLE[report.status]}]{report.status}[/]",
            f"{report.latency_ms:.0f} ms" if report.latency_ms is not None else "-",
            shown(_detail(report)),
        )
    return table


def _detail(report: HostReport) -> str:
    if report.error:
        return report.error
    detail = ""
    if report.result:
        facts = report.result.facts
        detail = f"{facts.hostname} ({facts.zone_name})"
        if skew := facts.skew.total_seconds():
            detail += f", clock {skew:+.0f}s off"
    if report.last_scan_error:  # it answers, and its last scan still failed: say both
        detail += f"; last scan failed: {report.last_scan_error}"
    return detail


def scan_summary(outcomes: Sequence[HostScan]) -> Table:
    totals = scan_totals(outcomes)
    title = (
        f"Scanned {len(outcomes)} hosts: {totals['hosts_ok']} ok, {totals['hosts_failed']} failed; "
        f"{totals['entries']} entries, {totals['new_runs']} new runs"
    )
    table = Table(title=title, title_justify="left")
    for column in ("HOST", "STATUS", "ENTRIES", "NEW RUNS", "NOTES"):
        table.add_column(column, no_wrap=column != "NOTES")
    for o in outcomes:
        table.add_row(
            shown(o.host.name),
            f"[{STATUS_STYLE[o.status]}]{o.status}[/]",
            str(o.entries),
            str(o.new_runs),
            _scan_notes(o),
        )
    return table


def _scan_notes(outcome: HostScan) -> str:
    if outcome.error:
        return shown(outcome.error)
    notes = []
    if outcome.problems:
        notes.append(f"[yellow]{outcome.problems} crontab lines cron would reject[/]")
    if outcome.garbage_lines:
        notes.append(f"{outcome.garbage_lines} unreadable log lines skipped")
    if outcome.missing_logs:
        logs = ", ".join(f"{path} ({why})" for path, why in outcome.missing_logs.items())
        notes.append(f"[yellow]no log: {shown(logs)}[/]")
    if outcome.more_logs:
        notes.append(
            f"more to read in {shown(', '.join(outcome.more_logs))}: the next scan goes on"
        )
    return "; ".join(notes)


def jobs_table(entries: Sequence[JobEntry], width: int) -> Table:
    """One line per entry; the schedule in words only where the terminal has room for it."""
    wide = width >= 140
    table = Table(title=f"{len(entries)} entries", title_justify="left", expand=True)
    table.add_column("ID", no_wrap=True)
    table.add_column("HOST", no_wrap=True)
    table.add_column("USER", no_wrap=True)
    table.add_column("SCHEDULE", no_wrap=True)
    if wide:
        table.add_column("WHEN", no_wrap=True, overflow="ellipsis", max_width=36)
    table.add_column("COMMAND", no_wrap=True, overflow="ellipsis", ratio=1)
    table.add_column("SOURCE", no_wrap=True, overflow="ellipsis")
    for e in entries:
        command = shown(e.command)
        if e.paused:
            command = f"[strike]{command}[/] ({shown(paused_note(e.paused))})"
        elif e.disabled:
            command = f"[strike]{command}[/] (disabled)"
        row = [e.id, shown(e.host), shown(e.user), shown(e.schedule)]
        if wide:
            row.append(f"[italic]{shown(describe(e.schedule))}[/]")
        row += [command, shown(f"{_short_source(e.source)}:{e.line}")]
        table.add_row(*row)
    return table


def _short_source(path: str) -> str:
    """`crontabs/alice` and `cron.d/sync` say as much as the full spool path, in less room."""
    parts = path.rsplit("/", 2)
    return "/".join(parts[-2:]) if len(parts) == 3 and parts[0] else path


def audit_tables(audit: AuditResult, width: int, verbose: bool = False) -> list[Any]:
    """A headline, then the findings in the judge's order (the hosts' own first): one line
    each, or with `verbose` each one's detail and evidence in full beneath it."""
    parts: list[Any] = [f"[bold]{shown(audit_headline(audit))}[/]"]
    if audit.findings:
        parts.append(_findings_in_full(audit) if verbose else _finding_lines(audit, width))
    return parts


def _finding_lines(audit: AuditResult, width: int) -> Table:
    """One line a finding, what it is about and the essential of it; the jobs under a host's
    finding (cron stopped) on lines of their own beneath it, the first few. Below 120 columns
    the LAST column goes (the essential names the time) and severities take four letters."""
    wide = width >= WIDE
    label_width = max(20, min(48, width - 100))
    table = Table(box=None, pad_edge=False, header_style="bold", expand=True)
    table.add_column("SEVERITY" if wide else "SEV", no_wrap=True)
    table.add_column("HOST", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("KIND", no_wrap=True)
    table.add_column("JOB", no_wrap=True, overflow="ellipsis", max_width=label_width)
    if wide:
        table.add_column("LAST", no_wrap=True)
    table.add_column("WHAT", no_wrap=True, overflow="ellipsis", ratio=1)

    def line(*cells: str, last: datetime | None) -> None:
        when = [ago(last, audit.until) if last else ""] if wide else []
        table.add_row(*cells[:4], *when, *cells[4:])

    for finding in audit.findings:
        style = SEVERITY_STYLE[finding.severity]
        line(
            f"[{style}]{finding.severity if wide else finding.severity[:4]}[/]",
            shown(finding.host),
            f"[{style}]{_kind(finding)}[/]",
            f"{len(finding.jobs)} jobs" if finding.jobs else _job(finding, audit, label_width),
            shown(finding.summary),
            last=finding.last_at,
        )
        for job in finding.jobs[:JOBS_LISTED]:
            job_line = (f"↳ {_kind(job)}", _job(job, audit, label_width), shown(job.summary))
            line("", "", *job_line, last=job.last_at)
        if len(finding.jobs) > JOBS_LISTED:
            more = len(finding.jobs) - JOBS_LISTED
            line("", "", "↳ …", f"and {more} more", "--verbose lists every one", last=None)
    return table


def _findings_in_full(audit: AuditResult) -> Table:
    """Each finding over a few lines: what happened, the detail, the evidence beneath it, so
    it reads in 80 columns as well as in 200; the jobs under a host's finding likewise."""
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(ratio=1, overflow="fold")
    for finding in audit.findings:
        style = SEVERITY_STYLE[finding.severity]
        lines = _in_full(finding, audit)
        for job in finding.jobs:
            head, *rest = _in_full(job, audit)
            lines += [f"↳ [{style}]{_kind(job)}[/] {head}", *(f"  {line}" for line in rest)]
        table.add_row(
            shown(finding.host),
            f"[{style}]{finding.severity} {_kind(finding)}[/]",
            "\n".join(lines),
        )
    return table


def _in_full(finding: Finding, audit: AuditResult) -> list[str]:
    when = f"{finding.last_at:%m-%d %H:%M %Z}"  # in the job's zone, named
    lines = [f"{shown(job_label(finding, audit))}  [bold]{when}[/]", shown(finding.detail)]
    lines.append(f"[italic]{shown(finding.evidence)}[/]")
    if finding.runbook:
        lines.append(f"runbook: {shown(finding.runbook)}")
    return lines


def _kind(finding: Finding) -> str:
    return f"{finding.kind} ×{finding.count}" if finding.count > 1 else finding.kind


def _job(finding: Finding, audit: AuditResult, width: int) -> str:
    """The job's user and command in `width` columns; below 30, its command alone."""
    entry = audit.entries.get(finding.entry_id) if finding.entry_id else None
    if entry is None:
        return "-"
    if width < 30:
        return escape(short_command(visible(entry.command), width))
    return escape(short_job(entry.user, entry.command, width))


def findings_table(incidents: Sequence[Incident], states: Sequence[str]) -> Table | str:
    """The stored findings, worst first: id, state, severity, host, job, kind, since when and
    what (the summary, a failure's streak, who acknowledged it or why it resolved)."""
    if not incidents:
        return f"No {' or '.join(states)} findings."
    table = Table(title=f"{len(incidents)} findings", title_justify="left")
    for column in ("ID", "STATE", "SEVERITY", "HOST", "JOB", "KIND", "SINCE", "WHAT"):
        table.add_column(column, no_wrap=column not in ("JOB", "WHAT"))
    for incident in incidents:
        table.add_row(
            str(incident.id),
            incident.state,
            f"[{SEVERITY_STYLE[incident.severity]}]{incident.severity}[/]",
            shown(incident.host),
            shown(_incident_job(incident)),
            incident.kind,
            f"{incident.opened_at.astimezone():%m-%d %H:%M}",
            shown(_incident_what(incident)),
        )
    return table


def _incident_job(incident: Incident) -> str:
    if incident.jobs:
        return f"{len(incident.jobs)} jobs: {', '.join(incident.jobs[:JOBS_LISTED])}" + (
            ", …" if len(incident.jobs) > JOBS_LISTED else ""
        )
    return incident.entry_id or "(host)"


def _incident_what(incident: Incident) -> str:
    parts = [incident.summary, streak_note(incident)]
    if incident.state == "acknowledged":
        until = (
            f" until {incident.ack_until.astimezone():%m-%d %H:%M}" if incident.ack_until else ""
        )
        note = f": {incident.ack_note}" if incident.ack_note else ""
        parts.append(f"acknowledged by {incident.ack_by}{until}{note}")
    elif incident.state == "resolved" and incident.resolved_at is not None:
        parts.append(
            f"resolved {incident.resolved_at.astimezone():%m-%d %H:%M}: {incident.resolved_why}"
        )
    return "; ".join(part for part in parts if part)


def actions_table(actions: Sequence[dict[str, Any]]) -> Table:
    """Newest first: who did what to which entry, the line before and after, and how it went."""
    table = Table(title=f"{len(actions)} actions", title_justify="left", expand=True)
    table.add_column("WHEN", no_wrap=True)
    table.add_column("WHO", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("HOST", no_wrap=True)
    table.add_column("ENTRY", no_wrap=True)
    table.add_column("ACTION", no_wrap=True)
    table.add_column("RESULT", no_wrap=True)
    table.add_column("CHANGE / DETAIL", overflow="fold", ratio=1)
    style = {"ok": "green", "refused": "yellow", "failed": "red"}
    for a in actions:
        entry = a["entry_id"] + (f" → {a['new_entry_id']}" if a["new_entry_id"] else "")
        change = (
            f"- {shown(a['before'] or '')}\n+ {shown(a['after'])}"
            if a["after"] is not None and a["after"] != a["before"]
            else shown((a["detail"] or "").splitlines()[0] if a["detail"] else "")
        )
        table.add_row(
            a["at"][:19].replace("T", " "),
            shown(a["actor"]),
            shown(a["host"] or "-"),  # a refused unknown id is on no host
            entry,
            a["action"],
            f"[{style.get(a['result'], '')}]{a['result']}[/]",
            change,
        )
    return table


def lint_table(notes: Sequence[LintNote], files: int) -> Table | str:
    """Per note: the host and where, then the rule, the line as written and what cron does."""
    if not notes:
        return f"Nothing to point out in {files} crontab files."
    table = Table(
        title=f"{len(notes)} notes on {files} crontab files", title_justify="left", expand=True
    )
    table.add_column("HOST", no_wrap=True)
    table.add_column("WHERE", no_wrap=True)
    table.add_column("NOTE", ratio=1, overflow="fold")
    for note in notes:
        where = _short_source(note.path) + (f":{note.line}" if note.line else "")
        lines = [f"[bold]{note.rule}[/]"]
        lines += [f"[italic]{shown(note.text)}[/]"] if note.text else []
        lines.append(shown(note.message))
        table.add_row(shown(note.host), shown(where), "\n".join(lines))
    return table


def changes_table(changes: Sequence[Change], since: datetime) -> Table | str:
    """Oldest first: when and where, then what changed, who says so, the line before and after."""
    if not changes:
        return f"No crontab changes since {since:%Y-%m-%d %H:%M %Z}."
    table = Table(
        title=f"{len(changes)} changes since {since:%Y-%m-%d %H:%M %Z}",
        title_justify="left",
        expand=True,
    )
    table.add_column("WHEN", no_wrap=True)
    table.add_column("HOST", no_wrap=True)
    table.add_column("WHERE", no_wrap=True)
    table.add_column("CHANGE", ratio=1, overflow="fold")
    for change in changes:
        where = _short_source(change.path) + (f":{change.line}" if change.line else "")
        who = f"{change.who} ({change.via})" if change.who else "who: not logged"
        lines = [f"[bold]{change.kind}[/]  {shown(who)}"]
        lines += [f"- {shown(change.before)}"] if change.before is not None else []
        lines += [f"+ {shown(change.after)}"] if change.after is not None else []
        table.add_row(_when(change), shown(change.host), shown(where), "\n".join(lines))
    return table


def _when(change: Change) -> str:
    """In this machine's zone; a time only a scan bounds is "before" that scan."""
    at = f"{change.at.astimezone():%m-%d %H:%M}"
    return f"before {at}" if change.known_by == BY_SCAN else at
