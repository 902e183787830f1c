"""The Problems view, where cronops opens: every finding across the fleet, worst first.

Its empty state says the fleet is healthy, since when, and how much was checked."""

from __future__ import annotations

from rich.text import Text

from cronops.audit import AuditResult
from cronops.kinds import SEVERITIES
from cronops.labels import job_label
from cronops.records import Finding
from cronops.tui.widgets.format import ago, clip, loud, when
from cronops.tui.widgets.table import Column, TableView

# Room for "user: command" in the job column: what tells one job from another.
JOB_WIDTH = 44


class ProblemsView(TableView[Finding]):
    noun = "problems"

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.audit: AuditResult | None = None
        self.labels: dict[str, str] = {}  # entry id -> "user: command", shortened to JOB_WIDTH
        self.tags: dict[str, str] = {}  # host -> its tags, so the filter finds them
        self.hosts = 0
        self.complete = False

    @property
    def columns(self) -> list[Column[Finding]]:  # type: ignore[override]
        theme = self.app.current_theme
        # Relative to when the audit judged: the hosts' zones differ, "3h ago" reads the same.
        now = self.audit.until if self.audit else None
        return [
            Column("severity", lambda f: loud(f.severity, theme), _severity_order),
            Column("host", lambda f: f.host, lambda f: f.host),
            Column("job", lambda f: self.labels.get(f.entry_id or "", "-"), self._job),
            Column("kind", lambda f: loud(f.kind, theme, like=f.severity), lambda f: f.kind),
            Column("count", lambda f: str(f.count), lambda f: f.count),
            Column("last", lambda f: ago(f.last_at, now) if now else "", _last),
            Column("evidence", lambda f: clip(f.evidence or f.detail, 80), lambda f: f.evidence),
            Column("id", lambda f: f.entry_id or "-", lambda f: f.entry_id or ""),
        ]

    def _job(self, finding: Finding) -> str:
        return self.labels.get(finding.entry_id or "", "")

    def key(self, row: Finding) -> str:
        return f"{row.host}\0{row.entry_id}\0{row.kind}"

    def haystack(self, row: Finding) -> str:
        entry = self.audit.entries.get(row.entry_id or "") if self.audit else None
        job = f"{entry.id} {entry.user} {entry.command}" if entry else ""
        return f"{row.host} {self.tags.get(row.host, '')} {job} {row.kind}".lower()

    def show_audit(
        self, audit: AuditResult, tags: dict[str, str], hosts: int, complete: bool = True
    ) -> None:
        self.audit = audit
        self.hosts = hosts
        self.complete = complete
        self.tags = tags
        self.labels = {
            e.id: job_label(e.user, e.command, JOB_WIDTH) for e in audit.entries.values()
        }
        self.show(list(audit.findings))

    def note(self, matched: int) -> str | Text:
        audit = self.audit
        if audit is None:
            return "judging the last 24 hours of history…"
        if not self.complete:
            judged = f"judging {len(audit.hosts)}/{self.hosts} hosts… "
            return judged + str(super().note(matched))
        if not self.items:
            checked = (
                f"{len(audit.hosts)} hosts, {len(audit.entries)} entries, "
                f"{audit.runs_checked} runs checked"
            )
            healthy = f"✔ The fleet is healthy since {when(audit.since)}: {checked}."
            return Text(healthy, style=f"bold {self.app.current_theme.success}")
        return super().note(matched)


def _last(finding: Finding) -> float:
    return finding.last_at.timestamp()


def _severity_order(finding: Finding) -> tuple:
    # Worst first, then the latest, as the audit orders them.
    return (SEVERITIES.index(finding.severity), -finding.last_at.timestamp())
