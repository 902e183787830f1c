"""The Problems view, where cronops opens: every finding across the fleet, worst first.

Its empty state says the fleet is healthy, since when, and how much was checked."""

from __future__ import annotations

from rich.text import Text

from cronops.audit import AuditResult
from cronops.kinds import SEVERITIES
from cronops.records import Finding
from cronops.tui.widgets.format import clip, loud, when
from cronops.tui.widgets.table import Column, TableView


class ProblemsView(TableView[Finding]):
    noun = "problems"

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.audit: AuditResult | None = None
        self.labels: dict[str, str] = {}  # entry id -> "id  command", for the entry column
        self.tags: dict[str, str] = {}  # host -> its tags, so the filter finds them
        self.hosts = 0
        self.complete = False

    @property
    def columns(self) -> list[Column[Finding]]:  # type: ignore[override]
        theme = self.app.current_theme
        return [
            Column("severity", lambda f: loud(f.severity, theme), _severity_order),
            Column("host", lambda f: f.host, lambda f: f.host),
            Column("entry", lambda f: clip(self.labels.get(f.entry_id or "", "-"), 36), self._e),
            Column("kind", lambda f: loud(f.kind, theme, like=f.severity), lambda f: f.kind),
            Column("count", lambda f: str(f.count), lambda f: f.count),
            Column("last", lambda f: when(f.last_at), lambda f: f.last_at.timestamp()),
            Column("evidence", lambda f: clip(f.evidence or f.detail, 80), lambda f: f.evidence),
        ]

    def _e(self, finding: Finding) -> str:
        return self.labels.get(finding.entry_id or "", "")

    def key(self, row: Finding) -> str:
        return f"{row.host}\0{row.entry_id}\0{row.kind}"

    def haystack(self, row: Finding) -> str:
        label = self.labels.get(row.entry_id or "", "")
        return f"{row.host} {self.tags.get(row.host, '')} {label} {row.kind}".lower()

    def show_audit(
        self, audit: AuditResult, tags: dict[str, str], hosts: int, complete: bool = True
    ) -> None:
        self.audit = audit
        self.hosts = hosts
        self.complete = complete
        self.tags = tags
        self.labels = {e.id: f"{e.id}  {e.user}: {e.command}" for e in audit.entries.values()}
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


def _severity_order(finding: Finding) -> tuple:
    # Worst first, then the latest, as the audit orders them.
    return (SEVERITIES.index(finding.severity), -finding.last_at.timestamp())
