"""The Problems view, where cronops opens: every finding the scans stored across the fleet
(open or acknowledged: ✓ who, until when), hosts' own first; `a` acknowledges one.

A host's finding that explains its jobs' findings (cron stopped) is one row; Enter or space shows
the jobs under it. Its empty state says the fleet is healthy, since when, and how much was checked.
"""

from __future__ import annotations

from rich.text import Text

from cronops.analysis import worst_first
from cronops.labels import ago, short_job
from cronops.tui.data import Problem, Problems
from cronops.tui.widgets.format import clip, loud, when
from cronops.tui.widgets.table import Column, TableView
from cronops.visible import visible

# Room for "user: command" in the job column: what tells one job from another.
JOB_WIDTH = 44


class ProblemsView(TableView[Problem]):
    grouped = True  # a host finding shows its jobs under it
    noun = "problems"

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.problems: Problems | None = None
        self.tags: dict[str, str] = {}  # host -> its tags, so the filter finds them
        self.expanded: set[str] = set()  # keys of the host findings whose jobs are shown
        # key of a job finding folded under a host's finding -> that host's finding
        self.groups: dict[str, Problem] = {}

    @property
    def columns(self) -> list[Column[Problem]]:  # type: ignore[override]
        theme = self.app.current_theme
        # Relative to when they were read: the hosts' zones differ, "3h ago" reads the same.
        now = self.problems.until if self.problems else None
        return [
            # The judge's order: hosts' own findings first, then the worst, then the latest.
            Column("severity", lambda f: loud(f.severity, theme), worst_first),
            Column("host", lambda f: f.host, lambda f: f.host),
            Column("job", self._job_cell, self._job),
            Column("kind", lambda f: loud(f.kind, theme, like=f.severity), lambda f: f.kind),
            # Someone is on it: who, and until when (the note is in the job's detail).
            Column("ack", self._ack_cell, lambda f: f.ack_by or ""),
            Column("count", lambda f: str(f.count), lambda f: f.count),
            Column("last", lambda f: ago(f.last_at, now) if now else "", _last),
            # The essential in a few words; the evidence in full is in the job's detail.
            Column("evidence", lambda f: clip(f.summary, 64), lambda f: f.summary),
        ]

    def _ack_cell(self, problem: Problem) -> str:
        """Someone is on it: who, and until when."""
        if problem.ack_by is None:
            return ""
        at = problem.ack_until
        until = f" until {when(at, problem.last_at.tzinfo)}" if at else ""
        return clip(f"✓ {visible(problem.ack_by)}{until}", 32)

    def _job(self, problem: Problem) -> str:
        """'user: command', shortened to JOB_WIDTH; '' when it has no (present) entry."""
        if problem.user is None or problem.command is None:
            return ""
        return short_job(problem.user, problem.command, JOB_WIDTH)

    def _job_cell(self, problem: Problem) -> str:
        if problem.jobs:
            arrow = "▾" if self.key(problem) in self.expanded else "▸"
            return f"{arrow} {len(problem.jobs)} jobs"
        return self._job(problem) or "-"

    def cells(self, row: Problem) -> list[Text]:
        cells = super().cells(row)
        if self.key(row) in self.groups:  # a job under its host's finding
            cells[:3] = [Text(""), Text(""), Text("↳ ") + cells[2]]
        return cells

    def key(self, row: Problem) -> str:
        return f"{row.host}\0{row.entry_id}\0{row.kind}"

    def haystack(self, row: Problem) -> str:
        # A host's finding is found by its jobs' words too.
        return " ".join([self._words(row), *(self._words(job) for job in row.jobs)])

    def _words(self, row: Problem) -> str:
        present = row.user is not None and row.command is not None
        job = f"{row.entry_id} {row.user} {row.command}" if present else ""
        return f"{row.host} {self.tags.get(row.host, '')} {job} {row.kind}".lower()

    def under(self, row: Problem, words: list[str]) -> list[Problem]:
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

    def show_problems(self, problems: Problems, tags: dict[str, str]) -> None:
        self.problems = problems
        self.tags = tags
        self.groups = {self.key(job): p for p in problems.rows for job in p.jobs}
        self.show(list(problems.rows), ordered=True)  # worst first, as the judge lists them

    def note(self, matched: int) -> str | Text:
        problems = self.problems
        if problems is None:
            return "reading the findings the scans stored…"
        if not self.items:
            checked = (
                f"{problems.hosts} hosts, {problems.entries_checked} entries, "
                f"{problems.runs_checked} runs checked"
            )
            healthy = f"✔ The fleet is healthy since {when(problems.since)}: {checked}."
            return Text(healthy, style=f"bold {self.app.current_theme.success}")
        return super().note(matched)


def _last(problem: Problem) -> float:
    return problem.last_at.timestamp()
