"""What a fleet command shows while it waits: a progress bar on a terminal, else a line per host.

The bar is rich's, loaded from `tables` only when there is a terminal to draw it on.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from cronops.visible import visible

if TYPE_CHECKING:
    from rich.progress import Progress

    from cronops.scan import HostReport, HostScan


class FleetProgress:
    """A progress bar on a terminal; otherwise one plain line per host (or nothing, when quiet)."""

    def __init__(self, total: int, label: str, *, plain_lines: bool, file: TextIO | None = None):
        self.out = file or sys.stderr
        self.plain_lines = plain_lines
        self.bar: Progress | None = None
        if self.out.isatty():
            from cronops.tables import progress_bar  # rich, for a person watching

            self.bar = progress_bar(self.out)
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
            self.bar.update(self.task, description=visible(f"{report.host.name}: {report.status}"))
        elif self.plain_lines:
            error = f" ({report.error})" if report.error else ""
            print(visible(f"{report.host.name}: {report.status}{error}"), file=self.out, flush=True)
