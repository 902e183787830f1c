"""What the CLI prints for scripts: JSON and Markdown, and the wording the tables share.

The tables for a person at a terminal are in `tables`, which loads rich: a script's
`--format json` does without it. Progress while a command waits is in `progress`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from cronops.crontab import PauseInfo
from cronops.kinds import SEVERITIES
from cronops.scan import HostReport, HostScan, host_state
from cronops.schedule import describe
from cronops.store import iso
from cronops.visible import visible
from cronops.wording import zone_name

if TYPE_CHECKING:  # for the hints only: `cronops scan` must not load the judging
    from cronops.audit import AuditResult, Jobs
    from cronops.changes import Change
    from cronops.lint import LintNote
    from cronops.records import EntryStatus, Finding, Incident, JobEntry, RunDay
    from cronops.retention import Pruned


def hosts_json(reports: Sequence[HostReport]) -> dict[str, Any]:
    return {"hosts": [_host_json(r) for r in reports]}


def _host_json(report: HostReport) -> dict[str, Any]:
    return host_state(report) | {
        "port": report.host.port,
        "last_scan_error": report.last_scan_error,
    }


def print_json(data: Any, file: TextIO | None = None) -> None:
    # ensure_ascii: every character beyond ASCII travels as \uXXXX, so no control character
    # (C0, DEL, C1), bidi override or raw byte from a host reaches the reader's terminal raw.
    print(json.dumps(data, indent=2, default=str, ensure_ascii=True), file=file or sys.stdout)


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
                "missing_logs": list(o.missing_logs),
                "more_to_read": o.more_logs,
            }
            for o in outcomes
        ],
        "summary": scan_totals(outcomes),
    }


def scan_totals(outcomes: Sequence[HostScan]) -> dict[str, int]:
    return {
        "hosts_ok": sum(1 for o in outcomes if o.ok),
        "hosts_failed": sum(1 for o in outcomes if not o.ok),
        "entries": sum(o.entries for o in outcomes),
        "new_runs": sum(o.new_runs for o in outcomes),
        "crontab_problems": sum(o.problems for o in outcomes),
        "garbage_lines": sum(o.garbage_lines for o in outcomes),
    }


def jobs_json(jobs: Jobs, states: Mapping[str, EntryStatus]) -> dict[str, Any]:
    """What the Jobs view shows, for scripts: each entry, its state by the judge, its last run
    and its next run. Times in the job's zone (its host's, or CRON_TZ on cronie), with offset."""
    return {"jobs": [_job_json(entry, jobs, states[entry.id]) for entry in jobs.entries]}


def _job_json(entry: JobEntry, jobs: Jobs, status: EntryStatus) -> dict[str, Any]:
    zone = jobs.zone(entry)
    runs = jobs.recent_runs.get(entry.id)
    last = runs[-1] if runs else None
    return {
        "id": entry.id,
        "host": entry.host,
        "user": entry.user,
        "source": entry.source,
        "line": entry.line,
        "schedule": entry.schedule,
        "command": entry.command,
        "disabled": entry.disabled,
        "paused": _pause_json(entry.paused),
        "description": describe(entry.schedule),
        "zone": zone_name(zone),
        "state": status.state,
        "explanation": status.explanation,
        "last_run": None
        if last is None
        else {
            "started_at": last.started_at.astimezone(zone).isoformat(),
            "duration_s": None
            if last.ended_at is None
            else (last.ended_at - last.started_at).total_seconds(),
            "outcome": status.last_outcome,
        },
        "next_run": status.next_run.astimezone(zone).isoformat() if status.next_run else None,
    }


def _pause_json(pause: PauseInfo | None) -> dict[str, Any] | None:
    """The pause marker's fields, times as the history stores them (UTC, ISO 8601)."""
    if pause is None:
        return None
    return {"by": pause.by, "at": iso(pause.at), "reason": pause.reason, "until": iso(pause.until)}


def paused_note(pause: PauseInfo) -> str:
    """`paused by alice@ops until 2026-11-23 06:00 UTC: disk full`, from a pause marker."""
    until = f" until {pause.until.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if pause.until else ""
    reason = f": {pause.reason}" if pause.reason else ""
    return f"paused by {pause.by}{until}{reason}"


def audit_json(audit: AuditResult) -> dict[str, Any]:
    """The contract for scripts: times in ISO 8601 with their offset."""
    return {
        "generated_at": audit.generated_at.isoformat(),
        "since": audit.since.isoformat(),
        "until": audit.until.isoformat(),
        "hosts": [{"name": h.name, "status": h.status, "error": h.error} for h in audit.hosts],
        "findings": [_finding_json(f, audit) for f in audit.findings],
        "folded_days": folded_totals(audit.folded),
    }


FOLDED_COUNTS = ("runs", "ok", "failed", "killed", "unknown", "manual")


def folded_totals(days: Sequence[RunDay]) -> dict[str, Any]:
    """Daily counts summed: the part of a window older than the retention (its first day, and
    each count)."""
    totals: dict[str, Any] = {"from": min((d.day for d in days), default=None)}
    return totals | {count: sum(getattr(d, count) for d in days) for count in FOLDED_COUNTS}


def _finding_json(finding: Finding, audit: AuditResult) -> dict[str, Any]:
    entry = audit.entries.get(finding.entry_id) if finding.entry_id else None
    return {
        "host": finding.host,
        "kind": finding.kind,
        "severity": finding.severity,
        "count": finding.count,
        "first_at": finding.first_at.isoformat(),
        "last_at": finding.last_at.isoformat(),
        "summary": finding.summary,
        # failed: the failed runs in a row up to the latest run (may reach before `since`)
        "streak": finding.streak,
        "streak_since": finding.streak_since.isoformat() if finding.streak_since else None,
        "evidence": finding.evidence,
        "detail": finding.detail,
        # missed, never_ran: why the latest run due did not happen, or "Cause unknown..."
        "cause": finding.cause or None,
        "runbook": finding.runbook,
        # A host finding's job findings it explains (cron stopped: their missed runs).
        "jobs": [_finding_json(job, audit) for job in finding.jobs],
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


def findings_json(incidents: Sequence[Incident]) -> dict[str, Any]:
    return {"findings": [incident_json(i) for i in incidents]}


def incident_json(incident: Incident) -> dict[str, Any]:
    """A stored finding for scripts: every field of the record, times in ISO 8601 (UTC)."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in vars(incident).items()
    } | {"jobs": list(incident.jobs)}


def streak_note(incident: Incident) -> str:
    """`failed 7 times in a row since 11-28`; "" for an incident without a streak."""
    if not incident.streak or incident.streak_since is None:
        return ""
    return f"failed {incident.streak} times in a row since {incident.streak_since:%m-%d}"


def acknowledged(incident: Incident) -> str:
    """What `cronops ack` says it did: which finding, by whom, until when, the note."""
    job = f" {incident.entry_id}" if incident.entry_id else ""
    until = f" until {incident.ack_until:%Y-%m-%d %H:%M %Z}" if incident.ack_until else ""
    note = f": {incident.ack_note}" if incident.ack_note else ""
    return (
        f"acknowledged finding {incident.id} ({incident.severity} {incident.kind} on "
        f"{incident.host}{job}, {incident.summary}) as {incident.ack_by}{until}{note}"
    )


def audit_headline(audit: AuditResult) -> str:
    counts = {s: sum(1 for f in audit.findings if f.severity == s) for s in SEVERITIES}
    problems = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no findings"
    down = sum(1 for h in audit.hosts if h.status != "ok")
    hosts = f"{len(audit.hosts)} hosts" + (f" ({down} not reachable)" if down else "")
    headline = (
        f"{problems} across {hosts}, {audit.entries_checked} entries and {audit.runs_checked} runs "
        f"checked since {audit.since:%Y-%m-%d %H:%M %Z}"
    )
    if audit.folded:
        headline += f"; before the retention, {folded_text(folded_totals(audit.folded))}"
    return headline


def folded_text(totals: Mapping[str, Any]) -> str:
    """Daily counts in words, e.g. for the part of a window older than the retention."""
    return (
        f"{totals['runs']} runs from {totals['from']} counted by day "
        f"({totals['failed']} failed, {totals['killed']} killed, {totals['unknown']} unknown)"
    )


def pruned_json(pruned: Pruned) -> dict[str, Any]:
    return vars(pruned).copy()


def pruned_text(pruned: Pruned) -> str:
    left = "" if pruned.done else " (stopped at its time limit: runs are left to fold)"
    return (
        f"folded {pruned.runs_folded} runs into daily counts in {pruned.batches} transactions "
        f"({pruned.runs_deleted} deleted, the others still needed), deleted "
        f"{pruned.runs_released} kept runs no longer needed, dropped {pruned.days_dropped} "
        f"daily counts past their retention; {pruned.seconds:.1f} s, the longest transaction "
        f"{pruned.longest_batch_s * 1000:.0f} ms{left}"
    )


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
        for f in findings:  # in the judge's order: the hosts' own first
            cells = [
                f.host,
                _md_jobs(f, audit) if f.jobs else job_label(f, audit),
                f.kind,
                str(f.count),
                f.last_at.isoformat(),
                f.detail + (f" ([runbook]({f.runbook}))" if f.runbook else ""),
                f.evidence,
            ]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def job_label(finding: Finding, audit: AuditResult) -> str:
    entry = audit.entries.get(finding.entry_id) if finding.entry_id else None
    if entry is None:
        return "(host)"
    return f"{entry.id} {entry.user}: {entry.command} ({describe(entry.schedule)})"


def _md_jobs(finding: Finding, audit: AuditResult) -> list[str]:
    """A host finding's jobs, one a line of its cell."""
    jobs = [f"{job_label(job, audit)}: {job.kind} ×{job.count}" for job in finding.jobs]
    return [f"{len(jobs)} jobs:", *jobs]


def _md_cell(text: str | list[str]) -> str:
    """A table cell: escaped, on one line (lines given as a list are joined by <br>)."""
    if isinstance(text, list):
        return "<br>".join(_md_cell(line) for line in text)
    return visible(text.replace("\n", " ")).replace("|", "\\|")


ACTION_FIELDS = (
    "id", "at", "actor", "login", "host", "entry_id", "new_entry_id", "action", "path", "line",
    "before", "after", "result", "detail",
)  # fmt: skip


def actions_json(actions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The audit trail for scripts; the whole crontab texts stay in the history database."""
    return {"actions": [{k: a.get(k) for k in ACTION_FIELDS} for a in actions]}


def lint_json(notes: Sequence[LintNote], now: datetime) -> dict[str, Any]:
    """Each note with the line it is about; `dates` are the runs it speaks of, in ISO 8601."""
    return {
        "generated_at": now.isoformat(),
        "notes": [
            {
                "host": n.host,
                "path": n.path,
                "line": n.line,
                "rule": n.rule,
                "entry_id": n.entry_id,
                "text": n.text,
                "message": n.message,
                "dates": [d.isoformat() for d in n.dates],
            }
            for n in notes
        ],
    }


def changes_json(changes: Sequence[Change], since: datetime, now: datetime) -> dict[str, Any]:
    """The timeline, oldest first; `at` is as sure as `known_by` says (see `cronops changes -h`)."""
    return {
        "since": since.isoformat(),
        "until": now.isoformat(),
        "changes": [
            {
                "at": c.at.isoformat(),
                "known_by": c.known_by,
                "host": c.host,
                "path": c.path,
                "line": c.line,
                "kind": c.kind,
                "entry_id": c.entry_id,
                "previous_id": c.previous_id,
                "before": c.before,
                "after": c.after,
                "who": c.who,
                "via": c.via,
                "seen_at": c.seen_at.isoformat() if c.seen_at else None,
                "not_before": c.not_before.isoformat() if c.not_before else None,
            }
            for c in changes
        ],
    }
