"""What the CLI prints: tables for a person at a terminal, JSON for scripts, progress while waiting.

Colours are the terminal's own named colours, so they read in light and dark themes and vanish when piped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cronops.policy import SEVERITIES
from cronops.scan import HostReport, HostScan, host_state
from cronops.schedule import describe
from cronops.transport import HostStatus

if TYPE_CHECKING:  # for the hints only: `cronops scan` must not load the judging
    from cronops.analysis import Finding
    from cronops.audit import AuditResult

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


def console(file: TextIO | None = None) -> Console:
    # highlight=False: rich would otherwise colour numbers and paths in our own sentences.
    return Console(file=file or sys.stdout, highlight=False)


def hosts_json(reports: Sequence[HostReport]) -> dict[str, Any]:
    return {"hosts": [_host_json(r) for r in reports]}


def _host_json(report: HostReport) -> dict[str, Any]:
    return host_state(report) | {"port": report.host.port}


def print_json(data: Any, file: TextIO | None = None) -> None:
    print(json.dumps(data, indent=2, default=str), file=file or sys.stdout)


def hosts_table(reports: Sequence[HostReport]) -> Table:
    failed = sum(1 for r in reports if not r.ok)
    title = f"{len(reports)} hosts, {len(reports) - failed} ok" + (
        f", {failed} failing" if failed else ""
    )
    table = Table(title=title, title_justify="left", expand=False)
    for column in ("HOST", "TARGET", "STATUS", "LATENCY", "DETAIL"):
        table.add_column(column, no_wrap=column != "DETAIL")
    for report in reports:
        table.add_row(
            escape(report.host.name),
            escape(report.host.target),
            f"[{STATUS_STYLE[report.status]}]{report.status}[/]",
            f"{report.latency_ms:.0f} ms" if report.latency_ms is not None else "-",
            escape(_detail(report)),
        )
    return table


def _detail(report: HostReport) -> str:
    if report.error:
        return report.error
    if not report.result:
        return ""
    facts = report.result.facts
    detail = f"{facts.hostname} ({facts.zone_name})"
    if skew := facts.skew.total_seconds():
        detail += f", clock {skew:+.0f}s off"
    return detail


class FleetProgress:
    """A progress bar on a terminal; otherwise one plain line per host (or nothing, when quiet)."""

    def __init__(self, total: int, label: str, *, plain_lines: bool, file: TextIO | None = None):
        self.out = console(file or sys.stderr)
        self.plain_lines = plain_lines
        self.bar: Progress | None = None
        if self.out.is_terminal:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.out,
                transient=True,
            )
            self.task = self.bar.add_task(label, total=total)

    def __enter__(self) -> FleetProgress:
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar:
            self.bar.stop()

    def done(self, report: HostReport | HostScan) -> None:
        if self.bar:
            self.bar.advance(self.task)
            self.bar.update(self.task, description=f"{report.host.name}: {report.status}")
        elif self.plain_lines:
            error = f" ({report.error})" if report.error else ""
            print(f"{report.host.name}: {report.status}{error}", file=self.out.file, flush=True)


def scan_json(outcomes: Sequence[HostScan]) -> dict[str, Any]:
    return {
        "hosts": [
            {
                "name": o.host.name,
                "status": str(o.status),
                "error": o.error,
                "entries": o.entries,
                "crontab_problems": o.problems,
                "new_runs": o.new_runs,
                "log_lines": o.log_lines,
                "garbage_lines": o.garbage_lines,
                "missing_logs": o.missing_logs,
            }
            for o in outcomes
        ],
        "summary": _scan_totals(outcomes),
    }


def _scan_totals(outcomes: Sequence[HostScan]) -> dict[str, int]:
    return {
        "hosts_ok": sum(1 for o in outcomes if o.ok),
        "hosts_failed": sum(1 for o in outcomes if not o.ok),
        "entries": sum(o.entries for o in outcomes),
        "new_runs": sum(o.new_runs for o in outcomes),
        "crontab_problems": sum(o.problems for o in outcomes),
        "garbage_lines": sum(o.garbage_lines for o in outcomes),
    }


def scan_summary(outcomes: Sequence[HostScan]) -> Table:
    totals = _scan_totals(outcomes)
    title = (
        f"Scanned {len(outcomes)} hosts: {totals['hosts_ok']} ok, {totals['hosts_failed']} failed; "
        f"{totals['entries']} entries, {totals['new_runs']} new runs"
    )
    table = Table(title=title, title_justify="left")
    for column in ("HOST", "STATUS", "ENTRIES", "NEW RUNS", "NOTES"):
        table.add_column(column, no_wrap=column != "NOTES")
    for o in outcomes:
        table.add_row(
            escape(o.host.name),
            f"[{STATUS_STYLE[o.status]}]{o.status}[/]",
            str(o.entries),
            str(o.new_runs),
            _scan_notes(o),
        )
    return table


def _scan_notes(outcome: HostScan) -> str:
    if outcome.error:
        return escape(outcome.error)
    notes = []
    if outcome.problems:
        notes.append(f"[yellow]{outcome.problems} crontab lines cron would reject[/]")
    if outcome.garbage_lines:
        notes.append(f"{outcome.garbage_lines} unreadable log lines skipped")
    if outcome.missing_logs:
        notes.append(f"[yellow]no log: {escape(', '.join(outcome.missing_logs))}[/]")
    return "; ".join(notes)


JOB_FIELDS = ("id", "host", "user", "source", "line", "schedule", "command", "disabled")


def jobs_json(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "jobs": [
            {
                **{k: e[k] for k in JOB_FIELDS},
                "disabled": bool(e["disabled"]),
                "paused": json.loads(e["paused"]) if e["paused"] else None,
                "description": describe(e["schedule"]),
            }
            for e in entries
        ]
    }


def jobs_table(entries: Sequence[dict[str, Any]], width: int) -> Table:
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
        command = escape(e["command"])
        if e["paused"]:
            command = f"[strike]{command}[/] ({escape(paused_note(json.loads(e['paused'])))})"
        elif e["disabled"]:
            command = f"[strike]{command}[/] (disabled)"
        row = [e["id"], escape(e["host"]), escape(e["user"]), escape(e["schedule"])]
        if wide:
            row.append(f"[italic]{escape(describe(e['schedule']))}[/]")
        row += [command, escape(f"{_short_source(e['source'])}:{e['line']}")]
        table.add_row(*row)
    return table


def paused_note(pause: dict[str, Any]) -> str:
    """`paused by alice@ops until 2026-11-23 06:00: disk full`, from a pause marker's fields."""
    until = f" until {pause['until'][:16].replace('T', ' ')} UTC" if pause.get("until") else ""
    reason = f": {pause['reason']}" if pause.get("reason") else ""
    return f"paused by {pause['by']}{until}{reason}"


def _short_source(path: str) -> str:
    """`crontabs/alice` and `cron.d/sync` say as much as the full spool path, in less room."""
    parts = path.rsplit("/", 2)
    return "/".join(parts[-2:]) if len(parts) == 3 and parts[0] else path


def audit_json(audit: AuditResult) -> dict[str, Any]:
    """The contract for scripts: times in ISO 8601 with their offset."""
    return {
        "generated_at": audit.generated_at.isoformat(),
        "since": audit.since.isoformat(),
        "until": audit.until.isoformat(),
        "hosts": [{"name": h.name, "status": h.status, "error": h.error} for h in audit.hosts],
        "findings": [_finding_json(f, audit) for f in audit.findings],
    }


def _finding_json(finding: Finding, audit: AuditResult) -> dict[str, Any]:
    entry = audit.entries.get(finding.entry_id) if finding.entry_id else None
    return {
        "host": finding.host,
        "kind": finding.kind,
        "severity": finding.severity,
        "count": finding.count,
        "first_at": finding.first_at.isoformat(),
        "last_at": finding.last_at.isoformat(),
        "evidence": finding.evidence,
        "detail": finding.detail,
        "runbook": finding.runbook,
        "job": None
        if entry is None
        else {
            "id": entry.id,
            "user": entry.user,
            "source": entry.source,
            "schedule": entry.schedule,
            "command": entry.command,
        },
    }


def audit_headline(audit: AuditResult) -> str:
    counts = {s: sum(1 for f in audit.findings if f.severity == s) for s in SEVERITIES}
    problems = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no findings"
    down = sum(1 for h in audit.hosts if h.status != "ok")
    hosts = f"{len(audit.hosts)} hosts" + (f" ({down} not reachable)" if down else "")
    return (
        f"{problems} across {hosts}, {len(audit.entries)} entries and {audit.runs_checked} runs "
        f"checked since {audit.since:%Y-%m-%d %H:%M %Z}"
    )


def audit_tables(audit: AuditResult) -> list[Any]:
    """A headline, then per severity the findings by host: what happened on one line, the
    detail and the evidence beneath it, so it reads in 80 columns as well as in 200."""
    parts: list[Any] = [f"[bold]{escape(audit_headline(audit))}[/]"]
    for severity in SEVERITIES:
        findings = sorted(
            (f for f in audit.findings if f.severity == severity), key=lambda f: f.host
        )
        if not findings:
            continue
        style = SEVERITY_STYLE[severity]
        parts.append(f"\n[{style}]{severity.upper()}[/] ({len(findings)})")
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(ratio=1, overflow="fold")
        for finding in findings:
            count = f" x{finding.count}" if finding.count > 1 else ""
            what = escape(_job_label(finding, audit))
            when = f"{finding.last_at:%m-%d %H:%M %Z}"
            lines = [f"{what}  [bold]{when}[/]", escape(finding.detail)]
            lines.append(f"[italic]{escape(finding.evidence)}[/]")
            if finding.runbook:
                lines.append(f"runbook: {escape(finding.runbook)}")
            table.add_row(
                escape(finding.host), f"[{style}]{finding.kind}{count}[/]", "\n".join(lines)
            )
        parts.append(table)
    return parts


def audit_markdown(audit: AuditResult) -> str:
    lines = [f"# cronops audit, {audit.generated_at:%Y-%m-%d %H:%M %Z}", "", audit_headline(audit)]
    for severity in SEVERITIES:
        findings = [f for f in audit.findings if f.severity == severity]
        if not findings:
            continue
        lines += ["", f"## {severity.capitalize()} ({len(findings)})", ""]
        lines += [
            "| host | job | what | count | last | detail | evidence |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in sorted(findings, key=lambda f: f.host):
            cells = [
                f.host,
                _job_label(f, audit),
                f.kind,
                str(f.count),
                f.last_at.isoformat(),
                f.detail + (f" ([runbook]({f.runbook}))" if f.runbook else ""),
                f.evidence,
            ]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _job_label(finding: Finding, audit: AuditResult) -> str:
    entry = audit.entries.get(finding.entry_id) if finding.entry_id else None
    if entry is None:
        return "(host)"
    return f"{entry.id} {entry.user}: {entry.command} ({describe(entry.schedule)})"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


ACTION_FIELDS = (
    "id", "at", "actor", "host", "entry_id", "new_entry_id", "action", "path", "line", "before",
    "after", "result", "detail",
)  # fmt: skip


def actions_json(actions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The audit trail for scripts; the whole crontab texts stay in the history database."""
    return {"actions": [{k: a.get(k) for k in ACTION_FIELDS} for a in actions]}


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
            f"- {escape(a['before'] or '')}\n+ {escape(a['after'])}"
            if a["after"] is not None and a["after"] != a["before"]
            else escape((a["detail"] or "").splitlines()[0] if a["detail"] else "")
        )
        table.add_row(
            a["at"][:19].replace("T", " "),
            escape(a["actor"]),
            escape(a["host"]),
            entry,
            a["action"],
            f"[{style.get(a['result'], '')}]{a['result']}[/]",
            change,
        )
    return table
