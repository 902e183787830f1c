"""The Hosts view: reachability, cron daemon, clock skew, entries and problems per host.

A host that could not be scanned shows its error here, never as a crash."""

from __future__ import annotations

from collections import Counter

from cronops.tui.data import HostRow
from cronops.tui.widgets.format import clip, loud, when
from cronops.tui.widgets.table import Column, TableView


class HostsView(TableView[HostRow]):
    noun = "hosts"
    default_sort = 0

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.problems: Counter = Counter()

    @property
    def columns(self) -> list[Column[HostRow]]:  # type: ignore[override]
        theme = self.app.current_theme
        return [
            Column("host", lambda h: h.host.name, lambda h: h.host.name),
            Column("status", lambda h: loud(h.facts.status, theme), lambda h: h.facts.status),
            Column("cron", lambda h: loud(_daemon(h), theme), _daemon),
            Column("skew", lambda h: _skew(h), lambda h: abs(h.facts.clock_skew.total_seconds())),
            Column("entries", lambda h: str(h.entries), lambda h: h.entries),
            Column("problems", lambda h: str(self.problems[h.host.name]), self._problems),
            Column("last scan", lambda h: when(h.scanned_at), lambda h: h.scanned_at),
            Column("tags", lambda h: ",".join(h.host.tags), lambda h: h.host.tags),
            Column("error", lambda h: clip(h.facts.error or "", 60), lambda h: h.facts.error or ""),
        ]

    def _problems(self, row: HostRow) -> int:
        return self.problems[row.host.name]

    def key(self, row: HostRow) -> str:
        return row.host.name

    def haystack(self, row: HostRow) -> str:
        return row.haystack


def _daemon(row: HostRow) -> str:
    running = row.facts.cron_running
    return "-" if running is None else "ok" if running else "stopped"


def _skew(row: HostRow) -> str:
    seconds = row.facts.clock_skew.total_seconds()
    return f"{seconds:+.0f}s" if row.scanned_at else "-"
