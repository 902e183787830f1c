"""A scan's progress on the status line: a bar of the hosts that answered out of all, and the
names of those that failed. Shown while a scan runs, hidden when idle."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from cronops.visible import visible

NAMED = 3  # failed hosts named; the rest are counted, so the line fits 80 columns


class ScanProgress(Horizontal):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.failed: list[str] = []

    def compose(self) -> ComposeResult:
        yield ProgressBar(show_percentage=False, show_eta=False)  # the status line counts
        yield Static("", classes="failed")

    @property
    def bar(self) -> ProgressBar:
        return self.query_one(ProgressBar)

    def start(self, total: int) -> None:
        self.failed = []
        self.bar.update(total=total, progress=0)
        self._show_failed()
        self.display = True

    def advance(self, host: str, ok: bool) -> None:
        """One more host answered (or did not)."""
        if not ok:
            self.failed.append(host)
            self._show_failed()
        self.bar.advance(1)

    def finish(self) -> None:
        self.display = False

    def _show_failed(self) -> None:
        failed = self.failed
        label = self.query_one(".failed", Static)
        label.display = bool(failed)
        self.set_class(bool(failed), "-failed")
        more = f" +{len(failed) - NAMED}" if len(failed) > NAMED else ""
        # Text, never markup: a host's name is the operator's to choose.
        label.update(Text(visible(f"✗ {', '.join(failed[:NAMED])}{more}")))
