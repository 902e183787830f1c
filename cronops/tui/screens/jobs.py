"""The Jobs view: every crontab entry on the fleet with its last run, next run and state.

The next run is in the host's zone (or the entry's CRON_TZ on cronie), as cron reads it."""

from __future__ import annotations

from cronops.labels import short_command
from cronops.records import RunRecord
from cronops.schedule import describe
from cronops.tui.data import JobRow
from cronops.tui.widgets.format import clip, loud, span, trend, when
from cronops.tui.widgets.table import Column, TableView
from cronops.visible import visible

_STATE_ORDER = ("missed", "failing", "hung", "late", "unknown", "running", "ran", "ok")


class JobsView(TableView[JobRow]):
    noun = "entries"
    default_sort = 1  # host

    @property
    def columns(self) -> list[Column[JobRow]]:  # type: ignore[override]
        theme = self.app.current_theme
        return [
            # What an operator scans for first comes first: narrow terminals show only these.
            Column("state", lambda j: loud(j.status.state, theme), _state_order),
            Column("host", lambda j: j.entry.host, lambda j: (j.entry.host, j.entry.id)),
            Column("user", lambda j: j.entry.user, lambda j: j.entry.user),
            Column("schedule", lambda j: j.entry.schedule, lambda j: j.entry.schedule),
            Column("command", lambda j: short_command(visible(j.entry.command), 32), _command),
            Column("last run", lambda j: _last(j), lambda j: _started(j)),
            Column("took", lambda j: _took(j), lambda j: _duration(j)),
            Column("next run", lambda j: when(j.status.next_run, j.zone), _next),
            Column("when", lambda j: clip(describe(j.entry.schedule), 32), _described_of),
            Column("trend", lambda j: trend([_took_s(r) for r in j.recent_runs]), _duration),
            Column("id", lambda j: j.entry.id, lambda j: j.entry.id),
        ]

    def key(self, row: JobRow) -> str:
        return row.entry.id

    def haystack(self, row: JobRow) -> str:
        return row.haystack


def _command(job: JobRow) -> str:
    return job.entry.command


def _described_of(job: JobRow) -> str:
    return describe(job.entry.schedule)


def _state_order(job: JobRow) -> tuple:
    state = job.status.state
    return (
        _STATE_ORDER.index(state) if state in _STATE_ORDER else len(_STATE_ORDER),
        job.entry.host,
    )


def _last(job: JobRow) -> str:
    if job.last_run is None:
        return "never seen"
    outcome = job.status.last_outcome or "?"
    return f"{when(job.last_run.started_at, job.zone)} {outcome}"


def _started(job: JobRow) -> float | None:
    return job.last_run.started_at.timestamp() if job.last_run else None


def _duration(job: JobRow) -> float | None:
    return _took_s(job.last_run) if job.last_run else None


def _took_s(run: RunRecord) -> float | None:
    return None if run.ended_at is None else (run.ended_at - run.started_at).total_seconds()


def _took(job: JobRow) -> str:
    return span(_duration(job))


def _next(job: JobRow) -> float | None:
    return job.status.next_run.timestamp() if job.status.next_run else None
