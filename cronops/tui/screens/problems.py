"""The Problems view, where cronops opens: every finding the scans stored across the fleet
(open or acknowledged: ✓ who, until when), hosts' own first; `a` acknowledges one.

A host's finding that explains its jobs' findings (cron stopped) is one row; Enter or space shows
the jobs under it. Its empty state says the fleet is healthy, since when, and how much was checked.
"""

from __future__ import annotations

from rich.text import Text

from cronops.analysis import worst_first
from cronops.audit import AuditResult
from cronops.labels import ago, short_job
from cronops.records import Finding, Incident
from cronops.tui.widgets.format import clip, loud, when
from cronops.tui.widgets.table import Column, TableView
from cronops.visible import visible

# Room for "user: command" in the job column: what tells one job from another.
JOB_WIDTH = 44


class ProblemsView(TableView[Finding]):
    grouped = True  # a host finding shows its jobs under it
    noun = "problems"

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.audit: AuditResult | None = None
        self.labels: dict[str, str] = {}  # entry id -> "user: command", shortened to JOB_WIDTH
        self.tags: dict[str, str] = {}  # host -> its tags, so the filter finds them
        self.expanded: set[str] = set()  # keys of the host findings whose jobs are shown
        # key of a job finding folded under a host's finding -> that host's finding
        self.groups: dict[str, Finding] = {}

    @property
    def columns(self) -> list[Column[Finding]]:  # type: ignore[override]
        theme = self.app.current_theme
        # Relative to when the audit judged: the hosts' zones differ, "3h ago" reads the same.
        now = self.audit.until if self.audit else None
        return [
            # The judge's order: hosts' own findings first, then the worst, then the latest.
            Column("severity", lambda f: loud(f.severity, theme), worst_first),
            Column("host", lambda f: f.host, lambda f: f.host),
            Column("job", self._job_cell, self._job),
            Column("kind", lambda f: loud(f.kind, theme, like=f.severity), lambda f: f.kind),
            # Someone is on it: who, and until when (the note is in the job's detail).
            Column("ack", self._ack_cell, lambda f: getattr(self._acked(f), "ack_by", "")),
            Column("count", lambda f: str(f.count), lambda f: f.count),
            Column("last", lambda f: ago(f.last_at, now) if now else "", _last),
            # The essential in a few words; the evidence in full is in the job's detail.
            Column("evidence", lambda f: clip(f.summary, 64), lambda f: f.summary),
        ]

    def _acked(self, finding: Finding) -> Incident | None:
        """Its stored incident, when someone acknowledged it."""
        if self.audit is None:
            return None
        return self.audit.acknowledged.get((finding.host, finding.entry_id, finding.kind))

    def _ack_cell(self, finding: Finding) -> str:
        acked = self._acked(finding)
        if acked is None:
            return ""
        until = f" until {when(acked.ack_until, finding.last_at.tzinfo)}" if acked.ack_until else ""
        return clip(f"✓ {visible(acked.ack_by or '')}{until}", 32)

    def _job(self, finding: Finding) -> str:
        return self.labels.get(finding.entry_id or "", "")

    def _job_cell(self, finding: Finding) -> str:
        if finding.jobs:
            arrow = "▾" if self.key(finding) in self.expanded else "▸"
            return f"{arrow} {len(finding.jobs)} jobs"
        return self.labels.get(finding.entry_id or "", "-")

    def cells(self, row: Finding) -> list[Text]:
        cells = super().cells(row)
        if self.key(row) in self.groups:  # a job under its host's finding
            cells[:3] = [Text(""), Text(""), Text("↳ ") + cells[2]]
        return cells

    def key(self, row: Finding) -> str:
        return f"{row.host}\0{row.entry_id}\0{row.kind}"

    def haystack(self, row: Finding) -> str:
        # A host's finding is found by its jobs' words too.
        return " ".join([self._words(row), *(self._words(job) for job in row.jobs)])

    def _words(self, row: Finding) -> str:
        entry = self.audit.entries.get(row.entry_id or "") if self.audit else None
        job = f"{entry.id} {entry.user} {entry.command}" if entry else ""
        return f"{row.host} {self.tags.get(row.host, '')} {job} {row.kind}".lower()

    def under(self, row: Finding, words: list[str]) -> list[Finding]:
        """All of a host finding's jobs when it is expanded; while filtering, those that match."""
        if not row.jobs:  # nearly every row: called for each row at each keystroke
            return []
        if self.key(row) in self.expanded:
            return list(row.jobs)
        if not words:
            return []
        return [job for job in row.jobs if all(w in self._words(job) for w in words)]

    def toggle(self) -> bool:
        """Show or hide the jobs under the host finding at the cursor (or of the job at the
        cursor); False when the cursor is on neither."""
        row = self.current()
        if row is None:
            return False
        group = self.groups.get(self.key(row)) or (row if row.jobs else None)
        if group is None:
            return False
        self.expanded ^= {self.key(group)}
        self.refill()
        self.table.move_cursor(self.table.index_of(self.key(group)))
        return True

    def show_audit(self, audit: AuditResult, tags: dict[str, str]) -> None:
        self.audit = audit
        self.tags = tags
        self.labels = {
            e.id: short_job(e.user, e.command, JOB_WIDTH) for e in audit.entries.values()
        }
        self.groups = {self.key(job): f for f in audit.findings for job in f.jobs}
        self.show(list(audit.findings), ordered=True)  # worst first, as the judge lists them

    def note(self, matched: int) -> str | Text:
        audit = self.audit
        if audit is None:
            return "reading the findings the scans stored…"
        if not self.items:
            checked = (
                f"{len(audit.hosts)} hosts, {audit.entries_checked} entries, "
                f"{audit.runs_checked} runs checked"
            )
            healthy = f"✔ The fleet is healthy since {when(audit.since)}: {checked}."
            return Text(healthy, style=f"bold {self.app.current_theme.success}")
        return super().note(matched)


def _last(finding: Finding) -> float:
    return finding.last_at.timestamp()
