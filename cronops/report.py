"""What the CLI prints: tables for a person at a terminal, JSON for scripts, progress while waiting.

Colours are the terminal's own named colours, so they read in light and dark themes and vanish when piped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cronops.scan import HostReport
from cronops.transport import HostStatus

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
    host = report.host
    entry: dict[str, Any] = {
        "name": host.name,
        "address": host.address,
        "port": host.port,
        "status": str(report.status),
        "error": report.error,
        "latency_ms": report.latency_ms,
    }
    if report.result:
        facts = report.result.facts
        entry |= {
            "hostname": facts.hostname,
            "timezone": facts.zone_name,
            "clock_skew_s": facts.skew.total_seconds(),
        }
    return entry


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
            report.host.name,
            report.host.target,
            f"[{STATUS_STYLE[report.status]}]{report.status}[/]",
            f"{report.latency_ms:.0f} ms" if report.latency_ms is not None else "-",
            _detail(report),
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

    def done(self, report: HostReport) -> None:
        if self.bar:
            self.bar.advance(self.task)
            self.bar.update(self.task, description=f"{report.host.name}: {report.status}")
        elif self.plain_lines:
            error = f" ({report.error})" if report.error else ""
            print(f"{report.host.name}: {report.status}{error}", file=self.out.file, flush=True)
